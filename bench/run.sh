#!/usr/bin/env bash
# Side-by-side benchmark of Vigil (the Native AOT build that ships and the ReadyToRun build before it), supervisord,
# PM2, runit (runsvdir + runsv) and monit, in one run.
#
#   bench/run.sh                     full run (~9.5 min), writes bench/RESULTS.md
#   BENCH_QUICK=1 bench/run.sh       smaller run (~4 min), writes bench/RESULTS-quick.md
#
# Environment:
#   VIGIL=PATH          the vigil binary (default: scripts/publish in this repo, the build that ships: Native AOT)
#   VIGIL_R2R=PATH      the ReadyToRun build, tool "r2r" (default: scripts/publish --r2r in this repo)
#   BENCH_TOOLS="..."   subset and order of: vigil r2r supervisord pm2 runit monit (default: all six)
#   BENCH_QUICK=1       20 children instead of 100, 5 s idle windows, ≤20 restarts, 50 MiB flood × 1 run
#   BENCH_CAP_REPS=N    runs per tool in measure 4 (default 3; the median is reported)
#   BENCH_ONLY=capture  run only measure 4 (writes bench/RESULTS-capture.md, or -capture-quick.md)
#   BENCH_OUT=FILE      where to write the Markdown report
#   BENCH_KEEP=1        keep the temporary work folder (configs, logs, stamp files) for inspection
#
# Measures (see bench/README.md for the method and the decisions behind it):
#   1. crash→restart latency with the shortest restart delay each tool allows
#   2. idle RSS/PSS and CPU of the supervisor's own processes with 1 and with N children
#   3. time to start N children; time to stop N children (plain sleep; obeying TERM with a TERM-ignoring
#      grandchild; ignoring TERM with a TERM-ignoring grandchild) and how many processes are left running
#   4. time to capture 200 MiB of lines from one child into a log file (vs `cat > file` as the floor),
#      completeness of the log (gap-free, in-order sequence numbers), CPU of the supervisor per 100 MiB
# Needs root for apt-get (only when supervisor, runit, hyperfine or a C compiler is missing).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
QUICK=${BENCH_QUICK:-0}
TOOLS=(${BENCH_TOOLS:-vigil r2r supervisord pm2 runit monit})
ONLY=${BENCH_ONLY:-}
if [[ $QUICK == 1 ]]; then
    N=20 CRASH_MAX=20 CRASH_BUDGET=8 IDLE=5 SETTLE=2
    FLOOD_BYTES=52428800 CAP_REPS=1                   # 50 MiB, one run per tool
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS${ONLY:+-$ONLY}-quick.md}
else
    N=100 CRASH_MAX=60 CRASH_BUDGET=20 IDLE=30 SETTLE=5
    FLOOD_BYTES=209715200 CAP_REPS=${BENCH_CAP_REPS:-3} # 200 MiB, three runs per tool (median)
    OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS${ONLY:+-$ONLY}.md}
fi
FLOOD_LINES=$((FLOOD_BYTES / 100))                    # vb-flood writes lines of exactly 100 bytes
CAP_WAIT_MS=120000 # bound on every wait of the capture measure
GRACE=3            # stop grace period (s) configured in every tool that has one
WAIT_MS=60000      # bound on every wait
CLK_TCK=$(getconf CLK_TCK)
RUN_START=$EPOCHREALTIME
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CMDLINE="$(for v in VIGIL VIGIL_R2R BENCH_TOOLS BENCH_QUICK BENCH_ONLY BENCH_CAP_REPS BENCH_OUT; do [[ -z ${!v:-} ]] || printf '%s=%q ' "$v" "${!v}"; done)bench/run.sh${*:+ $*}"

log() { printf '[%6.1fs] %s\n' "$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }
for t in "${TOOLS[@]}"; do
    case $t in vigil|r2r|supervisord|pm2|runit|monit) ;; *) die "unknown tool '$t' in BENCH_TOOLS (vigil r2r supervisord pm2 runit monit)";; esac
