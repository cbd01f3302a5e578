#!/usr/bin/env bash
# Side-by-side benchmark of Vigil, supervisord, PM2 and runit (runsvdir + runsv), in one run.
#
#   bench/run.sh                     full run (~7.5 min), writes bench/RESULTS.md
#   BENCH_QUICK=1 bench/run.sh       smaller run (~3.5 min), writes bench/RESULTS-quick.md
#
# Environment:
#   VIGIL=PATH          the vigil binary (default: dotnet build src/Vigil.Cli -c Release in this repo)
#   BENCH_TOOLS="..."   subset and order of: vigil supervisord pm2 runit (default: all four)
#   BENCH_QUICK=1       20 children instead of 100, 5 s idle windows, ≤20 restarts
#   BENCH_OUT=FILE      where to write the Markdown report
#   BENCH_KEEP=1        keep the temporary work folder (configs, logs, stamp files) for inspection
#
# Measures (see bench/README.md for the method and the decisions behind it):
#   1. crash→restart latency with the shortest restart delay each tool allows
#   2. idle RSS/PSS and CPU of the supervisor's own processes with 1 and with N children
#   3. time to start N children; time to stop N children (plain sleep; obeying TERM with a TERM-ignoring
#      grandchild; ignoring TERM with a TERM-ignoring grandchild) and how many processes are left running
# Needs root for apt-get (only when supervisor, runit, hyperfine or a C compiler is missing).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
QUICK=${BENCH_QUICK:-0}
TOOLS=(${BENCH_TOOLS:-vigil supervisord pm2 runit})
if [[ $QUICK == 1 ]]; then
    N=20 CRASH_MAX=20 CRASH_BUDGET=8 IDLE=5 SETTLE=2
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-quick.md}
else
    N=100 CRASH_MAX=60 CRASH_BUDGET=20 IDLE=30 SETTLE=5
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS.md}
fi
GRACE=3            # stop grace period (s) configured in every tool that has one
WAIT_MS=60000      # bound on every wait
CLK_TCK=$(getconf CLK_TCK)
RUN_START=$EPOCHREALTIME
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CMDLINE="$(for v in VIGIL BENCH_TOOLS BENCH_QUICK BENCH_OUT; do [[ -z ${!v:-} ]] || printf '%s=%q ' "$v" "${!v}"; done)bench/run.sh${*:+ $*}"

log() { printf '[%6.1fs] %s\n' "$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }
for t in "${TOOLS[@]}"; do
    case $t in vigil|supervisord|pm2|runit) ;; *) die "unknown tool '$t' in BENCH_TOOLS (vigil supervisord pm2 runit)";; esac
done

