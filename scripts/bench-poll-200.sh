#!/bin/sh
# End-to-end acquisition cost: one process polls 200 Modbus TCP devices (one loopback endpoint
# each, EM24 profile, 2 reads per device per cycle) at 1 Hz and reports its own CPU time.
# Loopback only, bounded in time (about SECONDS + 10 s). Usage: scripts/bench-poll-200.sh [COUNT] [SECONDS]
set -eu
COUNT=${1:-200}
SECONDS_TO_MEASURE=${2:-30}
BASE_PORT=${BASE_PORT:-21000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/Benchmarks"
swift build -c release --product PollMany >/dev/null
SIM_LOG=$(mktemp)
/usr/bin/python3 "$ROOT/Benchmarks/modbus_tcp_sim.py" "$BASE_PORT" "$COUNT" >"$SIM_LOG" 2>&1 &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true; rm -f "$SIM_LOG"' EXIT INT TERM
for _ in $(seq 1 50); do grep -q READY "$SIM_LOG" && break; sleep 0.1; done
grep -q READY "$SIM_LOG" || { echo "simulator did not start:"; cat "$SIM_LOG"; exit 1; }
timeout $((SECONDS_TO_MEASURE + 30)) "$ROOT/Benchmarks/.build/release/PollMany" "$BASE_PORT" "$COUNT" "$SECONDS_TO_MEASURE" "$ROOT"
# utime + stime of the simulator, in clock ticks (fields 14 and 15 of /proc/PID/stat).
SIM_TICKS=$(awk '{print $14 + $15}' "/proc/$SIM_PID/stat")
echo "simulator (separate process, not counted above): $SIM_TICKS clock ticks of CPU in total ($(getconf CLK_TCK)/s)"