done
case $ONLY in ''|capture) ;; *) die "unknown BENCH_ONLY '$ONLY' (capture)";; esac

# ---------------------------------------------------------------------------------------------- installs
install_deps() {
    local need=()
    command -v supervisord >/dev/null || need+=(supervisor)
    { command -v runsvdir && command -v runsv && command -v sv; } >/dev/null || need+=(runit)
    command -v hyperfine >/dev/null || need+=(hyperfine)
    [[ " ${TOOLS[*]} " != *" monit "* ]] || command -v monit >/dev/null || need+=(monit)
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
cc -O2 -Wall -o "$BIN/vb-flood" "$BENCH_DIR/src/vb-flood.c"
cc -O2 -Wall -o "$BIN/logcheck" "$BENCH_DIR/src/logcheck.c"
cp "$(command -v sleep)" "$BIN/vb-sleep"     # coreutils sleep under a name of its own: `vb-sleep infinity`
PW=$BIN/pwatch
LC=$BIN/logcheck

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
    "$PW" until le 0 5000 vb-sleep vb-tree vb-crash vb-flood >/dev/null
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
    local kind=$1 count=$2 dir=$WORK/${CUR_TOOL:-vigil} i a restart
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

# --- r2r: the same, with the ReadyToRun build (framework-dependent, the build that shipped before Native AOT).
r2r_start() { local VIGIL=$VIGIL_R2R; vigil_start "$@"; }
r2r_own() { vigil_own; }
r2r_stop() { vigil_stop; }

# --- monit: `monit -I` (foreground), `set daemon 1` (its shortest cycle), one `check process` per program with a
#     pidfile; monit starts what is not running at each cycle. Its start program must return, so it starts the
#     program in the background and writes the pidfile: the programs are not monit's children. monit has no
#     "stop everything and exit": quitting leaves them running, so the stop measures (3b) are not taken for it.
monit_start() {
    local kind=$1 count=$2 dir=$WORK/monit i
    rm -rf "$dir"; mkdir -p "$dir"
    {
        echo "set daemon 1"
        echo "set logfile $dir/monit.log"
        echo "set pidfile $dir/monit.pid"
        echo "set idfile $dir/monit.id"
        echo "set statefile $dir/monit.state"
        for ((i = 1; i <= count; i++)); do
            echo "check process p$i with pidfile $dir/p$i.pid"
            echo "  start program = \"/bin/sh -c 'cd $dir; $(argv_of "$kind" | paste -sd' ') </dev/null >/dev/null 2>&1 & echo \$! > $dir/p$i.pid'\""
        done
    } >"$dir/monitrc"
    chmod 600 "$dir/monitrc"
    (cd "$dir" && exec monit -I -c "$dir/monitrc") >"$dir/monit.out" 2>&1 &
    MAIN=$!
}
monit_own() { echo "$MAIN"; }
monit_stop() { kill -TERM "$MAIN" 2>/dev/null || true; }

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
    [[ $tool != monit ]] || return 0   # quitting monit is not stopping its programs (see monit_start)
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
        log "scripts/publish (Vigil as it ships: Native AOT)"
        VIGIL=$("$REPO/scripts/publish") || die "building Vigil failed (scripts/publish)"
    fi
    [[ -x $VIGIL ]] || die "VIGIL=$VIGIL is not an executable"
    VIGIL=$(realpath "$VIGIL")
fi
if [[ " ${TOOLS[*]} " == *" r2r "* ]]; then
    if [[ -z ${VIGIL_R2R:-} ]]; then
        log "scripts/publish --r2r (Vigil as it shipped before: ReadyToRun)"
        VIGIL_R2R=$("$REPO/scripts/publish" --r2r) || die "building Vigil failed (scripts/publish --r2r)"
    fi
    [[ -x $VIGIL_R2R ]] || die "VIGIL_R2R=$VIGIL_R2R is not an executable"
    VIGIL_R2R=$(realpath "$VIGIL_R2R")
fi

for tool in "${TOOLS[@]}"; do
    [[ -z $ONLY ]] || break
    log "== $tool"
    # A measure that fails leaves its values empty ("n/a" in the report); the run goes on.
    measure_crash "$tool" || { log "  $tool: crash measure failed"; force_stop "$tool"; }
    measure_idle1 "$tool" || { log "  $tool: idle measure failed"; force_stop "$tool"; }
    measure_startN "$tool" || { log "  $tool: start/stop measure failed"; force_stop "$tool"; }
    [[ $tool != monit ]] || continue   # no stop-all (see monit_start)
    measure_stop_tree "$tool" obey || { log "  $tool: stop measure failed"; force_stop "$tool"; }
    measure_stop_tree "$tool" ignore || { log "  $tool: stop measure failed"; force_stop "$tool"; }
done

# ---------------------------------------------------------------------------------------------- 4. capture
# One vb-flood child writes FLOOD_BYTES of numbered 100-byte lines as fast as it can and exits; each tool
# writes them to one log file. Configurations (rows of section 4), in report order:
CAP_IDS=(cat)
for t in "${TOOLS[@]}"; do
    case $t in
        vigil) CAP_IDS+=(vigil_ts vigil_plain) ;;
        r2r) CAP_IDS+=(r2r_ts r2r_plain) ;;
        pm2) CAP_IDS+=(pm2 pm2_time) ;;
        monit) ;;   # monit does not capture output
        *) CAP_IDS+=("$t") ;;
    esac