# ---------------------------------------------------------------------------------------------- installs
install_deps() {
    local need=()
    command -v supervisord >/dev/null || need+=(supervisor)
    { command -v runsvdir && command -v runsv && command -v sv; } >/dev/null || need+=(runit)
    command -v hyperfine >/dev/null || need+=(hyperfine)
    command -v cc >/dev/null || need+=(gcc libc6-dev)
    if ((${#need[@]})); then
        log "apt-get install ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if [[ " ${TOOLS[*]} " == *" pm2 "* && ! -x $BENCH_DIR/node/node_modules/.bin/pm2 ]]; then
        command -v npm >/dev/null || die "npm is needed for PM2 (apt-get install nodejs npm)"
        log "npm ci (PM2, pinned by bench/node/package-lock.json)"
        (cd "$BENCH_DIR/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}
install_deps

PM2=$BENCH_DIR/node/node_modules/.bin/pm2

# ---------------------------------------------------------------------------------------------- work dir
WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
BIN=$WORK/bin
mkdir -p "$BIN"
export PM2_HOME=$WORK/pm2home
cc -O2 -Wall -o "$BIN/pwatch" "$BENCH_DIR/src/pwatch.c"
cc -O2 -Wall -o "$BIN/vb-crash" "$BENCH_DIR/src/vb-crash.c"
cc -O2 -Wall -o "$BIN/vb-tree" "$BENCH_DIR/src/vb-tree.c"
cp "$(command -v sleep)" "$BIN/vb-sleep"     # coreutils sleep under a name of its own: `vb-sleep infinity`
PW=$BIN/pwatch

stale=$("$PW" ours /tmp/vigil-bench. vb- | grep -v "^[0-9]* [^ ]* .*$WORK" || true)
[[ -z $stale ]] || die "processes of an earlier bench run are still running; end them first:
$stale"

cleanup() {
    local rc=$? left
    set +e
    trap - EXIT INT TERM HUP; trap '' PIPE   # a closed stdout must not stop the clean-up
    [[ -n ${CUR_TOOL:-} ]] && force_stop "$CUR_TOOL"
    if [[ -f $PM2_HOME/pm2.pid ]] && kill -0 "$(cat "$PM2_HOME/pm2.pid")" 2>/dev/null; then
        timeout 20 "$PM2" kill >/dev/null 2>&1
    fi
    kill_ours
    left=$("$PW" ours "$WORK" vb-)
    if [[ -n $left ]]; then
        log "LEFTOVER processes after clean-up (not ended):"; echo "$left" >&2
    else
        log "clean: no supervisor or child of this run is left running"
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM; trap 'exit 129' HUP; trap 'exit 141' PIPE

# SIGKILL every process of this run: cmdline or cwd under $WORK, or a vb-* child/grandchild.
kill_ours() {
    local pids
    pids=$("$PW" ours "$WORK" vb- | awk '{print $1}')
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
    "$PW" until le 0 5000 vb-sleep vb-tree vb-crash >/dev/null
    return 0
}

# ---------------------------------------------------------------------------------------------- programs
# KIND: crash | sleep | obey | ignore. argv of the I-th program of a kind (one word a line).
argv_of() {
    case $1 in
        crash)  printf '%s\n' "$BIN/vb-crash" "$STAMPS" ;;
        sleep)  printf '%s\n' "$BIN/vb-sleep" infinity ;;
        obey)   printf '%s\n' "$BIN/vb-tree" obey ;;
        ignore) printf '%s\n' "$BIN/vb-tree" ignore ;;
    esac
}
comm_of() { case $1 in crash) echo vb-crash;; sleep) echo vb-sleep;; *) echo vb-tree;; esac; }

# Each tool: TOOL_start KIND COUNT (write config, launch; sets MAIN), TOOL_own (supervisor's own PIDs),
# TOOL_stop (graceful stop, the tool's normal way, bounded), force_stop TOOL (SIGKILL, for failures).
MAIN=

# --- Vigil: `vigil run -c vigil.yaml` in the foreground; SIGTERM stops every child and exits.
vigil_start() {
    local kind=$1 count=$2 dir=$WORK/vigil i a restart
    rm -rf "$dir"; mkdir -p "$dir"
    restart="{ policy: always }"   # the default schedule; the crash child gets the shortest delay:
    [[ $kind != crash ]] || restart="{ policy: always, schedule: [0ms, 0ms] }"   # restart at once, every time; [0] alone means "never" (elife)
    {
        echo "processes:"
        for ((i = 1; i <= count; i++)); do
            a=$(argv_of "$kind" | sed 's/.*/"&"/' | paste -sd, | sed 's/,/, /g')
            echo "  - name: p$i"
            echo "    command: [$a]"
            echo "    restart: $restart"
            echo "    stop: { signal: TERM, timeout: ${GRACE}s }"
        done
    } >"$dir/vigil.yaml"
    (cd "$dir" && exec "$VIGIL" run -c "$dir/vigil.yaml") >"$dir/vigil.log" 2>&1 &
    MAIN=$!
}
vigil_own() { echo "$MAIN"; }
vigil_stop() { kill -TERM "$MAIN" 2>/dev/null || true; }

