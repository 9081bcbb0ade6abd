#!/usr/bin/env bash
# End-to-end agent benchmark: 200 simulated Eastron SDM630 meters (10 Modbus TCP servers × 20 unit
# ids, one per company) polled at 1 Hz, balanced and published to a local mosquitto.
# Measures, over a steady-state window: the time from each cycle's start to its last publish
# (p50/p99, from the agent's own histogram), the agent's resident memory, its CPU share, and its
# CPU while idle-ish (all devices answering, no broker traffic beyond the cycle).
# Loopback only; bounded: DURATION seconds (default 60) after a 15 s warm-up.
#   Benchmarks/scripts/agent-200-devices.sh [DURATION] [ENDPOINTS]
# ENDPOINTS (default 200): Modbus TCP servers the 200 meters are spread over; 200 is one device
# per endpoint (each its own connection and executor), 10 is 20 unit ids behind each of 10 gateways.
# The binary is built as installed (release, Swift runtime linked statically).
# HUBMETER_BENCH_PIN=1 runs the agent on CPU 0 and the simulator and broker on CPU 1 (taskset): the
# 200 devices then stand apart from the gateway, as real meters do, instead of answering from the
# agent's own cores; the agent has one core, less than most gateway boxes.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-60}"
endpoints="${2:-200}"
source scripts/setup.sh
if [[ -n "${HUBMETER_BENCH_BINARY:-}" ]]; then
  binary="$HUBMETER_BENCH_BINARY"  # an already built binary, to compare builds
else
  binary="$(scripts/build-release.sh)"
fi
# HUBMETER_BENCH_COPY_TO=DIR runs a copy of the binary from DIR (another filesystem: the code
# pages the kernel maps per fault differ between filesystems and kernels).
if [[ -n "${HUBMETER_BENCH_COPY_TO:-}" ]]; then cp "$binary" "$HUBMETER_BENCH_COPY_TO/hubmeter-bench"; binary="$HUBMETER_BENCH_COPY_TO/hubmeter-bench"; fi
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
# HUBMETER_BENCH_KEEP_LOGS=DIR keeps the logs and configuration files.
[[ -n "${HUBMETER_BENCH_KEEP_LOGS:-}" ]] && trap 'cp "$work"/*.log "$work"/*.yaml "$HUBMETER_BENCH_KEEP_LOGS"/; cleanup' EXIT INT TERM

