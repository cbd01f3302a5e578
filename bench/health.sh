#!/usr/bin/env bash
# Health-probe benchmark of Vigil (issue 4): how fast each probe kind detects a hang, what probing costs,
# and monit on the heartbeat-file case.
#
#   bench/health.sh                  full run (~10 min), writes bench/RESULTS-health.md
#   BENCH_QUICK=1 bench/health.sh    5 hangs per kind, 20 units and a 10 s window for the cost (~3 min);
#                                    writes bench/RESULTS-health-quick.md (not committed)
#
# Environment:
#   VIGIL=PATH            the vigil binary (default: scripts/publish in this repo, the build that ships)
#   BENCH_ONLY="..."      subset of: latency cost monit (default: all three)
#   BENCH_COST_N=N        units in the cost measure (default 100; quick 20)
#   BENCH_COST_ROWS="..." cost rows, of: none exec stall output-stall heartbeat-file memory (default: all six)
#   BENCH_OUT=FILE        where to write the Markdown report
#   BENCH_KEEP=1          keep the temporary work folder (configs, vigil output, stamp files)
#
# Measures (see bench/README.md, "health.sh", for the method and the decisions behind it):
#   1. detection latency per probe kind: N units of one kind at once, each hangs once; from the moment the
#      child stopped doing its job (its own CLOCK_REALTIME stamp, or its last heartbeat's mtime) to the
#      `unhealthy` event `vigil run` prints; median and worst against timeout + one period
#   2. Vigil's CPU and RSS with 100 units probed every second (exec `true`; output-stall + heartbeat-file +
#      memory) against the same 100 units without probes
#   3. heartbeat-file: monit (`check file … if timestamp > 3 seconds then exec`, `set daemon 1`) vs Vigil
#      (`heartbeat-file`, timeout 3s): last heartbeat → restarted process
# Needs root for apt-get (only when monit or a C compiler is missing).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
QUICK=${BENCH_QUICK:-0}
ONLY=(${BENCH_ONLY:-latency cost monit})
if [[ $QUICK == 1 ]]; then
    N=5 COST_N=20 COST_SETTLE=5 COST_WIN=10
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-health-quick.md}
else
    N=20 COST_N=100 COST_SETTLE=10 COST_WIN=60
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-health.md}
fi
COST_N=${BENCH_COST_N:-$COST_N}
T_MS=2000          # latency measure: every probe's timeout / window
P_MS=500           # … and period
MEM_F=4            # memory: failureThreshold (samples over max in a row)
HANG_MS=4000       # unit i (0-based) hangs HANG_MS + i × JITTER_MS after its start …
JITTER_MS=50       # … so the hangs fall on every phase of the probe period (and of monit's 1 s cycle)
CPU_GAP_MS=3050    # cpu max: unit i spins from HANG_MS + i × CPU_GAP_MS (one spinner at a time: 2 cores)
STOP_GRACE=1s      # stop: { timeout } of every unit (a SIGSTOPped child needs the SIGKILL)
WAIT_MS=60000
CLK_TCK=$(getconf CLK_TCK)
RUN_START=$EPOCHREALTIME
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CMDLINE="$(for v in VIGIL BENCH_QUICK BENCH_ONLY BENCH_COST_N BENCH_COST_ROWS BENCH_OUT; do [[ -z ${!v:-} ]] || printf '%s=%q ' "$v" "${!v}"; done)bench/health.sh${*:+ $*}"

log() { printf '[%6.1fs] %s\n' "$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "error: $*"; exit 1; }
only() { [[ " ${ONLY[*]} " == *" $1 "* ]]; }
for m in "${ONLY[@]}"; do case $m in latency|cost|monit) ;; *) die "unknown BENCH_ONLY '$m' (latency cost monit)";; esac; done

# ---------------------------------------------------------------------------------------------- installs
need=()
command -v cc >/dev/null || need+=(gcc libc6-dev)
if only monit; then command -v monit >/dev/null || need+=(monit); fi
if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------------------------- work dir
WORK=$(mktemp -d /tmp/vigil-bench-health.XXXXXX)
BIN=$WORK/bin
mkdir -p "$BIN"
for p in pwatch vh-hang vh-ping; do cc -O2 -Wall -o "$BIN/$p" "$BENCH_DIR/src/$p.c"; done
PW=$BIN/pwatch

# Only processes of this script are ever signalled: cmdline or cwd under the work folder (every child gets a
# path under it in its argv). The comm prefix "/" matches nothing. The children are named vh-* rather than vb-*
# on purpose: run.sh's clean-up SIGKILLs every process whose comm starts with vb- (and refuses to start while one
# runs), so with vb-* names a run.sh of another checkout would kill this script's children mid-measure.
stale=$("$PW" ours /tmp/vigil-bench-health. / | grep -v "$WORK" || true)
[[ -z $stale ]] || die "processes of an earlier bench/health.sh run are still running; end them first:
$stale"

