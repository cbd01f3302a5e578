#!/usr/bin/env bash
# The cost of metrics (issue 13): N idle units (`sleep infinity`, default 100), CPU and memory of the process that
# supervises them, with and without exporters. One run; writes bench/RESULTS-metrics.md.
#
#   bench/metrics.sh                   full run (~7 min), writes bench/RESULTS-metrics.md
#   BENCH_QUICK=1 bench/metrics.sh     20 s windows (~3 min), writes bench/RESULTS-metrics-quick.md (not committed)
#
# Environment:
#   VIGIL=PATH           the vigil binary (default: .artifacts/vigil/vigil, built by scripts/publish when missing)
#   METRICS_BENCH=PATH   the library comparison program (default: bench/MetricsBench published Native AOT)
#   N=100 WINDOW=60      units, and seconds each configuration is measured
#   BENCH_OUT=FILE       where to write the Markdown report
#
# Measures:
#   1. The library for /metrics: bench/MetricsBench (one supervisor, N units, its meter) served by the OpenTelemetry
#      Prometheus HttpListener exporter (what Vigil ships), by prometheus-net's MeterAdapter + MetricServer, or not
#      served; scraped with curl every 5 s. Both libraries are in the one AOT binary: the runs differ only in use.
#   2. `vigil run` with N units and no telemetry: section, against all three exporters on: prometheus scraped every
#      5 s by curl, OTLP (interval 10s) to a local sink that discards what it gets, DogStatsD (interval 10s) to a UDP
#      port nobody reads.
#   Each: CPU = utime+stime of the process over the window (after 5 s settling), % of one core; RSS and PSS from
#   /proc/PID/smaps_rollup at the window's end.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
N=${N:-100}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then WINDOW=${WINDOW:-20}; OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-metrics-quick.md}
else WINDOW=${WINDOW:-60}; OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS-metrics.md}; fi
SETTLE=5 SCRAPE=5

VIGIL=${VIGIL:-$REPO/.artifacts/vigil/vigil}
[[ -x $VIGIL ]] || "$REPO/scripts/publish" >/dev/null
MB=${METRICS_BENCH:-$REPO/.artifacts/metrics-bench/metrics-bench}
if [[ ! -x $MB ]]; then
    dotnet publish "$BENCH_DIR/MetricsBench" -c Release -r linux-x64 -p:PublishAot=true -o "$(dirname "$MB")" -nologo -v quiet >/dev/null
fi
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "needs curl and python3" >&2; exit 1; }

