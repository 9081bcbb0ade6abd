#!/usr/bin/env bash
# Sourced by scripts/test.sh (and usable alone: `source scripts/test-postgres.sh; start_test_postgres`).
# Makes sure the store tests have a PostgreSQL server and exports HUBMETER_TEST_POSTGRES for them:
#   - HUBMETER_TEST_POSTGRES already set: that server is used as it is;
#   - a server already answers at the default (127.0.0.1:55432, role hubmeter): it is used;
#   - otherwise a throwaway cluster is made with initdb in a temporary directory (trust auth for the
#     role hubmeter, loopback and a private socket directory only, fsync off), started with pg_ctl,
#     and stopped and removed when the calling shell exits. As root it runs as the postgres user.
# The tests create a database per test (hubmeter_test_<random>) and drop it afterwards.

HUBMETER_TEST_POSTGRES_DEFAULT_PORT=55432

_pg_bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$dir" && -x "$dir/initdb" ]] || { echo "test-postgres: no PostgreSQL server binaries in /usr/lib/postgresql (run scripts/setup.sh --test)" >&2; return 1; }
  echo "$dir"
}

_pg_answers() { # port
  psql "host=127.0.0.1 port=$1 user=hubmeter dbname=postgres connect_timeout=2" -Atqc 'SELECT 1' >/dev/null 2>&1
}

_pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {
  if [[ -n "${HUBMETER_TEST_POSTGRES:-}" ]]; then
    echo "test-postgres: using HUBMETER_TEST_POSTGRES=$HUBMETER_TEST_POSTGRES"
    return 0
  fi
  local port=$HUBMETER_TEST_POSTGRES_DEFAULT_PORT
  if _pg_answers "$port"; then
    export HUBMETER_TEST_POSTGRES="host=127.0.0.1 port=$port user=hubmeter"
    echo "test-postgres: using the server already running on 127.0.0.1:$port"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    # Something else holds the default port: take a free one.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  local bin
  bin=$(_pg_bin_dir) || return 1
  # Under /tmp as root: the postgres user must be able to reach the directory.
  if [[ $(id -u) -eq 0 ]]; then HUBMETER_TEST_POSTGRES_DIR=$(mktemp -d /tmp/hubmeter-pg.XXXXXX); else HUBMETER_TEST_POSTGRES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hubmeter-pg.XXXXXX"); fi
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$HUBMETER_TEST_POSTGRES_DIR"; fi
  trap stop_test_postgres EXIT
  _pg_as_owner "$bin/initdb" -D "$HUBMETER_TEST_POSTGRES_DIR/data" -U hubmeter --auth=trust -E UTF8 --no-sync >"$HUBMETER_TEST_POSTGRES_DIR/initdb.log" 2>&1 \
    || { cat "$HUBMETER_TEST_POSTGRES_DIR/initdb.log" >&2; return 1; }
  _pg_as_owner "$bin/pg_ctl" -D "$HUBMETER_TEST_POSTGRES_DIR/data" -l "$HUBMETER_TEST_POSTGRES_DIR/server.log" -w -t 60 \
    -o "-k $HUBMETER_TEST_POSTGRES_DIR -p $port -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$HUBMETER_TEST_POSTGRES_DIR/server.log" >&2; return 1; }
  export HUBMETER_TEST_POSTGRES="host=127.0.0.1 port=$port user=hubmeter"
  echo "test-postgres: started a throwaway cluster on 127.0.0.1:$port ($HUBMETER_TEST_POSTGRES_DIR)"
}

stop_test_postgres() {
  [[ -n "${HUBMETER_TEST_POSTGRES_DIR:-}" && -d "$HUBMETER_TEST_POSTGRES_DIR" ]] || return 0
  local bin
  bin=$(_pg_bin_dir) || return 0
  _pg_as_owner "$bin/pg_ctl" -D "$HUBMETER_TEST_POSTGRES_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$HUBMETER_TEST_POSTGRES_DIR"
  HUBMETER_TEST_POSTGRES_DIR=
}