VIGIL_PID= MONIT_PIDS=()
cleanup() {
    local rc=$? left
    set +e
    trap - EXIT INT TERM HUP; trap '' PIPE
    [[ -n $VIGIL_PID ]] && kill -KILL "$VIGIL_PID" 2>/dev/null
    ((${#MONIT_PIDS[@]})) && kill -KILL "${MONIT_PIDS[@]}" 2>/dev/null
    kill_ours
    wait 2>/dev/null
    left=$("$PW" ours "$WORK" /)
    if [[ -n $left ]]; then
        log "LEFTOVER processes after clean-up (not ended):"; echo "$left" >&2
    else
        log "clean: no vigil, monit or child of this run is left running"
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM; trap 'exit 129' HUP; trap 'exit 141' PIPE

kill_ours() {   # SIGKILL every process of this run (SIGKILL also ends a SIGSTOPped one)
    local pids i
    for i in 1 2 3; do
        pids=$("$PW" ours "$WORK" / | awk '{print $1}')
        [[ -z $pids ]] && return 0
        kill -KILL $pids 2>/dev/null || true
        sleep 0.2
    done
    return 0
}

# Stop `vigil run` (SIGTERM: it stops every child, then exits), bounded; then end anything left.
stop_vigil() {
    [[ -n $VIGIL_PID ]] || return 0
    kill -TERM "$VIGIL_PID" 2>/dev/null || true
    "$PW" gone 30000 "$VIGIL_PID" >/dev/null || { log "  vigil did not stop within 30 s: SIGKILL"; kill -KILL "$VIGIL_PID" 2>/dev/null || true; }
    wait "$VIGIL_PID" 2>/dev/null || true
    VIGIL_PID=
    kill_ours
}

# `vigil run -c DIR/vigil.yaml` in DIR, printing events (UTC times, so they compare with the stamps) to DIR/vigil.out.
start_vigil() {
    local dir=$1
    (cd "$dir" && TZ=UTC exec "$VIGIL" run -c "$dir/vigil.yaml") >"$dir/vigil.out" 2>"$dir/vigil.err" &
    VIGIL_PID=$!
}

# ---------------------------------------------------------------------------------------------- vigil
if [[ -z ${VIGIL:-} ]]; then
    log "scripts/publish (Vigil as it ships: ReadyToRun)"
    VIGIL=$("$REPO/scripts/publish") || die "building Vigil failed (scripts/publish)"
fi
[[ -x $VIGIL ]] || die "VIGIL=$VIGIL is not an executable"
VIGIL=$(realpath "$VIGIL")

# ---------------------------------------------------------------------------------------------- helpers
pct() { awk -v p="$1" '{v[NR]=$1} END{ if (!NR) exit; h=(NR-1)*p/100; l=int(h); u=(l+1<NR)?l+1:l;
    printf "%.0f\n", v[l+1]+(h-l)*(v[u+1]-v[l+1]) }'; }
worst() { awk 'NR==1||$1>m{m=$1} END{if (NR) printf "%.0f\n", m}'; }

# Free loopback ports: COUNT consecutive ports below the ephemeral range that nobody listens on.
free_ports() {
    local count=$1 base p ok try
    for try in $(seq 1 50); do
        base=$((20000 + RANDOM % 12000))
        ok=1
        for ((p = base; p < base + count; p++)); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ok=0; break; fi
        done
        ((ok)) && { echo "$base"; return 0; }
    done
    die "no $count free consecutive loopback ports found"
}

# analyse DIR: one line per unit that hung — NAME TO_DETECT_MS TO_RESTART_MS ("-" when not seen) — then
# "early N" (unhealthy events of processes that had not hung, or monit restarts before the hang: false positives). Stamps: DIR/NAME.stamps
# ("S pid ns" at start, "H pid ns" at the hang, "R ns" when monit's restart script ran); detection = the
# `unhealthy` line of the hung PID in DIR/vigil.out (HH:mm:ss.fff, UTC), or R (monit).
analyse() {
    local dir=$1 files=("$1"/*.stamps)
    [[ -f $dir/vigil.out ]] && files+=("$dir/vigil.out")
    awk '
        function sec(ns) { return substr(ns, 1, length(ns) - 9) + substr(ns, length(ns) - 8) / 1e9 }
        FILENAME ~ /\.stamps$/ {
            n = FILENAME; sub(/.*\//, "", n); sub(/\.stamps$/, "", n)
            if ($1 == "H") { H[n] = sec($3); hp[n] = $2; hung[$2] = 1 }
            else if ($1 == "S") { ns[n]++; S[n, ns[n]] = sec($3) }
            else if ($1 == "R") { nr[n]++; R[n, nr[n]] = sec($2) }
            next
        }
        $3 == "unhealthy:" {
            split($2, w, "#"); split($1, t, ":")
            if (!(w[2] in U)) U[w[2]] = t[1] * 3600 + t[2] * 60 + t[3]
        }
        END {
            early = 0
            for (p in U) if (!(p in hung)) early++
            for (n in nr) if (R[n, 1] < H[n] || !(n in H)) early++   # monit acted before the hang
            for (n in H) {
                h = H[n]; p = hp[n]; d = "-"
                if (p in U) { u = int(h / 86400) * 86400 + U[p]; if (u < h - 43200) u += 86400; d = sprintf("%.1f", (u - h) * 1000) }
                else for (k = 1; k <= nr[n]; k++) if (R[n, k] > h) { d = sprintf("%.1f", (R[n, k] - h) * 1000); break }
                r = "-"
                for (k = 1; k <= ns[n]; k++) if (S[n, k] > h) { r = sprintf("%.1f", (S[n, k] - h) * 1000); break }
                print n, d, r
            }
            print "early", early
        }' "${files[@]}" 2>/dev/null
}
# Children that ended without Vigil stopping them (an exit reason without "(…)"): a crash, or a kill from outside.
died_count() { grep -cE ' (killed|exited): [^(]*$' "$1/vigil.out" || true; }
detected_count() { analyse "$1" | awk '$1 != "early" && $2 != "-"' | wc -l; }
restarted_count() { analyse "$1" | awk '$1 != "early" && $3 != "-"' | wc -l; }

declare -A R   # R[key] = value
KINDS=(output-stall heartbeat-file exec http tcp progress memory cpu-max cpu-min sd-notify)

# unit_of KIND I DIR PORT_BASE → sets U_CMD (YAML flow list), U_PROBE (YAML flow mapping), U_HANG (ms)
unit_of() {
    local kind=$1 i=$2 dir=$3 pb=$4 mode arg=
    local st="$dir/u$i.stamps" t="timeout: ${T_MS}ms, period: ${P_MS}ms"
    U_HANG=$((HANG_MS + i * JITTER_MS))
    case $kind in
        output-stall)   mode=out;    U_PROBE="{ kind: output-stall, $t }" ;;
        heartbeat-file) mode=beat;   arg=$dir/u$i.beat; U_PROBE="{ kind: heartbeat-file, path: \"$arg\", $t }" ;;
        exec)           mode=ping;   arg=$dir/u$i.sock; U_PROBE="{ kind: exec, command: [\"$BIN/vh-ping\", \"$arg\"], $t, failureThreshold: 1, initialDelay: ${P_MS}ms }" ;;
        http)           mode=http;   arg=$((pb + i));   U_PROBE="{ kind: http, url: \"http://127.0.0.1:$arg/health\", $t, failureThreshold: 1, initialDelay: ${P_MS}ms }" ;;
        tcp)            mode=tcp;    arg=$((pb + i));   U_PROBE="{ kind: tcp, address: \"127.0.0.1:$arg\", $t, failureThreshold: 1, initialDelay: ${P_MS}ms }" ;;
        progress)       mode=append; arg=$dir/u$i.out;  U_PROBE="{ kind: progress, file: \"$arg\", $t }" ;;
        memory)         mode=alloc;  arg=67108864;      U_PROBE="{ kind: memory, max: 64MB, period: ${P_MS}ms, failureThreshold: $MEM_F }" ;;
        cpu-max)        mode=busy;   U_PROBE="{ kind: cpu, max: 50%, window: ${T_MS}ms, period: ${P_MS}ms }"
                        U_HANG=$((HANG_MS + i * CPU_GAP_MS)) ;;
        cpu-min)        mode=stop;   U_PROBE="{ kind: cpu, min: 1%, window: ${T_MS}ms, period: ${P_MS}ms }" ;;
        sd-notify)      mode=notify; U_PROBE="{ kind: sd-notify, watchdog: ${T_MS}ms, period: ${P_MS}ms }" ;;
    esac
    U_CMD="[\"$BIN/vh-hang\", \"$mode\", \"$st\", \"$U_HANG\", \"100\"${arg:+, \"$arg\"}]"
}
# The bound the issue sets: timeout + one period (memory: failureThreshold samples in a row, one period apart,
# the first within a period of the crossing: failureThreshold × period).
bound_of() { case $1 in memory) echo $((MEM_F * P_MS));; *) echo $((T_MS + P_MS));; esac; }
probe_text() {   # the probe as configured, for the report
    unit_of "$1" 0 DIR 30000
    sed -e 's/"[^"]*vh-ping"/vh-ping/; s/"DIR\/u0\.\([a-z]*\)"/u.\1/g; s/30000/PORT/; s/"//g' <<<"$U_PROBE"
}
helper_text() {
    case $1 in
        output-stall) echo "prints a line every 100 ms, then stops (H = the last line)";;
        heartbeat-file) echo "touches the file every 100 ms, then stops (H = the last touch's mtime)";;
        exec) echo "answers ping on a unix socket, then stops accepting (probe: \`vh-ping\`, waits until killed)";;
        http) echo "answers GET with 200, then stops accepting (the socket stays open)";;
        tcp) echo "accepts, then closes its listener (refused)";;
        progress) echo "appends a line every 100 ms, then stops (H = the last append)";;
        memory) echo "touches memory 1 MiB at a time (H = RSS passed 64 MiB), up to +16 MiB";;
        cpu-max) echo "idle, then spins (one unit at a time, ${CPU_GAP_MS} ms apart)";;
        cpu-min) echo "spins 2 ms of every 50 ms (~4%), then SIGSTOPs itself";;
        sd-notify) echo "READY=1, WATCHDOG=1 every 100 ms, then stops (H = the last WATCHDOG=1)";;
    esac
}

# ---------------------------------------------------------------------------------------------- 1. latency
measure_latency() {
    local kind=$1 dir=$WORK/lat/$kind pb=0 i last deadline n lat
    mkdir -p "$dir"
    [[ $kind == http || $kind == tcp ]] && pb=$(free_ports "$N")
    {
        echo "processes:"
        for ((i = 0; i < N; i++)); do
            unit_of "$kind" "$i" "$dir" "$pb"
            echo "  - name: u$i"
            echo "    command: $U_CMD"
            echo "    stop: { signal: TERM, timeout: $STOP_GRACE }"
            echo "    health:"
            echo "      - $U_PROBE"
        done
    } >"$dir/vigil.yaml"
    last=$U_HANG
    start_vigil "$dir"
    deadline=$((${EPOCHREALTIME/./} / 1000 + last + 20000))
    while :; do
        sleep 0.25
        n=$(detected_count "$dir")
        ((n >= N)) && break
        if ! kill -0 "$VIGIL_PID" 2>/dev/null; then log "  $kind: vigil exited: $(tail -3 "$dir/vigil.err" "$dir/vigil.out" | paste -sd'|')"; break; fi
        ((${EPOCHREALTIME/./} / 1000 > deadline)) && { log "  $kind: only $n of $N hangs detected within $((last / 1000 + 20)) s"; break; }
    done
    sleep 1.5   # the restarts of the last units (stop, backoff 100 ms, spawn)
    stop_vigil
    analyse "$dir" >"$dir/result"
    lat=$(awk '$1 != "early" && $2 != "-" {print $2}' "$dir/result" | sort -g)
    R[$kind.n]=$(grep -c . <<<"$lat" || true)
    R[$kind.hung]=$(awk '$1 != "early"' "$dir/result" | wc -l)
    R[$kind.early]=$(awk '$1 == "early" {print $2}' "$dir/result")
    R[$kind.med]=$(pct 50 <<<"$lat")
    R[$kind.worst]=$(worst <<<"$lat")
    R[$kind.min]=$(head -1 <<<"$lat" | awk '{printf "%.0f", $1}')
    R[$kind.in]=$(awk -v b="$(bound_of "$kind")" '$1 <= b' <<<"$lat" | wc -l)
    R[$kind.restart]=$(awk '$1 != "early" && $3 != "-" {print $3}' "$dir/result" | sort -g | pct 50)
    R[$kind.died]=$(died_count "$dir")
    R[$kind.reason]=$(grep -m1 ' unhealthy: ' "$dir/vigil.out" | sed 's/^[^ ]* [^ ]* unhealthy: //' || true)
    log "  $kind: ${R[$kind.n]}/$N detected, median ${R[$kind.med]:-–} ms, worst ${R[$kind.worst]:-–} ms (bound $(bound_of "$kind") ms), early ${R[$kind.early]:-0}"
}

# ---------------------------------------------------------------------------------------------- 2. cost
proc_ticks() {  # PID → "OWN CHILDREN": utime+stime, cutime+cstime (reaped children: the exec probes)
    local s; s=$(<"/proc/$1/stat"); s=${s##*) }
    set -- $s
    echo "$((${12} + ${13})) $((${14} + ${15}))"
}
# Rows: the two of the issue (exec; output-stall + heartbeat-file + memory), then each of the three alone.
nprocs() { local d n=0; for d in /proc/[0-9]*; do n=$((n + 1)); done; echo "$n"; }   # processes on the machine
COST_ROWS=(${BENCH_COST_ROWS:-none exec stall output-stall heartbeat-file memory})
cost_label() {
    case $1 in
        none) echo "no probes";;
        exec) echo "exec \`true\`";;
        stall) echo "output-stall + heartbeat-file + memory";;
        *) echo "$1 only";;
    esac
}
cost_checks() { case $1 in none) echo 0;; stall) echo $((3 * COST_N));; *) echo "$COST_N";; esac; }
cost_probes() {   # ROW I DIR → the health: lines of unit I (every probe every 1 s)
    local exec="{ kind: exec, command: [true], period: 1s, timeout: 1s }"
    local out="{ kind: output-stall, timeout: 5s, period: 1s }"
    local hb="{ kind: heartbeat-file, path: \"$3/u$2.beat\", timeout: 5s, period: 1s }"
    local mem="{ kind: memory, max: 1GB, period: 1s }"
    [[ $1 == none ]] && return 0
    echo "    health:"
    case $1 in
        exec) echo "      - $exec" ;;
        stall) printf '      - %s\n' "$out" "$hb" "$mem" ;;
        output-stall) echo "      - $out" ;;
        heartbeat-file) echo "      - $hb" ;;
        memory) echo "      - $mem" ;;
        *) die "unknown cost row '$1' (none exec stall output-stall heartbeat-file memory)" ;;
    esac
}
measure_cost() {
    local row=$1 dir=$WORK/cost/$1 i t0 t1 c0 c1 u1 p0
    mkdir -p "$dir"
    {
        echo "processes:"
        for ((i = 0; i < COST_N; i++)); do
            echo "  - name: u$i"
            echo "    command: [\"$BIN/vh-hang\", \"cost\", \"$dir/u$i.stamps\", \"-1\", \"1000\", \"$dir/u$i.beat\"]"
            echo "    stop: { signal: TERM, timeout: $STOP_GRACE }"
            cost_probes "$row" "$i" "$dir"
        done
    } >"$dir/vigil.yaml"
    start_vigil "$dir"
    if ! PWATCH_ALIVE=$VIGIL_PID "$PW" until ge "$COST_N" "$WAIT_MS" vh-hang >/dev/null; then
        log "  cost $row: $COST_N children not running; $(tail -3 "$dir/vigil.err" | paste -sd'|')"
        stop_vigil; return 0
    fi
    sleep "$COST_SETTLE"
    t0=$EPOCHREALTIME; c0=$(proc_ticks "$VIGIL_PID"); p0=$(nprocs)
    sleep "$COST_WIN"
    t1=$EPOCHREALTIME; c1=$(proc_ticks "$VIGIL_PID"); u1=$("$PW" usage "$VIGIL_PID")
    R[cost.$row.procs]="$p0/$(nprocs)"
    R[cost.$row.cpu]=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.3f", (y[1]-x[1])/hz/(t1-t0)*100}')
    R[cost.$row.kids]=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.3f", (y[1]+y[2]-x[1]-x[2])/hz/(t1-t0)*100}')
    R[cost.$row.rss]=$(awk '{printf "%.1f", $1/1024}' <<<"$u1")
    R[cost.$row.pss]=$(awk '{printf "%.1f", $2/1024}' <<<"$u1")
    R[cost.$row.threads]=$(awk '/^Threads:/{print $2}' "/proc/$VIGIL_PID/status")
    stop_vigil
    R[cost.$row.unhealthy]=$(grep -c ' unhealthy: ' "$dir/vigil.out" || true)
    R[cost.$row.died]=$(died_count "$dir")
    log "  cost $row: CPU ${R[cost.$row.cpu]} % (with probe processes ${R[cost.$row.kids]} %), RSS ${R[cost.$row.rss]} MiB, unhealthy events ${R[cost.$row.unhealthy]}"
}

# ---------------------------------------------------------------------------------------------- 3. monit
measure_monit() {
    local dir=$WORK/monit i deadline
    mkdir -p "$dir"
    cat >"$dir/restart.sh" <<EOF
#!/bin/sh
# monit's exec action for beater \$1: note the time, SIGKILL the hung beater, start a new one (it never hangs:
# \$1.stamps.hung exists).
st="$dir/b\$1.stamps"
echo "R \$(date +%s%N)" >>"\$st"
pid=\$(awk '\$1=="S" {p=\$2} END {print p}' "\$st")
[ -n "\$pid" ] && kill -KILL "\$pid" 2>/dev/null
cd "$dir" && setsid "$BIN/vh-hang" beat "\$st" $HANG_MS 100 "$dir/b\$1.beat" </dev/null >/dev/null 2>&1 &
EOF
    chmod +x "$dir/restart.sh"
    # One monit per beater, each started at its own phase of the second: monit's verdict depends both on where
    # in the second the last beat fell (the mtime it compares is whole seconds) and on where its own 1 s cycle
    # falls, and one monit for all beaters would sample only one phase of its cycle. Beater i hangs at offset
    # i × JITTER_MS, its monit starts at offset ((7 i) mod N) × 1000/N ms: the two phases do not move together.
    for ((i = 0; i < N; i++)); do
        {
            echo "set daemon 1"
            echo "set logfile $dir/monit$i.log"
            echo "set pidfile $dir/monit$i.pid"
            echo "set idfile $dir/monit$i.id"
            echo "set statefile $dir/monit$i.state"
            echo "check file b$i with path $dir/b$i.beat"
            echo "    if timestamp > 3 seconds then exec \"$dir/restart.sh $i\""
        } >"$dir/monitrc$i"
        chmod 600 "$dir/monitrc$i"
    done
    for ((i = 0; i < N; i++)); do
        (cd "$dir" && exec setsid "$BIN/vh-hang" beat "$dir/b$i.stamps" $((HANG_MS + 1000 + i * JITTER_MS)) 100 "$dir/b$i.beat") </dev/null >/dev/null 2>&1 &
    done
    MONIT_PIDS=()
    for ((i = 0; i < N; i++)); do
        (sleep "$(awk -v j=$(((7 * i) % N)) -v n="$N" 'BEGIN{printf "%.3f", 0.3 + j / n}')"
         exec monit -I -c "$dir/monitrc$i") >"$dir/monit$i.out" 2>&1 &
        MONIT_PIDS+=($!)
    done
    deadline=$((${EPOCHREALTIME/./} / 1000 + HANG_MS + 2000 + N * JITTER_MS + 30000))
    while (($(restarted_count "$dir") < N)) && ((${EPOCHREALTIME/./} / 1000 < deadline)); do sleep 0.25; done
    kill -TERM "${MONIT_PIDS[@]}" 2>/dev/null || true
    "$PW" gone 10000 "${MONIT_PIDS[@]}" >/dev/null || kill -KILL "${MONIT_PIDS[@]}" 2>/dev/null || true
    wait "${MONIT_PIDS[@]}" 2>/dev/null || true
    MONIT_PIDS=()
    kill_ours
    analyse "$dir" >"$dir/result"
    mv "$dir/result" "$WORK/monit.result"

    # Vigil on the same beaters: heartbeat-file with timeout 3s (its default period for that: 750 ms).
    dir=$WORK/vigil-hb
    mkdir -p "$dir"
    {
        echo "processes:"
        for ((i = 0; i < N; i++)); do
            echo "  - name: b$i"
            echo "    command: [\"$BIN/vh-hang\", \"beat\", \"$dir/b$i.stamps\", \"$((HANG_MS + 1000 + i * JITTER_MS))\", \"100\", \"$dir/b$i.beat\"]"
            echo "    stop: { signal: TERM, timeout: $STOP_GRACE }"
            echo "    health:"
            echo "      - { kind: heartbeat-file, path: \"$dir/b$i.beat\", timeout: 3s }"
        done
    } >"$dir/vigil.yaml"
    start_vigil "$dir"
    deadline=$((${EPOCHREALTIME/./} / 1000 + HANG_MS + 1000 + N * JITTER_MS + 30000))
    while (($(restarted_count "$dir") < N)) && ((${EPOCHREALTIME/./} / 1000 < deadline)); do sleep 0.25; done
    stop_vigil
    analyse "$dir" >"$WORK/vigil-hb.result"
    R[vigil-hb.died]=$(died_count "$dir")
    local t
    for t in monit vigil-hb; do
        local det res
        det=$(awk '$1 != "early" && $2 != "-" {print $2}' "$WORK/$t.result" | sort -g)
        res=$(awk '$1 != "early" && $3 != "-" {print $3}' "$WORK/$t.result" | sort -g)
        R[$t.n]=$(grep -c . <<<"$res" || true)
        R[$t.det_med]=$(pct 50 <<<"$det"); R[$t.det_worst]=$(worst <<<"$det")
        R[$t.res_med]=$(pct 50 <<<"$res"); R[$t.res_worst]=$(worst <<<"$res")
        R[$t.res_min]=$(head -1 <<<"$res" | awk '{printf "%.0f", $1}')
        R[$t.early]=$(awk '$1 == "early" {print $2}' "$WORK/$t.result")
        log "  $t: ${R[$t.n]}/$N restarted; last beat → restart median ${R[$t.res_med]:-–} ms, worst ${R[$t.res_worst]:-–} ms"
    done
}

# ---------------------------------------------------------------------------------------------- run
if only latency; then
    log "== 1. detection latency ($N hangs per kind)"
    for kind in "${KINDS[@]}"; do
        measure_latency "$kind" || { log "  $kind: measure failed"; stop_vigil; }
    done
fi
if only cost; then
    log "== 2. cost: $COST_N units, ${COST_WIN} s window"
    for row in "${COST_ROWS[@]}"; do
        measure_cost "$row" || { log "  cost $row: measure failed"; stop_vigil; }
    done
fi
if only monit; then
    log "== 3. heartbeat-file: monit vs Vigil ($N hangs each)"
    measure_monit || { log "  monit measure failed"; }
fi

# ---------------------------------------------------------------------------------------------- report
show() { local v=${R[$1]:-}; echo "${v:-n/a}"; }
ratio() { [[ -n ${R[$1]:-} ]] && awk -v a="${R[$1]}" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo "–"; }
ms_s() { [[ -n ${R[$1]:-} ]] && awk -v a="${R[$1]}" 'BEGIN{printf "%.2f s", a/1000}' || echo "n/a"; }
TOTAL_S=$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
{
    echo "# Vigil health probes: detection latency and cost"
    echo
    echo "- command: \`$CMDLINE\`$([[ $QUICK == 1 ]] && echo ' (quick run)')"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${TOTAL_S} s"
    echo "- machine: nproc $(nproc), kernel $(uname -r), $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "- load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared with"
    echo "  builds and tests of other work; every number below moves with that load)"
    echo "- versions: $(timeout 10 "$VIGIL" --version 2>/dev/null | head -1 || true)$(git -C "$(dirname "$VIGIL")" rev-parse --short HEAD 2>/dev/null | sed 's/^/ at commit /' || true) (\`$VIGIL\`)$(only monit && echo "; $(monit -V 2>/dev/null | head -1 | sed 's/This is //')")"
    echo "- Method and decisions: bench/README.md, section \"health.sh\"."
  if only latency; then
    echo
    echo "## 1. Detection latency per probe kind"
    echo
    echo "$N units of one kind under one \`vigil run\`, all at once (cpu max: one spinner at a time, ${CPU_GAP_MS} ms apart, as"
    echo "$N spinners would share 2 cores). Each unit runs \`vh-hang\` (bench/src/vh-hang.c), which does its job and then"
    echo "hangs once, $HANG_MS–$((HANG_MS + (N - 1) * JITTER_MS)) ms after its start (${JITTER_MS} ms apart, so the hangs fall on every phase of the"
    echo "period), writing the moment it stopped doing its job (H: CLOCK_REALTIME, or the mtime of its last touch)."
    echo "Latency = from H to the time of the \`unhealthy\` event as \`vigil run\` prints it (HH:mm:ss.fff, run with TZ=UTC;"
    echo "1 ms resolution). Every probe: timeout/window ${T_MS} ms, period ${P_MS} ms; exec, http and tcp with failureThreshold 1"
    echo "(their default is 3) and initialDelay ${P_MS} ms (without it their first check, at the spawn, comes before the child"
    echo "listens: a false failure); stall kinds and cpu have 1 by default. Bound = timeout + one period (the issue's target);"
    echo "memory: failureThreshold × period ($MEM_F × ${P_MS} ms: $MEM_F samples over max in a row, the first one within a period"
    echo "of the crossing). *Early* = \`unhealthy\` events of processes that had not hung yet (false positives); *died* ="
    echo "children that ended without Vigil stopping them (crashed or killed from outside; should be 0)."
    echo "*Restarted* = from H until the new process's first instruction (stop with SIGTERM, ${STOP_GRACE} grace; default"
    echo "restart schedule, first delay 100 ms)."
    echo
    echo "| kind | probe | the hang | detected | median ms | worst ms | bound ms | worst ÷ bound | within bound | early | died | restarted, median ms |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for kind in "${KINDS[@]}"; do
        b=$(bound_of "$kind")
        echo "| $kind | \`$(probe_text "$kind")\` | $(helper_text "$kind") | $(show "$kind.n")/$N | $(show "$kind.med") | $(show "$kind.worst") | $b | $(ratio "$kind.worst" "$b") | $(show "$kind.in")/$N | $(show "$kind.early") | $(show "$kind.died") | $(show "$kind.restart") |"
    done
    echo
    echo "The reason each kind printed (the first \`unhealthy\` line of its run):"
    echo
    for kind in "${KINDS[@]}"; do echo "- $kind: \`${R[$kind.reason]:-none}\`"; done
  fi
  if only cost; then
    echo
    echo "## 2. Cost: Vigil's CPU and memory with $COST_N probed units"
    echo
    echo "$COST_N units, each \`vh-hang cost\`: prints a line and touches its heartbeat file every 1 s (the same $COST_N"
    echo "programs in every row). CPU = utime+stime of the \`vigil run\` process over a ${COST_WIN} s window that starts"
    echo "${COST_SETTLE} s after all $COST_N children run (1 tick = 10 ms = $(awk -v w="$COST_WIN" 'BEGIN{printf "%.3f", 1/w}') % over ${COST_WIN} s), in % of one core; *with probe"
    echo "processes* adds cutime+cstime (children Vigil reaped in the window: the exec probes' \`true\`). RSS and PSS"
    echo "from /proc/PID/smaps_rollup at the end of the window. *Unhealthy* counts \`unhealthy\` events in the whole run"
    echo "(should be 0: every unit is healthy); *died* = children that ended without Vigil stopping them (should be 0)."
    echo "*µs per check* = (Vigil CPU − the no-probe row's) ÷ checks: the cost of one check. *Processes* = processes on"
    echo "the whole machine at the start/end of the window (Vigil reads /proc to find a process tree: that work grows"
    echo "with it). Target (issue 4): under 1% of a core for $COST_N probed units."
    echo
    echo "| probes per unit | checks/s | Vigil CPU % | µs per check | with probe processes % | RSS MiB | PSS MiB | threads | processes | unhealthy | died |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for row in "${COST_ROWS[@]}"; do
        per=–
        if [[ $row != none && -n ${R[cost.$row.cpu]:-} && -n ${R[cost.none.cpu]:-} ]]; then
            per=$(awk -v a="${R[cost.$row.cpu]}" -v b="${R[cost.none.cpu]}" -v c="$(cost_checks "$row")" 'BEGIN{printf "%.0f", (a-b)/100*1e6/c}')
        fi
        echo "| $(cost_label "$row") | $(cost_checks "$row") | $(show "cost.$row.cpu") | $per | $(show "cost.$row.kids") | $(show "cost.$row.rss") | $(show "cost.$row.pss") | $(show "cost.$row.threads") | $(show "cost.$row.procs") | $(show "cost.$row.unhealthy") | $(show "cost.$row.died") |"
    done
  fi
  if only monit; then
    echo
    echo "## 3. heartbeat-file: Vigil vs monit"
    echo
    echo "$N beaters (\`vh-hang beat\`: touch a file every 100 ms) hang once each, $((HANG_MS + 1000))–$((HANG_MS + 1000 + (N - 1) * JITTER_MS)) ms after their start"
    echo "(${JITTER_MS} ms apart: every phase of monit's 1 s cycle and of the file's whole-second mtime). Time from the last"
    echo "heartbeat (its mtime) to *detection* (monit: its restart script's first line, \`date +%s%N\`; Vigil: the"
    echo "\`unhealthy\` event) and to *restarted* (the new beater's first instruction)."
    echo
    echo "- monit: \`set daemon 1\` (its finest cycle), \`check file bN with path … if timestamp > 3 seconds then exec"
    echo "  \"restart.sh N\"\`; one \`monit -I\` per beater, the $N started $((1000 / N)) ms apart so that their 1 s cycles fall on"
    echo "  every phase of the second (independently of the beaters' phases); restart.sh notes the time, SIGKILLs the hung"
    echo "  beater and starts a new one."
    echo "- Vigil: \`{ kind: heartbeat-file, path: …, timeout: 3s }\` (default period for a 3 s window: 750 ms), default"
    echo "  restart (stop with SIGTERM, then 100 ms backoff)."
    echo
    echo "| tool | restarted | detection median | detection worst | restarted median | restarted worst | restarted min | early | died |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| monit | $(show monit.n)/$N | $(ms_s monit.det_med) | $(ms_s monit.det_worst) | $(ms_s monit.res_med) | $(ms_s monit.res_worst) | $(ms_s monit.res_min) | $(show monit.early) | – |"
    echo "| Vigil | $(show vigil-hb.n)/$N | $(ms_s vigil-hb.det_med) | $(ms_s vigil-hb.det_worst) | $(ms_s vigil-hb.res_med) | $(ms_s vigil-hb.res_worst) | $(ms_s vigil-hb.res_min) | $(show vigil-hb.early) | $(show vigil-hb.died) |"
    echo
    echo "supervisord, PM2 and runit cannot detect this hang: they restart a process when it exits, and none of them"
    echo "has a check of a file's age (or any liveness check of a running process) built in; the beater keeps running,"
    echo "so they never act. (Not measured: there is nothing to time.)"
  fi
} >"$OUT"
log "wrote $OUT (${TOTAL_S} s)"
cat "$OUT"
