#!/usr/bin/env bash
# The cost of membership tracking in a crash loop: one child that exits 1 at once, restarted with `schedule: [1ms]`,
# for a fixed time; restarts per second, Vigil's own CPU per restart and the restart latency, for
#   before  - a build of the commit before the tracking change (BEFORE_REF, default 2f74a65: session/descendant walk)
#   cgroup  - this tree, one cgroup v2 per run (needs a writable cgroup v2 hierarchy, e.g. as root)
#   marker  - this tree with VIGIL_TRACKING=marker (the inherited VIGIL_SCOPE marker + walk)
# in one run, rounds interleaved (before, cgroup, marker, before, …) so a noisy spell hits all three alike.
#
#   bench/crashloop.sh                    3 rounds of 10 s each, writes bench/RESULTS-crashloop.md
#   CRASH_SECONDS=20 CRASH_ROUNDS=5 bench/crashloop.sh
#   VIGIL=PATH VIGIL_BEFORE=PATH          use these builds instead of building them (scripts/publish)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
SECONDS_EACH=${CRASH_SECONDS:-10}
ROUNDS=${CRASH_ROUNDS:-3}
BEFORE_REF=${BEFORE_REF:-2f74a65}
OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-crashloop.md}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; git -C "$REPO" worktree remove --force "$WORK/before-src" 2>/dev/null || true' EXIT
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

command -v cc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null; }
cc -O2 -Wall -o "$WORK/vb-crash" "$BENCH_DIR/src/vb-crash.c"

VIGIL=${VIGIL:-$("$REPO/scripts/publish" "$WORK/after")}
if [[ -z ${VIGIL_BEFORE:-} ]]; then
    log "building $BEFORE_REF (before the tracking change)"
    git -C "$REPO" worktree add -q --detach "$WORK/before-src" "$BEFORE_REF"
    VIGIL_BEFORE=$("$WORK/before-src/scripts/publish" "$WORK/before")
fi

# run VARIANT ROUND: one crash loop for SECONDS_EACH; appends "variant restarts cpu_ticks" to $WORK/runs and the
# latencies (ms, next start - previous exit) to $WORK/lat-VARIANT.
run() {
    local variant=$1 round=$2 bin=$VIGIL env=() dir=$WORK/$1-$2
    mkdir -p "$dir"
    [[ $variant == before ]] && bin=$VIGIL_BEFORE
    [[ $variant == marker ]] && env=(VIGIL_TRACKING=marker)
    printf 'processes:\n  - name: crash\n    command: ["%s", "%s"]\n    restart: { schedule: [1ms] }\n' \
        "$WORK/vb-crash" "$dir/stamps" > "$dir/vigil.yaml"
    env "${env[@]}" XDG_RUNTIME_DIR="$dir" "$bin" run -c "$dir/vigil.yaml" > "$dir/out" 2>&1 &
    local pid=$!
    sleep 1 # start-up is not part of the loop's cost
    local s0 t0 s1 t1
    s0=$(grep -c '^S' "$dir/stamps" || true); t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    sleep "$SECONDS_EACH"
    s1=$(grep -c '^S' "$dir/stamps" || true); t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$variant $((s1 - s0)) $((t1 - t0))" >> "$WORK/runs"
    awk '$1=="E"{e=$2; next} $1=="S" && e {printf "%.3f\n", ($2-e)/1e6; e=0}' "$dir/stamps" >> "$WORK/lat-$variant"
    log "  $variant round $round: $((s1 - s0)) restarts, $((t1 - t0)) CPU ticks"
}

variants=(before cgroup marker)
for ((r = 1; r <= ROUNDS; r++)); do for v in "${variants[@]}"; do run "$v" "$r"; done; done

hz=$(getconf CLK_TCK)
pct() { sort -g | awk -v p="$1" '{v[NR]=$1} END{ if (!NR) exit; h=(NR-1)*p/100; l=int(h); u=(l+1<NR)?l+1:l;
    printf "%.2f", v[l+1]+(h-l)*(v[u+1]-v[l+1]) }'; }
{
    echo "# Crash-loop cost of membership tracking"
    echo
    echo "- command: \`CRASH_SECONDS=$SECONDS_EACH CRASH_ROUNDS=$ROUNDS bench/crashloop.sh\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: nproc $(nproc), kernel $(uname -r); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- before: \`$BEFORE_REF\` (session + descendant walk); after: \`$(git -C "$REPO" rev-parse --short HEAD)\` with cgroup v2 per run, and with VIGIL_TRACKING=marker"
    echo "- one child (bench/src/vb-crash.c) that exits 1 at once, \`schedule: [1ms]\`; $ROUNDS rounds of $SECONDS_EACH s per variant, interleaved."
    echo "  Latency = next start − previous exit (includes the 1 ms delay). CPU = Vigil's utime+stime over the window."
    echo
    echo "| variant | restarts/s | Vigil CPU ms per restart | Vigil CPU % of a core | median latency ms | p90 ms | restarts/s ×before |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    base=""
    for v in "${variants[@]}"; do
        read -r n ticks < <(awk -v v="$v" '$1==v {n+=$2; t+=$3} END{print n, t}' "$WORK/runs")
        total=$((SECONDS_EACH * ROUNDS))
        rps=$(awk -v n="$n" -v s="$total" 'BEGIN{printf "%.0f", n/s}')
        [[ -n $base ]] || base=$rps
        cpu=$(awk -v t="$ticks" -v n="$n" -v hz="$hz" 'BEGIN{printf "%.3f", n ? t*1000/hz/n : 0}')
        pcore=$(awk -v t="$ticks" -v s="$total" -v hz="$hz" 'BEGIN{printf "%.0f", t/hz/s*100}')
        echo "| $v | $rps | $cpu | $pcore | $(pct 50 < "$WORK/lat-$v") | $(pct 90 < "$WORK/lat-$v") | $(awk -v a="$rps" -v b="$base" 'BEGIN{printf "%.2f×", a/b}') |"
    done
} > "$OUT"
cat "$OUT"
