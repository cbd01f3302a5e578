#!/usr/bin/env bash
# Vigil's own memory with N idle children: `vigil run` with N `sleep infinity` units (default 100), RSS and PSS of
# the vigil process from /proc/PID/smaps_rollup, WAIT seconds after all N run (default 5), REPS times (default 3).
#   VIGIL=/path/to/vigil bench/idle.sh [N]        (default VIGIL: .artifacts/vigil/vigil)
# The same quantity as bench/run.sh's measure 2b, in ~10 s a round instead of the whole bench.
set -euo pipefail
N=${1:-100} WAIT=${WAIT:-5} REPS=${REPS:-3}
VIGIL=$(realpath "${VIGIL:-$(dirname "$0")/../.artifacts/vigil/vigil}")
WORK=$(mktemp -d /tmp/vigil-idle.XXXXXX)
trap 'kill -KILL ${PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp "$(command -v sleep)" "$WORK/vi-sleep"   # a name of its own, to count the children by comm
{
    echo "name: idle-bench"
    echo "processes:"
    for ((i = 1; i <= N; i++)); do echo "  - { name: p$i, command: [$WORK/vi-sleep, infinity] }"; done
} >"$WORK/vigil.yaml"
for ((r = 1; r <= REPS; r++)); do
    XDG_RUNTIME_DIR=$WORK "$VIGIL" run -c "$WORK/vigil.yaml" >"$WORK/vigil.log" 2>&1 &
    PID=$!
    for ((t = 0; t < 600; t++)); do
        [[ $(pgrep -c -x vi-sleep || true) -ge $N ]] && break
        sleep 0.05
    done
    sleep "$WAIT"
    rss=$(awk '/^Rss:/ {print $2}' "/proc/$PID/smaps_rollup")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$PID/smaps_rollup")
    printf 'run %d: %d children, RSS %.1f MiB, PSS %.1f MiB\n' "$r" "$(pgrep -c -x vi-sleep || true)" "$(echo "$rss/1024" | bc -l)" "$(echo "$pss/1024" | bc -l)"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
done