pin_agent=(); pin_devices=()
if [[ "${HUBMETER_BENCH_PIN:-}" == 1 ]]; then pin_agent=(taskset -c 0); pin_devices=(taskset -c 1); fi
python3 - "$work" "$PWD/Config" "$endpoints" <<'PY'
import socket, sys
work, data, endpoints = sys.argv[1], sys.argv[2], int(sys.argv[3])
# Hold every socket until all ports are picked (the devices', the broker's and the agent's HTTP
# port): a port closed at once can be handed out again, and an HTTP scrape that reaches a Modbus
# server gets a Modbus answer.
held = []
for _ in range(endpoints + 2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
ports = [s.getsockname()[1] for s in held]
for s in held: s.close()
broker, http = ports.pop(), ports.pop()
open(f"{work}/ports", "w").write(f"{broker} {http}\n")
per = 200 // endpoints
scenario = ["name: benchmark park (200 meters)", "seed: 1", "step: 1s", 'sun: { sunrise: "05:30", sunset: "19:30" }', "servers:"]
scenario += [f"  - {{ id: s{i}, host: 127.0.0.1, port: {p} }}" for i, p in enumerate(ports)]
scenario.append("companies:")
agent = ["hub:", "  id: bench", "  participants:"]
for n in range(200):
    server, unit = n // per, n % per + 1
    scenario += [f"  - id: c{n}", f"    load: {{ base_kw: {5 + n % 40}, noise_kw: 1 }}",
                 f"    devices: [{{ id: c{n}-grid, map: eastron-sdm630, server: s{server}, unit_id: {unit} }}]"]
    agent.append(f"    - {{ id: c{n}, devices: [{{ id: c{n}-grid, role: grid_meter, bus: s{server}, unit_id: {unit}, profile: eastron-sdm630 }}] }}")
agent.append("buses:")
agent += [f"  - {{ id: s{i}, transport: tcp, host: 127.0.0.1, port: {p}, timeout: 500ms }}" for i, p in enumerate(ports)]
agent += [f"mqtt: {{ host: 127.0.0.1, port: {broker} }}", f"state_directory: {work}/state", f"data_directory: {data}",
          f'http: {{ listen: "127.0.0.1:{http}" }}', "logging: { level: warning }"]
open(f"{work}/scenario.yaml", "w").write("\n".join(scenario) + "\n")
open(f"{work}/agent.yaml", "w").write("\n".join(agent) + "\n")
PY
read -r broker_port http_port < "$work/ports"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$broker_port" > "$work/mosquitto.conf"
"${pin_devices[@]}" mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 & pids+=($!)

# The simulator runs from a copy of the binary: both processes mapping one file would let the
# agent's code faults map pages that only the simulator's code brought into the page cache
# (fault-around), and the agent's resident memory would depend on the simulator.
cp "$binary" "$work/hubmeter-simulator"
"${pin_devices[@]}" "$work/hubmeter-simulator" simulate "$work/scenario.yaml" --data-directory "$PWD/Config" --log-level warning >"$work/simulator.log" 2>&1 & pids+=($!)
# Every device must answer from the first cycle on: a device refused at start backs off and the
# run would measure an agent with offline devices. So wait for the simulator (up to 60 s on a busy
# machine) and refuse to report numbers unless every device is online in the whole window.
for _ in $(seq 600); do grep -q "hubmeter simulate: ready" "$work/simulator.log" && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
grep -q "hubmeter simulate: ready" "$work/simulator.log" || { echo "the simulator is not ready (exited, or not within 60 s)" >&2; cat "$work/simulator.log" >&2; exit 1; }
"${pin_agent[@]}" "$binary" agent --config "$work/agent.yaml" >"$work/agent.log" 2>&1 & agent=$!; pids+=($agent)

scrape() { curl -s "http://127.0.0.1:$http_port/metrics" > "$1" 2>/dev/null || python3 -c "
import urllib.request,sys; open(sys.argv[1],'w').write(urllib.request.urlopen('http://127.0.0.1:$http_port/metrics').read().decode())" "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }

sleep 15
scrape "$work/metrics.0"; ticks0=$(cpu_ticks); t0=$(date +%s.%N)
if grep -q -E "warning|error" "$work/agent.log"; then
  echo "devices failed during the warm-up; the numbers would not be of a healthy hub:" >&2
  grep -m 5 -E "warning|error" "$work/agent.log" >&2
  exit 1
fi
sleep "$duration"
scrape "$work/metrics.1"; ticks1=$(cpu_ticks); t1=$(date +%s.%N)
[[ -n "${HUBMETER_BENCH_SMAPS:-}" ]] && cp "/proc/$agent/smaps" "$HUBMETER_BENCH_SMAPS"  # per-mapping detail, for digging
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
# Anonymous memory (heap, stacks: what the agent allocates) vs file pages (the binary's code and
# data, shared with every other process running it and reclaimable by the kernel).
anon_kb=$(awk '/^Anonymous:/ {print $2}' "/proc/$agent/smaps_rollup")
file_kb=$(awk '/^Rss:/ {rss=$2} /^Anonymous:/ {anon=$2} END {print rss - anon}' "/proc/$agent/smaps_rollup")
hz=$(getconf CLK_TCK)

python3 - "$work/metrics.0" "$work/metrics.1" "$ticks0" "$ticks1" "$t0" "$t1" "$rss_kb" "$hz" "$anon_kb" "$file_kb" <<'PY'
import re, sys
def buckets(path, metric):
    result = {}
    for line in open(path):
        m = re.match(r'hubmeter_' + metric + r'_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m: result[m.group(1)] = float(m.group(2))
    return result
def deltas(metric):
    b0, b1 = buckets(sys.argv[1], metric), buckets(sys.argv[2], metric)
    bounds = sorted((float(k) if k != "+Inf" else float("inf"), k) for k in b1)
    return [(bound, b1[key] - b0.get(key, 0)) for bound, key in bounds]
def quantile(q, delta):
    total = delta[-1][1]
    for bound, count in delta:
        if count >= q * total: return bound
def transaction_deltas():
    # Modbus transaction latency summed over every device (from request sent to response decoded).
    def read(path):
        result = {}
        for line in open(path):
            m = re.match(r'hubmeter_modbus_latency_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
            if m: result[m.group(1)] = result.get(m.group(1), 0) + float(m.group(2))
        return result
    b0, b1 = read(sys.argv[1]), read(sys.argv[2])
    bounds = sorted((float(k) if k != "+Inf" else float("inf"), k) for k in b1)
    return [(bound, b1[key] - b0.get(key, 0)) for bound, key in bounds]
delta = deltas("cycle_publish_duration")
acquisition = deltas("cycle_acquisition_duration")
total = delta[-1][1]
ticks0, ticks1, t0, t1 = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
cpu = (ticks1 - ticks0) / float(sys.argv[8]) / (t1 - t0) * 100
print(f"cycles measured:              {int(total)}")
print(f"cycle start → last publish:   p50 ≤ {quantile(0.5, delta)*1000:.0f} ms, p99 ≤ {quantile(0.99, delta)*1000:.0f} ms (histogram bucket bounds)")
within = next((count for bound, count in delta if abs(bound - 0.020) < 1e-9), None)
if within is not None:
    print(f"  cycles within 20 ms:          {int(within)} of {int(total)} ({within / total * 100:.1f} %)")
print(f"  of which waiting for devices: p50 ≤ {quantile(0.5, acquisition)*1000:.0f} ms, p99 ≤ {quantile(0.99, acquisition)*1000:.0f} ms (cycle start → last snapshot)")
transactions = transaction_deltas()
if transactions and transactions[-1][1] > 0:
    print(f"  Modbus transactions:          {int(transactions[-1][1])}, p50 ≤ {quantile(0.5, transactions)*1000:.0f} ms, "
          f"p99 ≤ {quantile(0.99, transactions)*1000:.0f} ms each (request → response)")
print(f"agent resident memory:        {int(sys.argv[7]) / 1024:.1f} MiB "
      f"(anonymous {int(sys.argv[9]) / 1024:.1f} MiB, file-backed {int(sys.argv[10]) / 1024:.1f} MiB)")
print(f"agent CPU:                    {cpu:.1f} % of one core")
PY
offline=$(awk '/^hubmeter_devices_offline / {print $2}' "$work/metrics.1")
echo "devices offline at the end:   ${offline:-unknown}"
echo "agent log warnings/errors:    $(grep -c -E "warning|error" "$work/agent.log" || true)"
grep -m 3 error "$work/agent.log" || true
echo "endpoints:                    $endpoints (200 meters)"
if grep -q -E "warning|error" "$work/agent.log"; then
  echo "INVALID RUN: the agent logged warnings or errors during the window (see above)" >&2
  exit 1
fi
