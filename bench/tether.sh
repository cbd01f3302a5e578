#!/usr/bin/env bash
# Tether benchmark: Vigil's own MQTT/Tether stack against the npm `mqtt` client, and one Vigil pinging many
# targets, through a private mosquitto on a free loopback port. One run; writes bench/RESULTS-tether.md.
#
#   bench/tether.sh                    full run (~7 min), writes bench/RESULTS-tether.md
#   BENCH_QUICK=1 bench/tether.sh      smaller run (~2 min), writes bench/RESULTS-tether-quick.md (not committed)
#
# Environment:
#   VIGIL=PATH          the vigil binary (default: scripts/publish in this repo, the build that ships)
#   TETHER_BENCH=PATH   the measuring program (default: dotnet build bench/TetherBench -c Release)
#   BENCH_QUICK=1       400 round trips (100 with the default broker), 100 targets, 10 s windows
#   BENCH_OUT=FILE      where to write the Markdown report
#   BENCH_KEEP=1        keep the temporary work folder (configs, logs, samples) for inspection
#
# Measures (bench/README.md, section "bench/tether.sh", has the method and the decisions behind it):
#   1. ping→pong round trip through mosquitto, sequential, QoS 1, against one real tether-agent target:
#      Vigil's PingHub (bench/TetherBench) vs the npm mqtt client (bench/tether/npm-rtt.cjs), median and p99;
#      a) mosquitto with set_tcp_nodelay true, b) mosquitto's default (Nagle's algorithm on its sockets)
#   2. one `vigil run` with N units each with a `kind: tether` probe (interval 1s) against N answering ids:
#      CPU (% of one core over a window, /proc utime+stime) and RSS/PSS; the same N units without probes;
#      and bench/TetherBench's `hub` mode (N TetherPingers on one PingHub, no supervisor) for exact pong counts
# Needs root for apt-get (only when mosquitto, node/npm or a C compiler is missing).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
    RTT_N=400 RTT_N_DEFAULT=100 TARGETS=100 WINDOW=10 SETTLE=5
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-tether-quick.md}
else
    RTT_N=2000 RTT_N_DEFAULT=200 TARGETS=500 WINDOW=60 SETTLE=10
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-tether.md}
fi
RTT_WARMUP=3        # seconds of pings before measuring, per client process (JIT tiering, connection set-up)
ROUNDS=2            # each client runs RTT_N/ROUNDS pings per round; round 1 in order A B C, round 2 C B A
PROBE_TIMEOUT_MS=800
NODE_DIR=$REPO/tests/fixtures/node
CLK_TCK=$(getconf CLK_TCK)
RUN_START=$EPOCHREALTIME
UPTIME_START=$(uptime)
CMDLINE="$(for v in VIGIL TETHER_BENCH BENCH_QUICK BENCH_OUT; do [[ -z ${!v:-} ]] || printf '%s=%q ' "$v" "${!v}"; done)bench/tether.sh${*:+ $*}"