WORK=$(mktemp -d /tmp/vigil-metrics-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# An OTLP sink: answers 200 to every POST and discards the body.
OTLP_PORT=$(free_port)
python3 - "$OTLP_PORT" <<'EOF' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
EOF
PIDS+=($!)
DD_PORT=$(free_port) # UDP: nothing listens there

ROWS=()
# measure LABEL PID SCRAPE_PORT(or -): waits SETTLE, then WINDOW seconds with a curl every SCRAPE seconds.
measure() {
    local label=$1 pid=$2 port=$3 scrapes=0 failed=0
    sleep "$SETTLE"
    local t0 c0; t0=$(date +%s.%N); c0=$(ticks "$pid")
    local end=$(( $(date +%s) + WINDOW ))
    while (( $(date +%s) < end )); do
        if [[ $port != - ]]; then
            if curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; then scrapes=$((scrapes + 1)); else failed=$((failed + 1)); fi
        fi
        sleep "$SCRAPE"
    done
    local c1 t1; c1=$(ticks "$pid"); t1=$(date +%s.%N)
    local rss pss; rss=$(awk '/^Rss:/ {print $2}' "/proc/$pid/smaps_rollup"); pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
    local cpu; cpu=$(echo "($c1 - $c0) / $HZ / ($t1 - $t0) * 100" | bc -l)
    ROWS+=("$label|$(printf '%.2f' "$cpu")|$(printf '%.2f' "$(echo "($c1 - $c0) / $HZ" | bc -l)")|$(printf '%.1f' "$(echo "$rss/1024" | bc -l)")|$(printf '%.1f' "$(echo "$pss/1024" | bc -l)")|$scrapes|$failed")
    echo "$label: cpu $(printf '%.2f' "$cpu")% rss $((rss / 1024)) MiB, $scrapes scrapes ($failed failed)" >&2
}

wait_for() { for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "never saw '$2' in $1" >&2; return 1; }

# 1. The library.
for lib in none otel prometheus-net; do
    port=$(free_port)
    "$MB" "$lib" "$port" "$N" >"$WORK/mb-$lib.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    wait_for "$WORK/mb-$lib.log" ready
    measure "lib:$lib" "$pid" "$([[ $lib == none ]] && echo - || echo "$port")"
    kill -TERM "$pid"; wait "$pid" || true
done

# 2. vigil with no exporter, and with all three.
units() { for ((i = 1; i <= N; i++)); do echo "  - { name: p$i, command: [sleep, infinity] }"; done; }
for mode in none all; do
    dir="$WORK/vigil-$mode"; mkdir -p "$dir"
    port=$(free_port)
    {
        echo "name: metrics-bench-$mode"
        echo "processes:"
        units
        if [[ $mode == all ]]; then
            echo "telemetry:"
            echo "  prometheus: $port"
            echo "  otlp: { endpoint: \"http://127.0.0.1:$OTLP_PORT\", interval: 10s }"
            echo "  dogstatsd: { host: 127.0.0.1, port: $DD_PORT, interval: 10s }"
        fi
    } >"$dir/vigil.yaml"
    XDG_RUNTIME_DIR=$dir "$VIGIL" run -c "$dir/vigil.yaml" >"$dir/vigil.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    for _ in $(seq 1 600); do [[ $(grep -c ' spawned: ' "$dir/vigil.log" || true) -ge $N ]] && break; sleep 0.1; done
    measure "vigil:$mode" "$pid" "$([[ $mode == none ]] && echo - || echo "$port")"
    kill -TERM "$pid"; wait "$pid" || true
done

row() { for r in "${ROWS[@]}"; do [[ ${r%%|*} == "$1" ]] && { echo "$r"; return; }; done; }
field() { echo "$1" | cut -d'|' -f"$2"; }
ratio() { local b; b=$(field "$(row "$2")" "$3"); [[ $(echo "$b > 0" | bc) == 1 ]] && printf '%.2f×' "$(echo "$(field "$(row "$1")" "$3") / $b" | bc -l)" || echo "–"; }
{
    echo "# The cost of metrics with $N idle units"
    echo
    echo "- command: \`bench/metrics.sh\`${BENCH_QUICK:+ (BENCH_QUICK=$BENCH_QUICK)}"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: nproc $(nproc), $(uname -r); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- vigil: $("$VIGIL" --version 2>/dev/null | head -1) at commit $(git -C "$REPO" rev-parse --short HEAD)"
    echo "- each row: ${WINDOW} s window after ${SETTLE} s settling; CPU = utime+stime, % of one core; RSS/PSS at the end (smaps_rollup);"
    echo "  /metrics scraped with curl every ${SCRAPE} s where served; other work on the machine skews every number"
    echo
    echo "## 1. The library that serves /metrics (bench/MetricsBench, one supervisor of $N units)"
    echo
    echo "| library | CPU % | CPU s | RSS MiB | PSS MiB | scrapes (failed) | CPU ×otel | PSS ×otel | PSS ×none |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for lib in none otel prometheus-net; do
        r=$(row "lib:$lib")
        echo "| $lib | $(field "$r" 2) | $(field "$r" 3) | $(field "$r" 4) | $(field "$r" 5) | $(field "$r" 6) ($(field "$r" 7)) | $(ratio "lib:$lib" lib:otel 3) | $(ratio "lib:$lib" lib:otel 5) | $(ratio "lib:$lib" lib:none 5) |"
    done
    echo
    echo "## 2. vigil run: no telemetry: section against Prometheus + OTLP + DogStatsD"
    echo
    echo "| vigil | CPU % | CPU s | RSS MiB | PSS MiB | scrapes (failed) | CPU ×none | RSS ×none | PSS ×none |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for mode in none all; do
        r=$(row "vigil:$mode")
        echo "| $mode | $(field "$r" 2) | $(field "$r" 3) | $(field "$r" 4) | $(field "$r" 5) | $(field "$r" 6) ($(field "$r" 7)) | $(ratio "vigil:$mode" vigil:none 3) | $(ratio "vigil:$mode" vigil:none 4) | $(ratio "vigil:$mode" vigil:none 5) |"
    done
} >"$OUT"
echo "wrote $OUT" >&2
cat "$OUT"
