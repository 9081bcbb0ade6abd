#!/usr/bin/env bash
# Sets up and runs every test: installs missing packages, builds, runs `swift test`.
# The tests start their own mosquitto brokers, Modbus servers and pymodbus peers on free
# loopback ports; this script starts a throwaway PostgreSQL cluster for the store tests unless one
# answers already (scripts/test-postgres.sh), so nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --test
source scripts/test-postgres.sh
start_test_postgres
swift build --build-tests
# Serial: several suites check real-time cadence (cycles of 200–500 ms) and must not compete for 2 cores.
swift test --skip-build --no-parallel "$@"
