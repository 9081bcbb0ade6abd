#!/usr/bin/env bash
# Records which functions the agent runs (start-up, 20 simulated meters on two Modbus TCP servers
# for about 70 cycles, shutdown) and writes them to scripts/link-order/hubmeter.symbols, the
# linker's symbol ordering for the `hubmeter` executable (Package.swift). Laid out together, the
# code the agent runs fits in far fewer resident pages (docs/performance.md).
#
# Run it after larger code changes and commit the result; a stale list only loses some of the
# effect (names that no longer exist are skipped by the linker). Needs valgrind and mosquitto.
#   scripts/link-order/record.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
binary="$(scripts/build-release.sh)"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
# valgrind cannot read the DWARF 5 of the Swift build; the symbol table is all it needs.
strip --strip-debug -o "$work/hubmeter" "$binary"

python3 - "$work" "$PWD/Config" <<'PY'
import socket, sys
work, data = sys.argv[1], sys.argv[2]
held = []
for _ in range(4):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
broker, http, p0, p1 = [s.getsockname()[1] for s in held]
for s in held: s.close()
scenario = ["name: link-order park", "seed: 1", "step: 1s", 'sun: { sunrise: "05:30", sunset: "19:30" }', "servers:",
            f"  - {{ id: s0, host: 127.0.0.1, port: {p0} }}", f"  - {{ id: s1, host: 127.0.0.1, port: {p1} }}", "companies:"]
agent = ["hub:", "  id: order", "  participants:"]
for n in range(20):
    server, unit = n // 10, n % 10 + 1
    scenario += [f"  - id: c{n}", f"    load: {{ base_kw: {5 + n}, noise_kw: 1 }}",
                 f"    devices: [{{ id: c{n}-grid, map: eastron-sdm630, server: s{server}, unit_id: {unit} }}]"]
    agent.append(f"    - {{ id: c{n}, devices: [{{ id: c{n}-grid, role: grid_meter, bus: s{server}, unit_id: {unit}, profile: eastron-sdm630 }}] }}")
# Timeouts are generous: under valgrind the agent runs about 50 times slower.
agent += ["buses:", f"  - {{ id: s0, transport: tcp, host: 127.0.0.1, port: {p0}, timeout: 2s }}",
          f"  - {{ id: s1, transport: tcp, host: 127.0.0.1, port: {p1}, timeout: 2s }}",
          f"mqtt: {{ host: 127.0.0.1, port: {broker} }}", f"state_directory: {work}/state", f"data_directory: {data}",
          f'http: {{ listen: "127.0.0.1:{http}" }}', "logging: { level: info }"]
open(f"{work}/scenario.yaml", "w").write("\n".join(scenario) + "\n")
open(f"{work}/agent.yaml", "w").write("\n".join(agent) + "\n")
open(f"{work}/mosquitto.conf", "w").write(f"listener {broker} 127.0.0.1\nallow_anonymous true\npersistence false\n")
open(f"{work}/http", "w").write(str(http))
PY

mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 & pids+=($!)
"$binary" simulate "$work/scenario.yaml" --data-directory "$PWD/Config" --log-level warning >"$work/simulator.log" 2>&1 & pids+=($!)
for _ in $(seq 300); do grep -q "hubmeter simulate: ready" "$work/simulator.log" && break; sleep 0.1; done
# --demangle=no: the linker matches symbol names as they are in the object files (C++ included).
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.out" --dump-instr=no --collect-jumps=no \
  "$work/hubmeter" agent --config "$work/agent.yaml" >"$work/agent.log" 2>&1 & agent=$!
sleep 80
cycles=$(curl -s "http://127.0.0.1:$(cat "$work/http")/metrics" | awk '/^hubmeter_cycle_publish_duration_seconds_count/ {print $2}')
offline=$(curl -s "http://127.0.0.1:$(cat "$work/http")/metrics" | awk '/^hubmeter_devices_offline / {print $2}')
kill -TERM "$agent"; wait "$agent" || true
if [[ -z "$cycles" || "${offline:-1}" != "0.0" ]]; then
  echo "the recorded run was not a healthy hub (cycles: ${cycles:-none}, devices offline: ${offline:-unknown})" >&2
  tail -5 "$work/agent.log" >&2
  exit 1
fi

# Every function callgrind saw run in the hubmeter object, by its symbol name (callgrind marks
# recursion levels with 'N; addresses without a symbol are left out). Left out too: names that
# more than one object file defines as local symbols (outlined helpers such as `objectdestroyTm`).
# The linker would move every section defining one, among them whole plain `.text` sections of
# the toolchain's libraries (487 kB of `_RegexParser`), and spread the code that runs.
nm --defined-only "$work/hubmeter" | awk '{print $NF}' | sort | uniq -d >"$work/ambiguous"
python3 - "$work/callgrind.out" scripts/link-order/hubmeter.symbols "$work/ambiguous" <<'PY'
import re, sys
ambiguous = set(line.strip() for line in open(sys.argv[3]))
objects, functions, current, ours = {}, {}, None, set()
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
    if m:
        kind, ident, name = m.groups()
        if name: objects[ident] = name
        if kind == "ob": current = objects.get(ident)
        continue
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
    if m:
        kind, ident, name = m.groups()
        if name: functions[ident] = name
        if kind == "fn" and current and current.endswith("/hubmeter"): ours.add(ident)
names = sorted({re.sub(r"'\d+$", "", functions[i]) for i in ours if i in functions})
names = [n for n in names if n and not n.startswith("0x") and n not in ambiguous]
open(sys.argv[2], "w").write("\n".join(names) + "\n")
print(f"{len(names)} functions written to {sys.argv[2]}")
PY
echo "recorded over ${cycles} cycles"