log() { printf '[%6.1fs] %s\n' "$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------- installs
need=()
[[ -x /usr/sbin/mosquitto ]] || command -v mosquitto >/dev/null || need+=(mosquitto)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v cc >/dev/null || need+=(gcc libc6-dev)
if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
MOSQUITTO=$( [[ -x /usr/sbin/mosquitto ]] && echo /usr/sbin/mosquitto || command -v mosquitto)
if [[ ! -d $NODE_DIR/node_modules/tether-agent || ! -d $NODE_DIR/node_modules/mqtt || ! -d $NODE_DIR/node_modules/@msgpack/msgpack ]]; then
    log "npm ci in tests/fixtures/node (tether-agent, mqtt, @msgpack/msgpack, pinned by its package-lock.json)"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
export NODE_PATH=$NODE_DIR/node_modules   # the bench's node scripts require() the peers from there

# ---------------------------------------------------------------------------------------------- work dir
WORK=$(mktemp -d /tmp/vigil-tether-bench.XXXXXX)
BIN=$WORK/bin
mkdir -p "$BIN"
cc -O2 -Wall -o "$BIN/pwatch" "$BENCH_DIR/src/pwatch.c"
cp "$(command -v sleep)" "$BIN/vt-sleep"    # coreutils sleep under a name of its own, so /proc can count it
PW=$BIN/pwatch

stale=$("$PW" ours /tmp/vigil-tether-bench. vt- | grep -v "$WORK" || true)
[[ -z $stale ]] || die "processes of an earlier bench/tether.sh run are still running; end them first:
$stale"

cleanup() {
    local rc=$? left pids
    set +e
    trap - EXIT INT TERM HUP; trap '' PIPE
    pids=$("$PW" ours "$WORK" vt- | awk '{print $1}')
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
    "$PW" until le 0 5000 vt-sleep >/dev/null
    sleep 0.2
    left=$("$PW" ours "$WORK" vt-)
    if [[ -n $left ]]; then
        log "LEFTOVER processes after clean-up (not ended):"; echo "$left" >&2
    else
        log "clean: no process of this run is left running"
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM; trap 'exit 129' HUP; trap 'exit 141' PIPE

# ---------------------------------------------------------------------------------------------- builds
build() {   # PROJECT: dotnet build -c Release without build servers (none is left running)
    log "dotnet build $1 -c Release"
    dotnet build "$REPO/$1" -c Release -nologo -v q -nodeReuse:false -p:UseSharedCompilation=false >"$WORK/build-$(basename "$1").log" 2>&1 \
        || { tail -20 "$WORK/build-$(basename "$1").log" >&2; die "dotnet build $1 failed"; }
}
if [[ -z ${VIGIL:-} ]]; then log "scripts/publish (Vigil as it ships: ReadyToRun)"; VIGIL=$("$REPO/scripts/publish") || die "building Vigil failed (scripts/publish)"; fi
if [[ -z ${TETHER_BENCH:-} ]]; then build bench/TetherBench; TETHER_BENCH=$REPO/bench/TetherBench/bin/Release/net10.0/tether-bench; fi
[[ -x $VIGIL ]] || die "VIGIL=$VIGIL is not an executable"
[[ -x $TETHER_BENCH ]] || die "TETHER_BENCH=$TETHER_BENCH is not an executable"
VIGIL=$(realpath "$VIGIL") TETHER_BENCH=$(realpath "$TETHER_BENCH")

# ---------------------------------------------------------------------------------------------- helpers
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_line() {   # FILE PATTERN SECONDS PID: until FILE has a line matching PATTERN; fails if PID dies or time passes
    local i
    for ((i = 0; i < $3 * 50; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || { log "  process $4 exited: $(tail -3 "$1" | paste -sd'|')"; return 1; }
        sleep 0.02
    done
    log "  no '$2' in $1 within $3 s: $(tail -3 "$1" | paste -sd'|')"; return 1
}
stop_pid() {    # PID...: SIGTERM, wait up to 10 s, then SIGKILL
    local p
    kill -TERM "$@" 2>/dev/null || true
    "$PW" gone 10000 "$@" >/dev/null || { log "  SIGKILL $*"; kill -KILL "$@" 2>/dev/null || true; }
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
BROKER= BROKER_PORT=
start_broker() {   # NAME NODELAY(true|false): a private mosquitto on a free loopback port
    local dir=$WORK/$1 i
    mkdir -p "$dir"
    BROKER_PORT=$(free_port)
    {
        echo "# bench/tether.sh: a private broker on loopback only"
        echo "listener $BROKER_PORT 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
        echo "set_tcp_nodelay $2"
        echo "max_queued_messages 100000"
        echo "log_dest stderr"
        echo "log_type error"
        echo "log_type warning"
    } >"$dir/mosquitto.conf"
    (cd "$dir" && exec "$MOSQUITTO" -c "$dir/mosquitto.conf") >"$dir/mosquitto.log" 2>&1 &
    BROKER=$!
    for ((i = 0; i < 250; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT") 2>/dev/null && return 0
        kill -0 "$BROKER" 2>/dev/null || die "mosquitto exited: $(cat "$dir/mosquitto.log")"
        sleep 0.02
    done
    die "mosquitto did not listen on 127.0.0.1:$BROKER_PORT within 5 s"
}
usage_of() { "$PW" usage "$@"; }   # "RSS_KB PSS_KB TICKS NPROCS"
pct() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" -v w="$3" 'BEGIN{printf "%.2f", (b-a)/hz/w*100}'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
stat_of() { { grep '^stats ' "$1" || true; } | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }   # FILE KEY: the last stats line's KEY
quantile() {   # FILE Q: nearest-rank quantile of the first column
    sort -g "$1" | awk -v q="$2" '{v[NR]=$1} END{if (!NR) exit; r=int(q*NR+0.999999); if (r<1) r=1; if (r>NR) r=NR; printf "%.3f", v[r]}'
}
median() { sort -g "$1" | awk '{v[NR]=$1} END{if (!NR) exit; printf "%.3f", (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
rate() { awk -v a="$1" -v b="$2" -v s="$3" -v e="$4" 'BEGIN{if (e > s) printf "%.1f", (b-a)/((e-s)/1000); else print "–"}'; }   # C0 C1 MS0 MS1: per second
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(b+0 > 0)}' && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f×", a/b}' || echo "–"; }

# ---------------------------------------------------------------------------------------------- measure 1
# Clients: vigil (tether-bench rtt), npm (npm-rtt.cjs as mqtt.js ships), npm-nodelay (the same with setNoDelay).
CLIENTS=(vigil npm npm_nodelay)
declare -A RTT_NOTE
rtt_client() {   # CASE CLIENT N
    local dir=$WORK/$1 out=$WORK/$1/$2.part rc=0
    case $2 in
        vigil) (cd "$dir" && exec "$TETHER_BENCH" rtt "$BROKER_PORT" rtt-target "$RTT_WARMUP" "$3" "$out") >>"$dir/$2.log" 2>&1 || rc=$? ;;
        npm) (cd "$dir" && exec node "$BENCH_DIR/tether/npm-rtt.cjs" "$BROKER_PORT" rtt-target "$RTT_WARMUP" "$3" "$out") >>"$dir/$2.log" 2>&1 || rc=$? ;;
        npm_nodelay) (cd "$dir" && exec node "$BENCH_DIR/tether/npm-rtt.cjs" "$BROKER_PORT" rtt-target "$RTT_WARMUP" "$3" "$out" nodelay) >>"$dir/$2.log" 2>&1 || rc=$? ;;
    esac
    ((rc == 0)) || { RTT_NOTE[$1.$2]="a run exited with $rc (see its log)"; log "  $2 exited with $rc: $(tail -3 "$dir/$2.log" | paste -sd'|')"; }
    [[ -f $out ]] && cut -d' ' -f1 "$out" >>"$dir/$2.ms" && { [[ $2 != vigil ]] || cut -d' ' -f2 "$out" >>"$dir/$2.hub.ms"; }
    rm -f "$out"
}
measure_rtt() {   # CASE NODELAY N
    local case=$1 dir=$WORK/$1 target c r order
    start_broker "$case" "$2"
    log "== 1 ($case): mosquitto set_tcp_nodelay $2 on 127.0.0.1:$BROKER_PORT, $3 round trips per client in $ROUNDS rounds"
    (cd "$dir" && exec node "$NODE_DIR/tether-target.cjs" 127.0.0.1 "$BROKER_PORT" benchTarget rtt-target) >"$dir/target.log" 2>&1 &
    target=$!
    wait_line "$dir/target.log" '^ready' 20 "$target" || die "the tether-agent target did not start"
    RTT_LOAD[$case]=$(cut -d' ' -f1-3 /proc/loadavg)
    for ((r = 1; r <= ROUNDS; r++)); do
        order=("${CLIENTS[@]}")
        ((r % 2)) || order=($(printf '%s\n' "${CLIENTS[@]}" | tac))
        for c in "${order[@]}"; do
            log "  round $r: $c"
            rtt_client "$case" "$c" $(($3 / ROUNDS))
        done
    done
    stop_pid "$target" "$BROKER"
    RTT_PONGS[$case]=$(grep -c '^pong ' "$dir/target.log" || true)
}
declare -A RTT_LOAD RTT_PONGS
measure_rtt nodelay true "$RTT_N"
measure_rtt default false "$RTT_N_DEFAULT"

# ---------------------------------------------------------------------------------------------- measure 2
# Rows: baseline (vigil run, N sleeps, no probes), probes (the same + a tether probe each), hub (tether-bench hub).
declare -A R_UNH_PRE R_REC_PRE R_FAILING R_UNH_STOP R_ANS_N R_RSS R_PSS R_CPU R_LOAD R_NOTE R_PINGS R_IDS R_BCPU R_RCPU R_UNH R_REC R_ANS R_TMO R_OFF R_PANS R_STARTS
vigil_config() {   # FILE WITH_PROBES
    local i
    {
        [[ $2 == 0 ]] || echo "tether: { host: 127.0.0.1, port: $BROKER_PORT }"
        echo "processes:"
        for ((i = 1; i <= TARGETS; i++)); do
            echo "  - name: target-$i"
            echo "    command: [\"$BIN/vt-sleep\", infinity]"
            [[ $2 == 0 ]] || echo "    health: [{ kind: tether, agentId: target-$i, interval: 1s, timeout: ${PROBE_TIMEOUT_MS}ms, allowance: 1, action: notify }]"
        done
    } >"$1"
}
measure_row() {   # ROW
    local row=$1 dir=$WORK/m2 main u0 u1 b0 b1 r0 r1 p0 p1 pt0 pt1 t0 t1 secs before a0 a1 at0 at1 x
    log "== 2 ($row): $TARGETS units/pingers, settle ${SETTLE} s, window ${WINDOW} s"
    case $row in
        baseline|probes)
            vigil_config "$dir/$row.yaml" "$([[ $row == probes ]] && echo 1 || echo 0)"
            (cd "$dir" && exec "$VIGIL" run -c "$dir/$row.yaml") >"$dir/$row.log" 2>&1 &
            main=$!
            "$PW" until ge "$TARGETS" 60000 vt-sleep >/dev/null || { R_NOTE[$row]="the $TARGETS children did not all start within 60 s"; log "  ${R_NOTE[$row]}"; stop_pid "$main"; return 0; }
            ;;
        hub)
            (cd "$dir" && exec "$TETHER_BENCH" hub "$BROKER_PORT" "$TARGETS" 1000 "$PROBE_TIMEOUT_MS") >"$dir/$row.log" 2>&1 &
            main=$!
            wait_line "$dir/$row.log" '^ready' 60 "$main" || { R_NOTE[$row]="tether-bench hub did not start"; stop_pid "$main"; return 0; }
            ;;
    esac
    sleep "$SETTLE"
    R_LOAD[$row]=$(cut -d' ' -f1-3 /proc/loadavg)
    before=$(wc -l <"$dir/$row.log")   # the event lines printed before the window
    p0=$(stat_of "$dir/responder.log" pings); pt0=$(stat_of "$dir/responder.log" t)
    a0=$(stat_of "$dir/$row.log" answered); at0=$(stat_of "$dir/$row.log" t)
    read -r _ _ u0 _ <<<"$(usage_of "$main")"; read -r _ _ b0 _ <<<"$(usage_of "$BROKER")"; read -r _ _ r0 _ <<<"$(usage_of "$RESPONDER")"
    t0=$EPOCHREALTIME
    sleep "$WINDOW"
    read -r x _ u1 _ <<<"$(usage_of "$main")"; R_RSS[$row]=$(mib "$x")
    read -r _ x _ _ <<<"$(usage_of "$main")"; R_PSS[$row]=$(mib "$x")
    read -r _ _ b1 _ <<<"$(usage_of "$BROKER")"; read -r _ _ r1 _ <<<"$(usage_of "$RESPONDER")"
    t1=$EPOCHREALTIME
    sleep 1.2   # the next stats lines (printed every second) cover the window's end
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
    R_CPU[$row]=$(pct "$u0" "$u1" "$secs"); R_BCPU[$row]=$(pct "$b0" "$b1" "$secs"); R_RCPU[$row]=$(pct "$r0" "$r1" "$secs")
    p1=$(stat_of "$dir/responder.log" pings); pt1=$(stat_of "$dir/responder.log" t)
    R_PINGS[$row]=$(rate "$p0" "$p1" "$pt0" "$pt1"); R_IDS[$row]=$(stat_of "$dir/responder.log" ids)
    case $row in
        baseline|probes)
            stop_pid "$main"
            # unhealthy/healthy (= recovered) events before the window, in the window, after the stop request;
            # failing = units whose last unhealthy/healthy event before the window was unhealthy (a probe that is
            # still failing reports nothing more, so a 0 in the window only counts when failing is 0 too)
            read -r R_UNH_PRE[$row] R_REC_PRE[$row] R_FAILING[$row] R_UNH[$row] R_REC[$row] R_UNH_STOP[$row] <<<"$(awk -v w="$before" '
                / received SIG/ { stop = 1 }
                $3 == "unhealthy:" { if (NR <= w) { up++; last[$2] = "u" } else if (!stop) uw++; else us++ }
                $3 == "healthy:"   { if (NR <= w) { hp++; last[$2] = "h" } else if (!stop) hw++ }
                END { for (k in last) if (last[k] == "u") f++; print up+0, hp+0, f+0, uw+0, hw+0, us+0 }' "$dir/$row.log")"
            R_STARTS[$row]=$(grep -c ' spawned: ' "$dir/$row.log" || true)
            ;;
        hub)
            a1=$(stat_of "$dir/$row.log" answered); at1=$(stat_of "$dir/$row.log" t)
            R_ANS[$row]=$(rate "$a0" "$a1" "$at0" "$at1"); R_ANS_N[$row]=$((a1 - a0))
            stop_pid "$main"
            R_TMO[$row]=$(stat_of "$dir/$row.log" timedout); R_OFF[$row]=$(stat_of "$dir/$row.log" offline)
            R_PANS[$row]=$(stat_of "$dir/$row.log" pingers_answered)
            ;;
    esac
    "$PW" until le 0 10000 vt-sleep >/dev/null || log "  vt-sleep children still alive after the stop"
    log "  CPU ${R_CPU[$row]} %, RSS ${R_RSS[$row]} MiB, responder pings/s ${R_PINGS[$row]}"
}
mkdir -p "$WORK/m2"
start_broker m2 true
(cd "$WORK/m2" && exec node "$BENCH_DIR/tether/responder.cjs" "$BROKER_PORT") >"$WORK/m2/responder.log" 2>&1 &
RESPONDER=$!
wait_line "$WORK/m2/responder.log" '^ready' 20 "$RESPONDER" || die "the responder did not start"
for row in baseline probes hub; do measure_row "$row"; done
stop_pid "$RESPONDER" "$BROKER"

