#!/usr/bin/env bash
# Start (or reuse) a local PostgreSQL server for painpath's storage tests and print its URL.
#
#   export PAINPATH_TEST_DATABASE_URL="$(scripts/ci-postgres.sh)"    # start or reuse, print the URL
#   scripts/ci-postgres.sh stop                                       # stop the server it started
#
# If no server answers on 127.0.0.1:$PAINPATH_PG_PORT (default 55432), PostgreSQL is installed from
# the Debian packages when missing (apt-get; needs root or sudo), a cluster is initialised under
# $PAINPATH_PG_DIR (default /tmp/painpath-postgres) listening on 127.0.0.1 only, and a role and a
# database are created. The role may create databases: the tests make a fresh one per test.
# Only the URL goes to stdout; progress goes to stderr.
set -euo pipefail

PORT="${PAINPATH_PG_PORT:-55432}"
STATE="${PAINPATH_PG_DIR:-/tmp/painpath-postgres}"
DB=painpath_test
ROLE=painpath
HOST=127.0.0.1

log() { echo "ci-postgres: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root (or sudo) to run: $*"; exit 1; fi
}

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

# PostgreSQL refuses to run as root: as root, the server runs as the Debian package's postgres user.
run_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql+psycopg://$ROLE:$(cat "$STATE/password")@$HOST:$PORT/$DB"; }

answers() { "$1/pg_isready" -q -h "$HOST" -p "$PORT" -t 2; }

BIN="$(pg_bin || true)"

if [ "${1:-}" = "stop" ]; then
  if [ -n "$BIN" ] && [ -d "$STATE/data" ]; then run_pg "$BIN/pg_ctl" -D "$STATE/data" -m fast -w stop >&2 || true; fi
  exit 0
fi

if [ -z "$BIN" ]; then
  log "PostgreSQL not found; installing the Debian packages"
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(pg_bin)"
fi

if answers "$BIN"; then
  if [ -f "$STATE/password" ]; then
    log "reusing the server on $HOST:$PORT"
    url
    exit 0
  fi
  log "something else answers on $HOST:$PORT; set PAINPATH_PG_PORT to a free port"
  exit 1
fi

if [ ! -s "$STATE/data/PG_VERSION" ]; then
  log "initialising a cluster in $STATE/data"
  rm -rf "$STATE"
  mkdir -p "$STATE/data" "$STATE/run"
  umask 077
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/password"
  printf '%s\n' "$(cat "$STATE/password")" >"$STATE/pwfile"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$STATE"; fi
  run_pg "$BIN/initdb" -D "$STATE/data" -U postgres --pwfile="$STATE/pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >&2
  rm -f "$STATE/pwfile"
fi

log "starting PostgreSQL on $HOST:$PORT"
run_pg "$BIN/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 \
  -o "-c listen_addresses=$HOST -p $PORT -k $STATE/run" start >&2

psql_admin() { run_pg "$BIN/psql" -h "$STATE/run" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$(cat "$STATE/password")'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2
fi
url