done
cap_label() {
    case $1 in
        cat) echo "\`cat > file\` (floor)" ;;
        vigil_ts) echo "Vigil \`log: { file, timestamps: true }\`" ;;
        vigil_plain) echo "Vigil \`log: { file }\` (no timestamps)" ;;
        r2r_ts) echo "Vigil ReadyToRun \`log: { file, timestamps: true }\`" ;;
        r2r_plain) echo "Vigil ReadyToRun \`log: { file }\` (no timestamps)" ;;
        supervisord) echo "supervisord \`stdout_logfile\` (no timestamps)" ;;
        pm2) echo "PM2 \`out_file\` (no timestamps)" ;;
        pm2_time) echo "PM2 \`out_file\`, \`time: true\`" ;;
        runit) echo "runit \`svlogd -tt\`" ;;
    esac
}
cap_cpu_of() {
    case $1 in
        cat) echo "cat" ;; vigil*|r2r*) echo "vigil run" ;; supervisord) echo "supervisord" ;;
        pm2*) echo "God daemon" ;; runit) echo "runsvdir+runsv+svlogd" ;;
    esac
}

# cap_start_ID DIR: write the config, launch; set MAIN, CAP_LOG (the log file), CAP_PIDS (processes whose
# CPU is counted), CAP_ALIVE (a process whose exit before the log is complete means failure; "" = none).
cap_start_cat() {
    local dir=$1
    "$BIN/vb-flood" "$FLOOD_BYTES" | (cd "$dir" && exec cat >"$dir/flood.log") &
    MAIN=$! CAP_LOG=$dir/flood.log CAP_PIDS=$! CAP_ALIVE=
}
cap_vigil() {
    local dir=$1 ts=$2
    {
        echo "processes:"
        echo "  - name: flood"
        echo "    command: [\"$BIN/vb-flood\", \"$FLOOD_BYTES\"]"
        echo "    restart: { policy: never }"
        echo "    log: { file: $dir/flood.log, timestamps: $ts }"
    } >"$dir/vigil.yaml"
    (cd "$dir" && exec "$VIGIL" run -c "$dir/vigil.yaml") >"$dir/vigil.log" 2>&1 &
    MAIN=$! CAP_LOG=$dir/flood.log CAP_PIDS=$! CAP_ALIVE=$!
}
cap_start_vigil_ts() { cap_vigil "$1" true; }
cap_start_vigil_plain() { cap_vigil "$1" false; }
cap_start_r2r_ts() { local VIGIL=$VIGIL_R2R; cap_vigil "$1" true; }
cap_start_r2r_plain() { local VIGIL=$VIGIL_R2R; cap_vigil "$1" false; }
cap_start_supervisord() {
    local dir=$1
    # supervisord's defaults, except stdout_logfile_maxbytes=0: its default (50MB, 10 backups) would rotate
    # the flood over 5 files; no tool rotates here. startsecs=0 + autorestart=false: run once, no retry.
    {
        printf '[supervisord]\nnodaemon=true\nuser=root\nlogfile=%s\npidfile=%s\nchildlogdir=%s\n' \
            "$dir/supervisord.log" "$dir/supervisord.pid" "$dir"
        printf '[unix_http_server]\nfile=%s\n' "$dir/supervisor.sock"
        printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
        printf '[program:flood]\ncommand=%s %s\nautorestart=false\nstartsecs=0\n' "$BIN/vb-flood" "$FLOOD_BYTES"
        printf 'stdout_logfile=%s\nstdout_logfile_maxbytes=0\nstderr_logfile=%s\n' "$dir/flood.log" "$dir/flood.err"
    } >"$dir/supervisord.conf"
    supervisord -n -c "$dir/supervisord.conf" >"$dir/stdout.log" 2>&1 &
    MAIN=$! CAP_LOG=$dir/flood.log CAP_PIDS=$! CAP_ALIVE=$!
}
cap_pm2() {
    local dir=$1 time=$2
    rm -rf "$PM2_HOME"
    printf '{"apps": [{"name": "flood", "script": "%s", "args": ["%s"], "interpreter": "none", "exec_mode": "fork", "cwd": "%s", "autorestart": false, "merge_logs": true, "out_file": "%s", "error_file": "%s", "time": %s}]}\n' \
        "$BIN/vb-flood" "$FLOOD_BYTES" "$dir" "$dir/flood.log" "$dir/flood.err" "$time" >"$dir/ecosystem.json"
    (cd "$dir" && exec timeout 120 "$PM2" start "$dir/ecosystem.json") >"$dir/start.log" 2>&1 &
    PM2_CLI=$!
    MAIN=$(pm2_god) || return 1
    CAP_LOG=$dir/flood.log CAP_PIDS=$MAIN CAP_ALIVE=$MAIN
}
cap_start_pm2() { cap_pm2 "$1" false; }
cap_start_pm2_time() { cap_pm2 "$1" true; }
cap_start_runit() {
    local dir=$1 s=$1/sv/flood runsv= svl= i
    mkdir -p "$s/log/main"
    printf '#!/bin/sh\nexec %s %s\n' "$BIN/vb-flood" "$FLOOD_BYTES" >"$s/run"
    printf '#!/bin/sh\nexec svlogd -tt main\n' >"$s/log/run"
    chmod +x "$s/run" "$s/log/run"
    printf 's0\n' >"$s/log/main/config"   # no rotation (default: 1 MB × 10 files would drop most of the flood)
    touch "$s/down"                        # runsv must not start (and restart) it by itself: `sv once` below
    runsvdir -P "$dir/sv" >"$dir/runsvdir.log" 2>&1 &
    MAIN=$!
    for ((i = 0; i < 1000; i++)); do       # until runsv, its svlogd and the control pipe are up (≤ 10 s)
        runsv=$("$PW" kids "$MAIN" runsv)
        [[ -n $runsv ]] && svl=$("$PW" kids "$runsv" svlogd)
        [[ -n $svl ]] && sv status "$s" >/dev/null 2>&1 && break
        sleep 0.01
    done
    [[ -n $svl ]] || return 1
    sv once "$s" >/dev/null
    CAP_LOG=$s/log/main/current CAP_PIDS="$MAIN $runsv $svl" CAP_ALIVE=$MAIN
}
cap_stop() {   # the tool's normal stop, bounded; then SIGKILL whatever is left
    local tool=$1 own
    case $tool in
        vigil|r2r|supervisord) own=$MAIN; kill -TERM "$MAIN" 2>/dev/null || true ;;
        pm2) own=$MAIN; wait "$PM2_CLI" 2>/dev/null || true; pm2_stop ;;
        runit) own=$(runit_own | paste -sd' '); runit_stop ;;
        cat) own= ;;
    esac
    [[ -z $own ]] || "$PW" gone "$WAIT_MS" $own >/dev/null || log "  $tool: did not stop within $((WAIT_MS / 1000)) s"
    force_stop "$tool"
}

