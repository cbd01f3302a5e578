#!/usr/bin/env bash
# The cost of writing history (issue 13: every event appended to state.db) in the worst case for it: a crash loop.
# One child that exits 1 at once, restarted with `schedule: [1ms]`, for a fixed time, with `history: false` (off) and
# with the default history (on); rounds interleaved (off, on, off, …) so a noisy spell hits both alike. Per variant:
# restarts per second, Vigil's own CPU per restart, and for "on" how many of the restarts the history counted
# (`vigil status crash --json`, its lifetime window) and the database's size: a writer that fell behind would show
# there as a shortfall (events dropped from its bounded queue).
#
#   bench/history.sh                          3 rounds of 10 s each, the AOT build (scripts/publish); writes bench/RESULTS-history.md
#   CRASH_SECONDS=20 CRASH_ROUNDS=5 bench/history.sh
#   VIGIL=PATH bench/history.sh              use this build instead of building one
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
SECONDS_EACH=${CRASH_SECONDS:-10}
ROUNDS=${CRASH_ROUNDS:-3}
OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-history.md}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

command -v cc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null; }
cc -O2 -Wall -o "$WORK/vb-crash" "$BENCH_DIR/src/vb-crash.c"
VIGIL=${VIGIL:-$("$REPO/scripts/publish" "$WORK/build")}

# run VARIANT ROUND: one crash loop for SECONDS_EACH; appends "variant restarts cpu_ticks recorded db_bytes" to $WORK/runs.
run() {
    local variant=$1 round=$2 dir=$WORK/$1-$2 history=false
    mkdir -p "$dir"
    [[ $variant == on ]] && history=true
    printf 'processes:\n  - name: crash\n    command: ["%s", "%s"]\n    restart: { schedule: [1ms] }\nhistory: %s\n' \
        "$WORK/vb-crash" "$dir/stamps" "$history" > "$dir/vigil.yaml"
    XDG_RUNTIME_DIR="$dir" XDG_STATE_HOME="$dir/state" "$VIGIL" run -c "$dir/vigil.yaml" > "$dir/out" 2>&1 &
    local pid=$!
    sleep 1 # start-up is not part of the loop's cost
    local s0 t0 s1 t1 r0=0 r1=0
    [[ $variant == on ]] && r0=$(recorded "$dir")
    s0=$(grep -c '^S' "$dir/stamps" || true); t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    sleep "$SECONDS_EACH"
    s1=$(grep -c '^S' "$dir/stamps" || true); t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    [[ $variant == on ]] && r1=$(recorded "$dir")
    kill -TERM "$pid"; wait "$pid" || true
    local bytes=0
    [[ $variant == on ]] && bytes=$(du -cb "$dir"/state/vigil/*/state.db* | tail -1 | cut -f1)
    echo "$variant $((s1 - s0)) $((t1 - t0)) $((r1 - r0)) $bytes" >> "$WORK/runs"
    log "  $variant round $round: $((s1 - s0)) restarts, $((t1 - t0)) CPU ticks, history counted $((r1 - r0)), $bytes bytes"
}

# The restarts the history counts (lifetime window of `vigil status crash --json`); its reply waits for the queue.
recorded() {
    XDG_RUNTIME_DIR="$1" "$VIGIL" status crash -c "$1/vigil.yaml" --json \
        | grep -o '"restarts":[0-9]*' | tail -1 | cut -d: -f2
}

variants=(off on)
for ((r = 1; r <= ROUNDS; r++)); do for v in "${variants[@]}"; do run "$v" "$r"; done; done

hz=$(getconf CLK_TCK)
{
    echo "# Crash-loop cost of history"
    echo
    echo "- command: \`CRASH_SECONDS=$SECONDS_EACH CRASH_ROUNDS=$ROUNDS bench/history.sh\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: nproc $(nproc), kernel $(uname -r); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- build: the AOT build of \`$(git -C "$REPO" rev-parse --short HEAD)\`; \`history: false\` (off) against the default history (on: state.db, WAL, synchronous=NORMAL)"
    echo "- one child (bench/src/vb-crash.c) that exits 1 at once, \`schedule: [1ms]\`; $ROUNDS rounds of $SECONDS_EACH s per variant, interleaved."
    echo "  CPU = Vigil's utime+stime over the window. Counted = the restarts the history's statistics show over the window."
    echo
    echo "| variant | restarts/s | Vigil CPU ms per restart | Vigil CPU % of a core | counted by history | state.db bytes per restart | restarts/s ×off |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    base=""
    for v in "${variants[@]}"; do
        read -r n ticks rec bytes < <(awk -v v="$v" '$1==v {n+=$2; t+=$3; r+=$4; b+=$5} END{print n, t, r, b}' "$WORK/runs")
        total=$((SECONDS_EACH * ROUNDS))
        rps=$(awk -v n="$n" -v s="$total" 'BEGIN{printf "%.0f", n/s}')
        [[ -n $base ]] || base=$rps
        cpu=$(awk -v t="$ticks" -v n="$n" -v hz="$hz" 'BEGIN{printf "%.3f", n ? t*1000/hz/n : 0}')
        pcore=$(awk -v t="$ticks" -v s="$total" -v hz="$hz" 'BEGIN{printf "%.0f", t/hz/s*100}')
        counted=-; per=-
        [[ $v == on ]] && counted=$(awk -v r="$rec" -v n="$n" 'BEGIN{printf "%d of %d", r, n}') && per=$(awk -v b="$bytes" -v n="$n" 'BEGIN{printf "%.0f", n ? b/n : 0}')
        echo "| $v | $rps | $cpu | $pcore | $counted | $per | $(awk -v a="$rps" -v b="$base" 'BEGIN{printf "%.2f×", a/b}') |"
    done
} > "$OUT"
cat "$OUT"
