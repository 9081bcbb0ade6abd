#!/usr/bin/env bash
# Idle CPU of the agent: a hub of DEVICES meters (default 1) on gateways where nothing listens, so
# every device fails, backs off to the 60 s limit and is re-probed now and then. What is left is
# the agent's background work: cycle timers, the balance and its messages with every value
# missing, the MQTT keepalive, the ledger save every 5 s, the HTTP listener.
# Measures utime+stime over DURATION seconds (default 120) after a 90 s settling period.
#   Benchmarks/scripts/agent-idle.sh [DURATION] [DEVICES]
# With DEVICES 200 (the hub of agent-200-devices.sh, 20 per gateway) it shows what publishing 401
# messages a second costs without any Modbus traffic.
# HUBMETER_BENCH_BINARY=PATH uses an already built binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-120}"
devices="${2:-1}"
source scripts/setup.sh
binary="${HUBMETER_BENCH_BINARY:-$(scripts/build-release.sh)}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

python3 - "$work" "$PWD/Config" "$devices" <<'PY'
import socket, sys
work, data, devices = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
broker, http, gateway = [s.getsockname()[1] for s in held]
for s in held: s.close()
agent = ["hub:", "  id: idle", "  participants:"]
for n in range(devices):
    agent.append(f"    - {{ id: c{n}, devices: [{{ id: c{n}-grid, role: grid_meter, bus: s{n // 20}, unit_id: {n % 20 + 1}, profile: eastron-sdm630 }}] }}")
agent.append("buses:")
agent += [f"  - {{ id: s{i}, transport: tcp, host: 127.0.0.1, port: {gateway}, timeout: 500ms }}" for i in range((devices + 19) // 20)]
agent += [f"mqtt: {{ host: 127.0.0.1, port: {broker} }}", f"state_directory: {work}/state", f"data_directory: {data}",
          f'http: {{ listen: "127.0.0.1:{http}" }}', "logging: { level: error }"]
open(f"{work}/agent.yaml", "w").write("\n".join(agent) + "\n")
open(f"{work}/broker", "w").write(f"{broker}\n")
PY
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$(cat "$work/broker")" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 & pids+=($!)
"$binary" agent --config "$work/agent.yaml" >"$work/agent.log" 2>&1 & agent=$!; pids+=($agent)
sleep 90
kill -0 "$agent" || { echo "the agent exited:" >&2; cat "$work/agent.log" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
t0=$(ticks); s0=$(date +%s.%N)
sleep "$duration"
t1=$(ticks); s1=$(date +%s.%N)
python3 - "$t0" "$t1" "$s0" "$s1" "$(getconf CLK_TCK)" "$(ls "/proc/$agent/task" | wc -l)" "$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")" <<'PY'
import sys
t0, t1, s0, s1, hz = map(float, sys.argv[1:6])
print(f"idle agent CPU:               {(t1 - t0) / hz / (s1 - s0) * 100:.2f} % of one core over {s1 - s0:.0f} s "
      f"({(t1 - t0) / hz * 1000:.0f} ms of CPU)")
print(f"threads: {sys.argv[6]}, resident memory: {int(sys.argv[7]) / 1024:.1f} MiB")
PY