# One run of configuration ID: appends to CAP_S[ID] (seconds), CAP_CPU[ID] (ticks), sets CAP_NOTE[ID] on
# failure, CAP_CHECK[ID] (completeness of the worst run), CAP_SIZE[ID] (log bytes).
declare -A CAP_S CAP_CPU CAP_NOTE CAP_CHECK CAP_SIZE CAP_STALL
measure_capture() {
    local id=$1 tool=${1%%_*} dir=$WORK/${1%%_*} out rc=0 st=0 v end start t0 t1 secs lines good missing disorder bad check
    [[ -z ${CAP_NOTE[$id]:-} ]] || return 0      # n/a or failed before: do not repeat
    rm -rf "$dir"; mkdir -p "$dir"
    CUR_TOOL=$tool MAIN= CAP_PIDS= CAP_ALIVE=
    if ! "cap_start_$id" "$dir"; then
        CAP_NOTE[$id]="did not start"; log "  $id: did not start"; cap_stop "$tool"; return 0
    fi
    out=$(LOGCHECK_ALIVE=$CAP_ALIVE "$LC" wait "$CAP_LOG" "$FLOOD_LINES" "$CAP_WAIT_MS" $CAP_PIDS) || rc=$?
    if ((rc == 4)); then
        wait "$MAIN" 2>/dev/null || st=$?
        if [[ $tool == vigil || $tool == r2r ]] && [[ $st == 2 ]]; then
            CAP_NOTE[$id]="n/a (log: not supported by this vigil)"
            log "  $id: vigil run exited with 2: $(head -3 "$dir/vigil.log" | paste -sd'|')"
        else
            CAP_NOTE[$id]="supervisor exited (status $st) before the log was complete"
            log "  $id: ${CAP_NOTE[$id]}; log: $(tail -3 "$dir"/*.log 2>/dev/null | paste -sd'|')"
        fi
        cap_stop "$tool"; rm -rf "$dir"; return 0
    elif ((rc == 5)); then   # the child exited, the log stopped growing incomplete: time to its last write
        read -r _ end start t0 t1 <<<"$out"
        secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", (b-a)/1e9}')
        CAP_S[$id]+="$secs "; CAP_CPU[$id]+="$((t1 - t0)) "
        CAP_STALL[$id]=1
        log "  $id: the log stopped growing before its last line arrived"
    elif ((rc)); then
        CAP_NOTE[$id]="did not finish in $((CAP_WAIT_MS / 1000)) s"
        log "  $id: $out"
    else
        read -r end start t0 t1 <<<"$out"
        secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", (b-a)/1e9}')
        CAP_S[$id]+="$secs "; CAP_CPU[$id]+="$((t1 - t0)) "
    fi
    cap_stop "$tool"
    v=$("$LC" verify "$CAP_LOG" "$FLOOD_LINES")
    lines=$(sed 's/.*lines=\([0-9]*\).*/\1/' <<<"$v"); good=$(sed 's/.*good=\([0-9]*\).*/\1/' <<<"$v")
    missing=$(sed 's/.*missing=\([0-9]*\).*/\1/' <<<"$v"); disorder=$(sed 's/.*disorder=\([0-9]*\).*/\1/' <<<"$v")
    bad=$(sed 's/.*bad=\([0-9]*\).*/\1/' <<<"$v")
    if ((missing == 0 && disorder == 0 && bad == 0 && good == FLOOD_LINES)); then check=complete
    else
        check=$( ((missing)) && echo "$missing missing"; ((disorder)) && echo "$disorder out of order";
                 ((bad)) && echo "$bad split/altered lines"; true)
        check=$(paste -sd';' <<<"$check" | sed 's/;/; /g')
    fi
    [[ -z ${CAP_CHECK[$id]:-} || ${CAP_CHECK[$id]} == complete ]] && CAP_CHECK[$id]=$check
    CAP_SIZE[$id]=$(stat -c %s "$CAP_LOG" 2>/dev/null || echo 0)
    log "  $id: ${secs:-–} s, $lines lines, $check, log $(awk -v b="${CAP_SIZE[$id]}" 'BEGIN{printf "%.1f", b/1048576}') MiB, CPU $((${t1:-0} - ${t0:-0})) ticks"
    rm -rf "$dir" "$PM2_HOME"
    sync   # no write-back of this run's pages during the next one
}

