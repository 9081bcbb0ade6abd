#!/usr/bin/env bash
# Installs what hubmeter needs on Debian 12 and nothing more; safe to run again.
#   scripts/setup.sh          build and run dependencies (libraries, mosquitto)
#   scripts/setup.sh --test   also what the tests use (pymodbus, jsonschema, socat, systemd tools, chromium, PostgreSQL server)
# Needs root or sudo for apt-get. Swift itself must already be on PATH (swift.org toolchain).
set -euo pipefail

want_test=false
[[ "${1:-}" == "--test" ]] && want_test=true

packages=(pkg-config libmodbus-dev libmosquitto-dev liblz4-dev mosquitto mosquitto-clients libsqlite3-dev libssl-dev openssl curl)
if $want_test; then
  # chromium: the headless browser check of the aggregator's pages (AggregatorBrowserTests).
  # postgresql: the store tests run against a real server (scripts/test-postgres.sh starts a throwaway
  # cluster); Debian's package also starts a system cluster on 5432, which the tests do not use.
  # lz4: the tool an auditor reads a stored payload frame with (PayloadFrameTests).
  packages+=(python3 python3-pymodbus python3-jsonschema socat systemd chromium postgresql postgresql-client lz4)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_prefix=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo_prefix=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_prefix[@]}" apt-get update -qq
  # mosquitto's package would start a system broker on port 1883; hubmeter's scripts start their own.
  "${sudo_prefix[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi

if ! command -v swift >/dev/null; then
  for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
    [[ -x "$candidate/swift" ]] && export PATH="$candidate:$PATH"
  done
fi
command -v swift >/dev/null || { echo "setup: Swift 6.1 or newer must be on PATH (https://www.swift.org/install/linux/)" >&2; exit 1; }