# --- supervisord: `supervisord -n -c FILE` in the foreground; SIGTERM stops every program and exits.
supervisord_start() {
    local kind=$1 count=$2 dir=$WORK/supervisord i
    rm -rf "$dir"; mkdir -p "$dir/logs"
    {
        printf '[supervisord]\nnodaemon=true\nuser=root\nlogfile=%s\npidfile=%s\nchildlogdir=%s\n' \
            "$dir/supervisord.log" "$dir/supervisord.pid" "$dir/logs"
        printf '[unix_http_server]\nfile=%s\n' "$dir/supervisor.sock"
        printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
        for ((i = 1; i <= count; i++)); do
            # startsecs=0: "running" at once, so an exit is a plain exit (no STARTING backoff); autorestart at once
            printf '[program:p%d]\ncommand=%s\nautorestart=true\nstartsecs=0\nstartretries=1000000\n' \
                "$i" "$(argv_of "$kind" | paste -sd' ')"
            printf 'stopsignal=TERM\nstopwaitsecs=%d\nstopasgroup=true\nkillasgroup=true\n' "$GRACE"
        done
        # One group: supervisord stops groups one after the other (each up to stopwaitsecs), programs
        # within a group together. Without it, N TERM-ignoring programs take N × stopwaitsecs to stop.
        printf '[group:bench]\nprograms=%s\n' "$(seq -f 'p%g' 1 "$count" | paste -sd,)"
    } >"$dir/supervisord.conf"
    supervisord -n -c "$dir/supervisord.conf" >"$dir/stdout.log" 2>&1 &
    MAIN=$!
}
supervisord_own() { echo "$MAIN"; }
supervisord_stop() { kill -TERM "$MAIN" 2>/dev/null || true; }

# --- PM2: `pm2 start ecosystem.json` (spawns the God daemon, PM2_HOME in the work dir); `pm2 kill` stops all.
pm2_start() {
    local kind=$1 count=$2 dir=$WORK/pm2 i args
    rm -rf "$dir" "$PM2_HOME"; mkdir -p "$dir"
    {
        echo '{"apps": ['
        for ((i = 1; i <= count; i++)); do
            args=$(argv_of "$kind" | tail -n +2 | sed 's/.*/"&"/' | paste -sd,)
            ((i > 1)) && echo ','
            printf '{"name": "p%d", "script": "%s", "args": [%s], "interpreter": "none", "exec_mode": "fork",' \
                "$i" "$(argv_of "$kind" | head -1)" "$args"
            printf ' "cwd": "%s", "autorestart": true, "restart_delay": 0, "max_restarts": 1000000,' "$dir"
            printf ' "kill_signal": "SIGTERM", "kill_timeout": %d, "treekill": true}\n' "$((GRACE * 1000))"
        done
        echo ']}'
    } >"$dir/ecosystem.json"
    (cd "$dir" && exec timeout 120 "$PM2" start "$dir/ecosystem.json") >"$dir/start.log" 2>&1 &
    PM2_CLI=$!
    MAIN=   # the God daemon's PID is known once it wrote pm2.pid
}
pm2_god() {
    local i
    for ((i = 0; i < 3000; i++)); do
        [[ -s $PM2_HOME/pm2.pid ]] && { cat "$PM2_HOME/pm2.pid"; return 0; }
        sleep 0.01
    done
    return 1
}
pm2_own() { pm2_god; }
pm2_stop() { timeout 60 "$PM2" kill >"$WORK/pm2/kill.log" 2>&1 || true; }
pm2_settle() {  # wait for the `pm2 start` CLI to finish, then learn the daemon's PID
    wait "$PM2_CLI" 2>/dev/null || true
    MAIN=$(pm2_god) || return 1
}