if [[ -z $ONLY || $ONLY == capture ]]; then
    log "== capture: $((FLOOD_BYTES / 1048576)) MiB ($FLOOD_LINES lines) × $CAP_REPS run(s) per tool, round robin"
    for ((rep = 1; rep <= CAP_REPS; rep++)); do
        for id in "${CAP_IDS[@]}"; do measure_capture "$id" || { log "  $id: capture failed"; force_stop "${id%%_*}"; }; done
    done
fi

# ---------------------------------------------------------------------------------------------- report
ratio() {  # value of TOOL ÷ value of Vigil for METRIC
    local v b
    v=$(get "$1" "$2"); b=$(get "$1" vigil)
    if [[ -z $v || -z $b ]] || awk -v b="$b" 'BEGIN{exit !(b+0 == 0)}'; then echo "–"; return; fi
    awk -v v="$v" -v b="$b" 'BEGIN{printf "%.2f×", v/b}'
}
med() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{v[NR]=$1} END{if (NR) printf "%.3f\n", (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
cratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(b+0 > 0)}' && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f×", a/b}' || echo "–"; }
show() { local v; v=$(get "$1" "$2"); echo "${v:-${3:-n/a}}"; }
delay_of() { case $1 in vigil|r2r) echo "schedule: [0ms, 0ms]";; supervisord) echo "autorestart, startsecs=0";;
    pm2) echo "restart_delay: 0";; runit) echo "none (runsv)";; monit) echo "set daemon 1 (its cycle)";; esac; }
