#!/usr/bin/env bash
# Make sure a PostgreSQL server answers for the QA-store tests (CALLASSIST_TEST_PG_URL's default:
# postgresql://postgres@127.0.0.1:5432/test). Machines no longer start one, so: if nothing answers on the
# port, install Debian's server when it is missing and start a throwaway cluster (trust auth on loopback
# only) under /tmp. A server that already answers is left alone.
set -euo pipefail
PORT="${CALLASSIST_TEST_PG_PORT:-5432}"
DATA="${CALLASSIST_TEST_PG_DIR:-/tmp/callassist-pg-$PORT}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

answers() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p "$PORT"; }

if answers; then
  echo "postgres: a server already answers on 127.0.0.1:$PORT"
else
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "postgres: installing Debian's postgresql (apt-get)"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
  BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  # initdb refuses to run as root: the cluster belongs to the postgres user when we are root.
  if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); else AS=(); fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"; mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
    "${AS[@]}" "$BIN/initdb" -D "$DATA" -A trust -U postgres >/dev/null
  fi
  "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DATA" start >/dev/null \
    || { echo "postgres: failed to start, see $DATA/server.log" >&2; tail -n 20 "$DATA/server.log" >&2; exit 1; }
  echo "postgres: started a test cluster in $DATA on 127.0.0.1:$PORT"
fi
# the database the tests use (idempotent)
psql -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || createdb -h 127.0.0.1 -p "$PORT" -U postgres test