# ---------------------------------------------------------------------------------------------- report
TOTAL_S=$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
label() { case $1 in vigil) echo "Vigil (PingHub, bench/TetherBench)";; npm) echo "npm mqtt $(node -p 'require("mqtt/package.json").version'), as it ships (Nagle on)";;
    npm_nodelay) echo "npm mqtt, setNoDelay(true) on its socket";; esac; }
rtt_table() {   # CASE
    local dir=$WORK/$1 c n med p99 vmed vp99
    vmed=$(median "$dir/vigil.ms" 2>/dev/null); vp99=$(quantile "$dir/vigil.ms" 0.99 2>/dev/null)
    echo "| client | round trips | median ms | p99 ms | max ms | Vigil/npm median | Vigil/npm p99 |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for c in "${CLIENTS[@]}"; do
        [[ -s $dir/$c.ms ]] || { echo "| $(label "$c") | 0 | ${RTT_NOTE[$1.$c]:-no samples} | | | | |"; continue; }
        n=$(wc -l <"$dir/$c.ms"); med=$(median "$dir/$c.ms"); p99=$(quantile "$dir/$c.ms" 0.99)
        if [[ $c == vigil ]]; then echo "| $(label "$c") | $n | $med | $p99 | $(quantile "$dir/$c.ms" 1) | | |"
        else echo "| $(label "$c") | $n | $med | $p99 | $(quantile "$dir/$c.ms" 1) | $(ratio "$vmed" "$med") | $(ratio "$vp99" "$p99") |"; fi
    done
    [[ -s $dir/vigil.hub.ms ]] && echo && echo "Vigil's own reading of the same pings (the PingHub's round trip, publish → pong dispatched, without the await's resumption): median $(median "$dir/vigil.hub.ms") ms, p99 $(quantile "$dir/vigil.hub.ms" 0.99) ms."
    local notes=""; for c in "${CLIENTS[@]}"; do [[ -z ${RTT_NOTE[$1.$c]:-} ]] || notes+=" $c: ${RTT_NOTE[$1.$c]}."; done
    [[ -z $notes ]] || { echo; echo "Notes:$notes"; }
    echo
    echo "The target answered ${RTT_PONGS[$1]} pings in this case (warm-ups included); load average (1/5/15) when it started: ${RTT_LOAD[$1]}."
}
{
    echo "# Vigil's Tether stack vs the npm mqtt client; one Vigil pinging $TARGETS targets"
    echo
    echo "- command: \`$CMDLINE\`$([[ $QUICK == 1 ]] && echo ' (quick run)')"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${TOTAL_S} s"
    echo "- machine: nproc $(nproc), kernel $(uname -r), $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "- \`uptime\` at start: \`$(sed 's/^ *//' <<<"$UPTIME_START")\`"
    echo "- \`uptime\` at end: \`$(uptime | sed 's/^ *//')\`"
    echo "- other work shares the machine (builds and tests of other sessions): every number moves with it."
    echo "- versions: $("$VIGIL" --version 2>/dev/null | head -1) at commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') (\`$VIGIL\`);" \
         "$("$MOSQUITTO" -h 2>/dev/null | head -1 || true); node $(node --version); tether-agent $(node -p 'require("tether-agent/package.json").version');" \
         "mqtt $(node -p 'require("mqtt/package.json").version'); @msgpack/msgpack $(node -p 'require("@msgpack/msgpack/package.json").version')"
    echo "- method and decisions: bench/README.md, section \`bench/tether.sh\`."
    echo
    echo "## 1. Ping → pong round trip through mosquitto"
    echo
    echo "One private mosquitto on 127.0.0.1 (generated config, anonymous, no persistence); one target: the real"
    echo "\`tether-agent@$(node -p 'require("tether-agent/package.json").version')\` app of the tests (\`tests/fixtures/node/tether-target.cjs\`), answering each ping with a"
    echo "MessagePack pong \`{fps: 60, sessions: 2}\`. Each client connects once, subscribes \`+/rtt-target/pong\` at QoS 1, then"
    echo "sends an empty QoS 1 ping on \`processPinger/<id>/ping\`, waits for the pong (decoding its MessagePack), and sends"
    echo "the next one: ${RTT_WARMUP} s of warm-up pings per process, then the measured ones. Time = from before"
    echo "the publish call until the caller has the decoded pong. $ROUNDS rounds per client (a fresh process each), in the"
    echo "order vigil, npm, npm-nodelay, then reversed; the samples of both rounds are pooled. p99 = nearest rank."
    echo "Vigil/npm < 1 means Vigil's round trip is shorter."
    echo
    echo "### 1a. mosquitto with \`set_tcp_nodelay true\` ($RTT_N round trips per client)"
    echo
    rtt_table nodelay
    echo
    echo "### 1b. mosquitto's default, \`set_tcp_nodelay false\` ($RTT_N_DEFAULT round trips per client)"
    echo
    echo "With Nagle's algorithm on the broker's sockets (its default), a small write waits for the ACK of the previous"
    echo "one, which the receiving side delays (about 40 ms on Linux). Back-to-back pings hit that on every round trip."
    echo
    rtt_table default
    echo
    echo "## 2. One Vigil pinging $TARGETS targets every second"
    echo
    echo "$TARGETS units of \`sleep infinity\` (coreutils, copied as \`vt-sleep\`). *probes*: each unit has"
    echo "\`health: [{ kind: tether, agentId: target-N, interval: 1s, timeout: ${PROBE_TIMEOUT_MS}ms, allowance: 1, action: notify }]\`,"
    echo "\`tether: { host: 127.0.0.1, port: … }\` at the top level (one MQTT connection for all probes, $TARGETS pong subscriptions"
    echo "\`+/target-N/pong\`). *baseline*: the same units without probes. *hub*: no supervisor, \`tether-bench hub\`:"
    echo "$TARGETS TetherPingers on one PingHub, the same topics, interval and timeout, counting every pong."
    echo "The targets: ONE node process with ONE npm \`mqtt\` connection (\`bench/tether/responder.cjs\`) subscribed to"
    echo "\`processPinger/+/ping\`, answering a ping on \`processPinger/target-N/ping\` with a QoS 1 MessagePack pong on"
    echo "\`benchTarget/target-N/pong\`. Measured ${SETTLE} s after the $TARGETS children ran (or the hub subscribed), over a ${WINDOW} s"
    echo "window: CPU = Δ(utime+stime) of the measured process from /proc ÷ wall time, in % of one core (1 tick ="
    echo "10 ms); RSS and PSS from /proc/PID/smaps_rollup at the window's end. The broker's and the responder's CPU"
    echo "over the same window are shown for scale (they are not Vigil)."
    echo
    echo "| row | process | CPU % of one core | RSS MiB | PSS MiB | pings answered by the responder, per s | ids pinged | broker CPU % | responder CPU % | load avg at window start |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for row in baseline probes hub; do
        if [[ -n ${R_NOTE[$row]:-} ]]; then echo "| $row | | ${R_NOTE[$row]} | | | | | | | |"; continue; fi
        case $row in hub) proc="tether-bench hub";; *) proc="vigil run";; esac
        echo "| $row | $proc | ${R_CPU[$row]} | ${R_RSS[$row]} | ${R_PSS[$row]} | ${R_PINGS[$row]} | ${R_IDS[$row]:-0} | ${R_BCPU[$row]} | ${R_RCPU[$row]} | ${R_LOAD[$row]} |"
    done
    echo
    echo "Pings per second: the responder's count between its stats line (printed every second, with its own clock)"
    echo "last before the window and the first after it, ÷ the time between those lines. Expected: $TARGETS (one per"
    echo "pinger per second; the probe loop waits \`interval\` from the start of a check, so slightly fewer when one runs late)."
    echo "*ids pinged* is cumulative since the responder started (the baseline row has no pingers)."
    echo
    echo "Did the pongs arrive?"
    echo
    if [[ -z ${R_NOTE[probes]:-} ]]; then
        echo "- probes: \`unhealthy\` events in the window: **${R_UNH[probes]}** (\`healthy\`, i.e. recovered: ${R_REC[probes]}); units still failing"
        echo "  when the window began: **${R_FAILING[probes]}**. Before the window (start-up and settle): ${R_UNH_PRE[probes]} \`unhealthy\`,"
        echo "  ${R_REC_PRE[probes]} \`healthy\`; after the stop request: ${R_UNH_STOP[probes]} \`unhealthy\`. Restarts: $((R_STARTS[probes] - TARGETS))"
        echo "  (\`spawned\` − $TARGETS). With \`allowance: 1\` and \`action: notify\` a failing check (the first one, or one after a"
        echo "  passing one) is an \`unhealthy\` event without a restart, and the next passing check a \`healthy\` event; so 0"
        echo "  \`unhealthy\` in the window with 0 units failing at its start means every check of every unit in the"
        echo "  window got its pong within ${PROBE_TIMEOUT_MS} ms."
        echo "  \`vigil run\` has no way to show a unit's gauges (\`ping_ms\`, \`fps\`) from outside yet, so they were not sampled."
    fi
    if [[ -z ${R_NOTE[hub]:-} ]]; then
        echo "- hub: pongs received per second (same method): **${R_ANS[hub]}** (${R_ANS_N[hub]} pongs between the two stats lines);"
        echo "  over its whole run: timed out ${R_TMO[hub]}, offline ${R_OFF[hub]};"
        echo "  pingers that got at least one pong: ${R_PANS[hub]} of $TARGETS."
    fi
} >"$OUT"
log "wrote $OUT (${TOTAL_S} s)"
log "uptime at end: $(uptime)"
cat "$OUT"