version_of() {
    case $1 in
        vigil) echo "$(timeout 10 "$VIGIL" --version 2>/dev/null | head -1 || true)$(git -C "$(dirname "$VIGIL")" rev-parse --short HEAD 2>/dev/null | sed 's/^/ at commit /' || true) (\`$VIGIL\`)";;
        r2r) echo "ReadyToRun $(timeout 10 "$VIGIL_R2R" --version 2>/dev/null | head -1 || true) (\`$VIGIL_R2R\`)";;
        monit) echo "$(monit -V 2>/dev/null | head -1)";;
        supervisord) echo "supervisord $(supervisord --version 2>/dev/null)";;
        pm2) echo "PM2 $(node -e 'console.log(require(process.argv[1]).version)' "$BENCH_DIR/node/node_modules/pm2/package.json" 2>/dev/null)";;
        runit) echo "runit $(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo '?')";;
    esac
}

TOTAL_S=$(awk -v a="$RUN_START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
{
    echo "# Vigil vs supervisord, PM2, runit, monit"
    echo
    echo "- command: \`$CMDLINE\`$([[ $QUICK == 1 ]] && echo ' (quick run)')"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${TOTAL_S} s"
    echo "- machine: nproc $(nproc), kernel $(uname -r), $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "- load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
    echo "- versions: $(for t in "${TOOLS[@]}"; do version_of "$t"; done | paste -sd ';' | sed 's/;/; /g')"
    echo "- ×Vigil = the tool's value ÷ Vigil's (above 1× means the tool takes more time / memory / CPU than Vigil)."
    echo "  vigil = the Native AOT build that ships; r2r = the ReadyToRun build before it (same source, scripts/publish --r2r)."
    echo "  Method and caveats: bench/README.md."
    [[ -z $ONLY ]] || echo "- only measure 4 was run (BENCH_ONLY=$ONLY); sections 1–3 are in bench/RESULTS.md"
  if [[ -z $ONLY ]]; then
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
  fi
    if [[ -z $ONLY || $ONLY == capture ]]; then
        echo
        echo "## 4. Capture $((FLOOD_BYTES / 1048576)) MiB of lines into a log file"
        echo
        echo "One C child (\`vb-flood $FLOOD_BYTES\`) writes $FLOOD_LINES numbered lines of 100 bytes to stdout, in 1 MB"
        echo "write() calls, as fast as it can, and exits; the tool writes them to one log file (no rotation)."
        echo "Time = from the child's first instruction (its start stamp travels in the first line) until the child has"
        echo "exited and the log ends with the complete last line (polled every 1 ms, bound ${CAP_WAIT_MS%000} s). Median of"
        echo "$CAP_REPS run(s) per tool, round robin. MiB/s counts the child's bytes (the log is bigger with timestamps)."
        echo "CPU = utime+stime of the tool's process(es) from the first byte in the log to the end, per 100 MiB"
        echo "(1 tick = 10 ms). *Log* = sequence numbers checked after the run (the first incomplete run shown): complete = every"
        echo "line present once, whole and in order. ×Vigil against Vigil with timestamps; ×floor against \`cat\`"
        echo "(\`vb-flood | cat > file\`). A log that stops growing for 5 s after the child exited without its last line is"
        echo "timed to its last growth and marked."
        echo
        echo "| tool | runs | seconds | min–max | MiB/s | ×Vigil | ×floor | CPU s / 100 MiB (process) | log MiB | log |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        vref=$(med "${CAP_S[vigil_ts]:-}"); fref=$(med "${CAP_S[cat]:-}")
        for id in "${CAP_IDS[@]}"; do
            m=$(med "${CAP_S[$id]:-}")
            if [[ -z $m ]]; then
                echo "| $(cap_label "$id") | 0 | ${CAP_NOTE[$id]:-n/a} | | | | | | | |"; continue
            fi
            echo "| $(cap_label "$id") | $(wc -w <<<"${CAP_S[$id]}") | $m | $(tr ' ' '\n' <<<"${CAP_S[$id]}" | sed '/^$/d' | sort -g | awk 'NR==1{a=$1} {b=$1} END{print a "–" b}')" \
                 "| $(awk -v b="$FLOOD_BYTES" -v s="$m" 'BEGIN{printf "%.0f", b/1048576/s}')" \
                 "| $(cratio "$m" "$vref") | $(cratio "$m" "$fref")" \
                 "| $(awk -v t="$(med "${CAP_CPU[$id]}")" -v hz="$CLK_TCK" -v b="$FLOOD_BYTES" 'BEGIN{printf "%.2f", t/hz/(b/104857600)}') ($(cap_cpu_of "$id"))" \
                 "| $(awk -v b="${CAP_SIZE[$id]:-0}" 'BEGIN{printf "%.1f", b/1048576}') | ${CAP_CHECK[$id]:-n/a}${CAP_STALL[$id]:+ (the last line never came: time = when the log last grew)}${CAP_NOTE[$id]:+ (a run: ${CAP_NOTE[$id]})} |"
        done
    fi
    if [[ " ${TOOLS[*]} " != *" vigil "* ]]; then
        echo
        echo "Vigil was not part of this run (BENCH_TOOLS), so there are no ratios."
    fi
} >"$OUT"
log "wrote $OUT (${TOTAL_S} s)"
cat "$OUT"
