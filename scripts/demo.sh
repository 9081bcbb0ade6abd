#!/usr/bin/env bash
# Sets up and runs the demo hub. Until the simulator, agent and aggregator land (issues #4, #6, #7)
# this builds hubmeter, validates the example configurations and says what is still missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product hubmeter
binary="$(swift build -c release --show-bin-path)/hubmeter"

echo
echo "== hubmeter $("$binary" version | cut -d' ' -f2): checking the example configurations"
HUBMETER_MQTT_PASSWORD=demo "$binary" check-config Config/agent.example.yaml
HUBMETER_MQTT_PASSWORD=demo "$binary" check-config Config/aggregator.example.yaml
echo
for role in simulate demo agent aggregator; do
  "$binary" "$role" --help >/dev/null 2>&1 || true
done
echo "The demo hub needs the simulator (issue #4), the agent daemon (#6) and the aggregator (#7);"
echo "until they land, 'hubmeter demo' says so and exits 69:"
"$binary" demo || true
