#!/usr/bin/env bash
# `vigil ls` against `supervisorctl status` and `pm2 ls`, each listing the same N running processes, in one run.
#
#   bench/ls.sh                 N=100, 30 timed runs per command (hyperfine, 3 warm-ups); ~2 min
#   BENCH_N=20 bench/ls.sh      fewer processes
#
# Environment:
#   VIGIL=PATH       the vigil binary (default: scripts/publish, the ReadyToRun build that ships today)
#   VIGIL_AOT=PATH   a Native AOT build to time as the client as well (default: published here with PublishAot=true
#                    into .artifacts/vigil-aot; VIGIL_AOT=none skips it). Until issue 12 makes AOT the shipping build,
#                    the trim warnings of the engine's JIT warm-up are not errors here: this binary is only the client
#                    (`ls`); the supervisor timed against is always $VIGIL.
#   BENCH_RUNS=N     timed runs per command (default 30)
#   BENCH_OUT=FILE   where the Markdown table goes (default: the "vigil ls" section of bench/RESULTS.md is replaced)
#
# Each tool supervises N copies of `sleep infinity` (a copy of sleep per tool, vb-sleep-TOOL), started from a config as its users
# would write one, and the timing starts once all N are running. The client commands are the ones an operator types;
# each one reads the full list over the tool's own control channel (Vigil: its Unix socket; supervisord: XML-RPC over
# its Unix socket; PM2: its RPC socket to the God daemon). Needs root for apt-get only when something is missing.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
N=${BENCH_N:-100}
RUNS=${BENCH_RUNS:-30}
CMDLINE="$(for v in VIGIL VIGIL_AOT BENCH_N BENCH_RUNS BENCH_OUT; do [[ -z ${!v:-} ]] || printf '%s=%q ' "$v" "${!v}"; done)bench/ls.sh"
log() { printf '[ls] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need=()
command -v supervisord >/dev/null || need+=(supervisor)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v jq >/dev/null || need+=(jq)
if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ ! -x $BENCH_DIR/node/node_modules/.bin/pm2 ]]; then
    command -v npm >/dev/null || die "npm is needed for PM2 (apt-get install nodejs npm)"
    (cd "$BENCH_DIR/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
PM2=$BENCH_DIR/node/node_modules/.bin/pm2

VIGIL=${VIGIL:-}
if [[ -z $VIGIL ]]; then
    log "building vigil (scripts/publish)"
    VIGIL=$("$REPO/scripts/publish")
fi
VIGIL_AOT=${VIGIL_AOT:-}
if [[ -z $VIGIL_AOT ]]; then
    log "building vigil with Native AOT (.artifacts/vigil-aot)"
    if dotnet publish "$REPO/src/Vigil.Cli" -c Release -r linux-x64 -p:PublishAot=true -p:TreatWarningsAsErrors=false -nologo -v q \
            -nodeReuse:false -p:UseSharedCompilation=false -o "$REPO/.artifacts/vigil-aot" >/tmp/vigil-aot-publish.log 2>&1; then
        VIGIL_AOT=$REPO/.artifacts/vigil-aot/vigil
    else
        log "Native AOT publish failed (tail of /tmp/vigil-aot-publish.log below); timing the ReadyToRun build only"
        tail -5 /tmp/vigil-aot-publish.log >&2
        VIGIL_AOT=none
    fi
fi

WORK=$(mktemp -d /tmp/vigil-bench-ls.XXXXXX)
export PM2_HOME=$WORK/pm2-home
VIGIL_PID= SUP_PID=
cleanup() {
    set +e
    [[ -n $VIGIL_PID ]] && kill -TERM "$VIGIL_PID" 2>/dev/null
    [[ -n $SUP_PID ]] && kill -TERM "$SUP_PID" 2>/dev/null
    [[ -d $PM2_HOME ]] && timeout 30 "$PM2" kill >/dev/null 2>&1
    for p in $VIGIL_PID $SUP_PID; do timeout 30 tail --pid="$p" -f /dev/null; done
    pkill -KILL -f "$WORK/bin/vb-sleep-" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/bin" "$WORK/vigil" "$WORK/sup/logs" "$WORK/pm2"
# One copy of sleep per tool, so each tool's N processes can be counted apart.
for t in vigil supervisord pm2; do cp "$(command -v sleep)" "$WORK/bin/vb-sleep-$t"; done

count_running() { pgrep -f "^$WORK/bin/vb-sleep-$1 infinity\$" | wc -l; }
wait_running() { # TAG: wait until N sleeps with that tag run
    local i
    for ((i = 0; i < 600; i++)); do
        (( $(count_running "$1") >= N )) && return 0
        sleep 0.1
    done
    die "$1: only $(count_running "$1") of $N processes running after 60 s"
}

# Vigil: one config, run in the foreground, listed with `vigil ls` on its socket.
{
    echo "name: bench-ls"
    echo "processes:"
    for ((i = 1; i <= N; i++)); do echo "  - { name: p$i, command: [$WORK/bin/vb-sleep-vigil, infinity] }"; done
} >"$WORK/vigil/vigil.yaml"
mkdir -m 700 "$WORK/run"   # the socket's folder must be private (0700), as Vigil checks
SOCK=$WORK/run/vigil.sock
(cd "$WORK/vigil" && exec "$VIGIL" run -c vigil.yaml --socket "$SOCK") >"$WORK/vigil/out.log" 2>&1 &
VIGIL_PID=$!
wait_running vigil

# supervisord: the same programs, its control socket, `supervisorctl status`.
{
    printf '[supervisord]\nnodaemon=true\nuser=root\nlogfile=%s\npidfile=%s\nchildlogdir=%s\n' \
        "$WORK/sup/supervisord.log" "$WORK/sup/supervisord.pid" "$WORK/sup/logs"
    printf '[unix_http_server]\nfile=%s\n' "$WORK/sup/supervisor.sock"
    printf '[supervisorctl]\nserverurl=unix://%s\n' "$WORK/sup/supervisor.sock"
    printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
    for ((i = 1; i <= N; i++)); do printf '[program:p%d]\ncommand=%s infinity\nstartsecs=0\n' "$i" "$WORK/bin/vb-sleep-supervisord"; done
} >"$WORK/sup/supervisord.conf"
supervisord -n -c "$WORK/sup/supervisord.conf" >"$WORK/sup/stdout.log" 2>&1 &
SUP_PID=$!
wait_running supervisord

# PM2: an ecosystem file, `pm2 ls`.
{
    echo '{"apps": ['
    for ((i = 1; i <= N; i++)); do
        ((i > 1)) && echo ','
        printf '{"name": "p%d", "script": "%s", "args": ["infinity"], "interpreter": "none", "exec_mode": "fork"}' "$i" "$WORK/bin/vb-sleep-pm2"
    done
    echo ']}'
} >"$WORK/pm2/ecosystem.json"
(cd "$WORK/pm2" && timeout 120 "$PM2" start ecosystem.json >"$WORK/pm2/start.log" 2>&1)
wait_running pm2

# Each command must list all N processes as running before it is timed.
"$VIGIL" ls --socket "$SOCK" | grep -c ' running ' | grep -qx "$N" || die "vigil ls does not list $N running units"
supervisorctl -c "$WORK/sup/supervisord.conf" status | grep -c RUNNING | grep -qx "$N" || die "supervisorctl status does not list $N RUNNING"
"$PM2" ls | grep -c online | grep -qx "$N" || die "pm2 ls does not list $N online"

cmds=(-n "vigil ls" "$VIGIL ls --socket $SOCK")
[[ $VIGIL_AOT != none ]] && cmds+=(-n "vigil ls (Native AOT)" "$VIGIL_AOT ls --socket $SOCK")
cmds+=(-n "supervisorctl status" "supervisorctl -c $WORK/sup/supervisord.conf status")
cmds+=(-n "pm2 ls" "$PM2 ls")
log "timing ${#cmds[@]} commands, $RUNS runs each"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/ls.json" "${cmds[@]}" >&2

# --- report
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
table=$(jq -r '.results[] | [.command, .mean, .stddev, .median, .min] | @tsv' "$WORK/ls.json")
vigil_mean=$(jq -r '.results[0].mean' "$WORK/ls.json")
best_vigil=$(jq -r '[.results[] | select(.command | startswith("vigil")) | .mean] | min' "$WORK/ls.json")
{
    echo "## vigil ls with $N units, against supervisorctl status and pm2 ls"
    echo
    echo "\`$CMDLINE\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(git -C "$REPO" rev-parse --short HEAD);"
    echo "each tool supervising the same $N \`sleep infinity\` processes, all running; hyperfine, 3 warm-ups, $RUNS runs."
    echo
    echo "| command | mean | ± | median | min | others ÷ fastest vigil |"
    echo "|---|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r name mean sd median min; do
        ratio=$(awk -v a="$mean" -v b="$best_vigil" 'BEGIN { printf "%.1f×", a / b }')
        echo "| $name | $(ms "$mean") ms | $(ms "$sd") | $(ms "$median") ms | $(ms "$min") ms | $ratio |"
    done <<<"$table"
    echo
} >"$WORK/section.md"
if [[ -n ${BENCH_OUT:-} ]]; then
    cp "$WORK/section.md" "$BENCH_OUT"
else
    # Replace the section in RESULTS.md (from its heading to the next "## " heading), or append it.
    awk -v sec="$WORK/section.md" '
        /^## vigil ls with / { while ((getline l < sec) > 0) print l; skip = 1; done = 1; next }
        skip && /^## / { skip = 0 }
        !skip { print }
        END { if (!done) { print ""; while ((getline l < sec) > 0) print l } }
    ' "$BENCH_DIR/RESULTS.md" >"$WORK/results.md" && cp "$WORK/results.md" "$BENCH_DIR/RESULTS.md"
fi
cat "$WORK/section.md"
log "vigil ls mean $(ms "$vigil_mean") ms"