# --- runit: runsvdir -P SVDIR (one runsv per service); stop = runit's own stage-3 sequence:
#     sv -w GRACE force-stop (TERM, then KILL after GRACE), sv exit, then SIGHUP to runsvdir.
runit_start() {
    local kind=$1 count=$2 dir=$WORK/runit i s
    rm -rf "$dir"; mkdir -p "$dir/sv"
    for ((i = 1; i <= count; i++)); do
        s=$dir/sv/p$i; mkdir -p "$s"
        if [[ $kind == crash ]]; then
            ln -s "$BIN/vb-crash" "$s/run"        # no shell in between; writes ./stamps in the service dir
        else
            printf '#!/bin/sh\nexec %s\n' "$(argv_of "$kind" | paste -sd' ')" >"$s/run"; chmod +x "$s/run"
        fi
    done
    runsvdir -P "$dir/sv" >"$dir/runsvdir.log" 2>&1 &
    MAIN=$!
}
runit_own() { echo "$MAIN"; "$PW" kids "$MAIN" runsv; }
runit_stop() {
    timeout 60 sv -w "$GRACE" force-stop "$WORK"/runit/sv/* >/dev/null 2>&1 || true
    timeout 60 sv exit "$WORK"/runit/sv/* >/dev/null 2>&1 || true
    kill -HUP "$MAIN" 2>/dev/null || true
}

force_stop() {
    local tool=$1 pids=
    case $tool in
        pm2) pids=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null || true) ;;
        runit) [[ -n $MAIN ]] && pids=$(runit_own) || true ;;
        *) pids=$MAIN ;;
    esac
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
    kill_ours
    wait 2>/dev/null
    CUR_TOOL=
    return 0
}

# Launch TOOL with COUNT programs of KIND; wait until EXPECT processes named COMM run.
# Sets START_S (seconds from launch until then). Returns 1 if that did not happen within WAIT_MS.
launch() {
    local tool=$1 kind=$2 count=$3 expect=$4 comm t0 t1 rc=0
    comm=$(comm_of "$kind")
    CUR_TOOL=$tool
    t0=$(now_ns)
    "${tool}_start" "$kind" "$count"
    [[ $expect -gt 0 ]] || return 0
    t1=$(PWATCH_ALIVE=$MAIN "$PW" until ge "$expect" "$WAIT_MS" "$comm") || rc=$?
    if ((rc)); then
        log "  $tool: $expect × $comm not running after launch ($t1); log: $(tail -3 "$WORK/$tool"/*.log 2>/dev/null | paste -sd'|')"
        START_S=
        return 1
    fi
    START_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    [[ $tool == pm2 ]] && { pm2_settle || return 1; }
    return 0
}

# Stop the running TOOL gracefully; sets STOP_S ("" if it did not finish within WAIT_MS) and LEFT
# (processes named COMM still running right after the supervisor exited). Then ends all leftovers.
stop_measured() {
    local tool=$1 comm=$2 own t0 t1 rc=0
    own=$("${tool}_own" | paste -sd' ')
    t0=$(now_ns)
    "${tool}_stop"
    t1=$("$PW" gone "$WAIT_MS" $own) || rc=$?
    if ((rc)); then
        STOP_S=; log "  $tool: did not finish stopping within $((WAIT_MS / 1000)) s"
    else
        STOP_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    fi
    sleep 0.2   # let a SIGKILL sent just before the supervisor exited take effect
    LEFT=$("$PW" count "$comm")
    force_stop "$tool"
}

# ---------------------------------------------------------------------------------------------- results
declare -A R   # R[metric|tool] = value ("" = not measured / failed)
put() { R[$1|$2]=$3; }
get() { echo "${R[$1|$2]:-}"; }

# ---------------------------------------------------------------------------------------------- measures
measure_crash() {
    local tool=$1 deadline n=0 lat
    STAMPS=$WORK/$tool-stamps
    [[ $tool == runit ]] && STAMPS=$WORK/runit/sv/p1/stamps
    rm -f "$STAMPS"
    launch "$tool" crash 1 0 || true
    deadline=$(($(now_ns) + CRASH_BUDGET * 1000000000))
    while (($(now_ns) < deadline)); do
        n=$(grep -c '^S' "$STAMPS" 2>/dev/null || true)
        ((${n:-0} > CRASH_MAX)) && break
        if [[ -n $MAIN ]] && "$PW" gone 0 "$MAIN" >/dev/null; then
            log "  $tool: the supervisor exited; log: $(tail -3 "$WORK/$tool"/*.log 2>/dev/null | paste -sd'|')"
            break
        fi
        sleep 0.1
    done
    [[ $tool == pm2 ]] && { pm2_settle || true; }
    stop_measured "$tool" vb-crash
    lat=$(cat "$STAMPS" 2>/dev/null | awk '$1=="E"{e=$2; next} $1=="S" && e {printf "%.3f\n", ($2-e)/1e6; e=0}' \
          | head -n "$CRASH_MAX" | sort -g || true)
    if [[ -z $lat ]]; then
        log "  $tool: no restart observed in ${CRASH_BUDGET}s"; return
    fi
    put crash_n "$tool" "$(wc -l <<<"$lat")"
    put crash_med "$tool" "$(pct 50 <<<"$lat")"
    put crash_p90 "$tool" "$(pct 90 <<<"$lat")"
    put crash_min "$tool" "$(head -1 <<<"$lat" | awk '{printf "%.2f", $1}')"
    log "  $tool: $(get crash_n "$tool") restarts, median $(get crash_med "$tool") ms, p90 $(get crash_p90 "$tool") ms"
}
pct() { awk -v p="$1" '{v[NR]=$1} END{ if (!NR) exit; h=(NR-1)*p/100; l=int(h); u=(l+1<NR)?l+1:l;
    printf "%.2f\n", v[l+1]+(h-l)*(v[u+1]-v[l+1]) }'; }

# Idle window: supervisor's own processes, RSS/PSS at the end, CPU over the window.
idle_window() {
    local tool=$1 key=$2 own u0 u1 t0 t1
    sleep "$SETTLE"
    own=$("${tool}_own" | paste -sd' ')
    t0=$EPOCHREALTIME; u0=$("$PW" usage $own)
    sleep "$IDLE"
    t1=$EPOCHREALTIME; u1=$("$PW" usage $own)
    put "${key}_nproc" "$tool" "$(awk '{print $4}' <<<"$u1")"
    put "${key}_rss" "$tool" "$(awk '{printf "%.1f", $1/1024}' <<<"$u1")"
    put "${key}_pss" "$tool" "$(awk '{printf "%.1f", $2/1024}' <<<"$u1")"
    put "${key}_cpu" "$tool" "$(awk -v a="$u0" -v b="$u1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
        'BEGIN{split(a,x," "); split(b,y," "); printf "%.3f", (y[3]-x[3])/hz/(t1-t0)*100}')"
    log "  $tool idle ($key): $(get "${key}_nproc" "$tool") proc(s), RSS $(get "${key}_rss" "$tool") MiB, PSS $(get "${key}_pss" "$tool") MiB, CPU $(get "${key}_cpu" "$tool") %"
}

measure_idle1() {
    local tool=$1
    launch "$tool" sleep 1 1 || { force_stop "$tool"; return; }
    idle_window "$tool" idle1
    stop_measured "$tool" vb-sleep
}

measure_startN() {   # start N sleeps (timed), idle window, stop (timed)
    local tool=$1
    launch "$tool" sleep "$N" "$N" || { force_stop "$tool"; return; }
    put start "$tool" "$START_S"
    log "  $tool: $N children running after $START_S s"
    idle_window "$tool" idleN
    stop_measured "$tool" vb-sleep
    put stop_sleep "$tool" "$STOP_S"; put left_sleep "$tool" "$LEFT"
    log "  $tool: stop $N × sleep: ${STOP_S:-did not finish} s, $LEFT left"
}

measure_stop_tree() {  # KIND obey|ignore: N children + N grandchildren
    local tool=$1 kind=$2
    launch "$tool" "$kind" "$N" $((2 * N)) || { force_stop "$tool"; return; }
    sleep 1
    stop_measured "$tool" vb-tree
    put "stop_$kind" "$tool" "$STOP_S"; put "left_$kind" "$tool" "$LEFT"
    log "  $tool: stop $N × $kind (+grandchild): ${STOP_S:-did not finish} s, $LEFT of $((2 * N)) left"
}

if [[ " ${TOOLS[*]} " == *" vigil "* ]]; then
    if [[ -z ${VIGIL:-} ]]; then
        log "dotnet build src/Vigil.Cli -c Release"
        dotnet build "$REPO/src/Vigil.Cli" -c Release -nologo -v q -nodeReuse:false -p:UseSharedCompilation=false >$WORK/vigil-build.log 2>&1 \
            || { tail -20 $WORK/vigil-build.log >&2; die "building Vigil failed (the end of its log is above)"; }
        VIGIL=$REPO/src/Vigil.Cli/bin/Release/net10.0/vigil
    fi
    [[ -x $VIGIL ]] || die "VIGIL=$VIGIL is not an executable"
    VIGIL=$(realpath "$VIGIL")
fi

for tool in "${TOOLS[@]}"; do
    log "== $tool"
    # A measure that fails leaves its values empty ("n/a" in the report); the run goes on.
    measure_crash "$tool" || { log "  $tool: crash measure failed"; force_stop "$tool"; }
    measure_idle1 "$tool" || { log "  $tool: idle measure failed"; force_stop "$tool"; }
    measure_startN "$tool" || { log "  $tool: start/stop measure failed"; force_stop "$tool"; }
    measure_stop_tree "$tool" obey || { log "  $tool: stop measure failed"; force_stop "$tool"; }
    measure_stop_tree "$tool" ignore || { log "  $tool: stop measure failed"; force_stop "$tool"; }
done

# ---------------------------------------------------------------------------------------------- report
ratio() {  # value of TOOL ÷ value of Vigil for METRIC
    local v b
    v=$(get "$1" "$2"); b=$(get "$1" vigil)
    if [[ -z $v || -z $b ]] || awk -v b="$b" 'BEGIN{exit !(b+0 == 0)}'; then echo "–"; return; fi
    awk -v v="$v" -v b="$b" 'BEGIN{printf "%.2f×", v/b}'
}
show() { local v; v=$(get "$1" "$2"); echo "${v:-${3:-n/a}}"; }
delay_of() { case $1 in vigil) echo "schedule: [0ms, 0ms]";; supervisord) echo "autorestart, startsecs=0";;
    pm2) echo "restart_delay: 0";; runit) echo "none (runsv)";; esac; }
version_of() {
    case $1 in
        vigil) echo "$(timeout 10 "$VIGIL" --version 2>/dev/null | head -1 || true)$(git -C "$(dirname "$VIGIL")" rev-parse --short HEAD 2>/dev/null | sed 's/^/ at commit /' || true) (\`$VIGIL\`)";;
        supervisord) echo "supervisord $(supervisord --version 2>/dev/null)";;
        pm2) echo "PM2 $(node -e 'console.log(require(process.argv[1]).version)' "$BENCH_DIR/node/node_modules/pm2/package.json" 2>/dev/null)";;
        runit) echo "runit $(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo '?')";;
    esac
}

TOTAL_S=$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
{
    echo "# Vigil vs supervisord, PM2, runit"
    echo
    echo "- command: \`$CMDLINE\`$([[ $QUICK == 1 ]] && echo ' (quick run)')"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${TOTAL_S} s"
    echo "- machine: nproc $(nproc), kernel $(uname -r), $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "- load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
    echo "- versions: $(for t in "${TOOLS[@]}"; do version_of "$t"; done | paste -sd ';' | sed 's/;/; /g')"
    echo "- ×Vigil = the tool's value ÷ Vigil's (above 1× means the tool takes more time / memory / CPU than Vigil)."
    echo "  Method and caveats: bench/README.md."
    echo
    echo "## 1. Crash → restart latency"
    echo
    echo "A C child appends its start and exit times (CLOCK_REALTIME ns) to a file and exits 1 at once;"
    echo "latency = next start − previous exit, with each tool's shortest restart delay. Up to $CRASH_MAX restarts or ${CRASH_BUDGET} s."
    echo
    echo "| tool | restart setting | restarts | median ms | p90 ms | min ms | median ×Vigil |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for t in "${TOOLS[@]}"; do
        echo "| $t | $(delay_of "$t") | $(show crash_n "$t" 0) | $(show crash_med "$t") | $(show crash_p90 "$t") | $(show crash_min "$t") | $(ratio crash_med "$t") |"
    done
    for k in idle1 idleN; do
        echo
        [[ $k == idle1 ]] && c=1 || c=$N
        echo "## 2$([[ $k == idle1 ]] && echo a || echo b). Idle memory and CPU, $c \`sleep infinity\` child$([[ $c != 1 ]] && echo ren)"
        echo
        echo "The supervisor's own processes only (Vigil: \`vigil run\`; supervisord: its Python process; PM2: the God"
        echo "daemon; runit: runsvdir + every runsv). RSS and PSS summed from /proc/PID/smaps_rollup at the end of a"
        echo "${IDLE} s window that starts ${SETTLE} s after the children run; CPU = utime+stime over the window, % of one core."
        echo
        echo "| tool | processes | RSS MiB | PSS MiB | PSS ×Vigil | CPU % | CPU ×Vigil |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for t in "${TOOLS[@]}"; do
            echo "| $t | $(show ${k}_nproc "$t") | $(show ${k}_rss "$t") | $(show ${k}_pss "$t") | $(ratio ${k}_pss "$t") | $(show ${k}_cpu "$t") | $(ratio ${k}_cpu "$t") |"
        done
    done
    echo
    echo "## 3a. Time to start $N children"
    echo
    echo "From launching the supervisor (config of $N \`sleep infinity\` programs) until $N of them run, counted in /proc."
    echo
    echo "| tool | seconds | ×Vigil |"
    echo "|---|---:|---:|"
    for t in "${TOOLS[@]}"; do echo "| $t | $(show start "$t") | $(ratio start "$t") |"; done
    echo
    echo "## 3b. Time to stop $N children"
    echo
    echo "From asking the supervisor to stop (Vigil, supervisord: SIGTERM; PM2: \`pm2 kill\`; runit: \`sv -w $GRACE force-stop\`,"
    echo "\`sv exit\`, SIGHUP to runsvdir) until all its own processes have exited; grace period $GRACE s before SIGKILL"
    echo "where the tool has one. *Left* = processes of the test still running right after that (then killed)."
    echo "*obey+gc*: each child dies on SIGTERM but forks a grandchild that ignores it; *ignore+gc*: child and grandchild"
    echo "both ignore SIGTERM ($((2 * N)) processes in both cases). Timeout ${WAIT_MS%000} s (\"did not finish\")."
    echo
    echo "| tool | sleep: s | ×Vigil | left (of $N) | obey+gc: s | ×Vigil | left (of $((2 * N))) | ignore+gc: s | ×Vigil | left (of $((2 * N))) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for t in "${TOOLS[@]}"; do
        row="| $t"
        for k in sleep obey ignore; do
            if [[ -z $(get "left_$k" "$t") ]]; then row+=" | n/a | – | n/a"
            else row+=" | $(show stop_$k "$t" 'did not finish') | $(ratio stop_$k "$t") | $(get "left_$k" "$t")"; fi
        done
        echo "$row |"
    done
    if [[ " ${TOOLS[*]} " != *" vigil "* ]]; then
        echo
        echo "Vigil was not part of this run (BENCH_TOOLS), so there are no ratios."
    fi
} >"$OUT"
log "wrote $OUT (${TOTAL_S} s)"
cat "$OUT"
