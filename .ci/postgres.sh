#!/usr/bin/env bash
# Install (if needed), start, stop a throwaway PostgreSQL on 127.0.0.1 for the test suite.
# Usage: postgres.sh start | stop | url
set -euo pipefail
PGDATA=${GAPLENS_PGDATA:-/tmp/gaplens-pg}
PORT=${GAPLENS_PGPORT:-55432}
URL="postgresql+psycopg://gaplens@127.0.0.1:${PORT}/gaplens"

pg_bin() {
  ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname
}

install() {
  if [ -z "$(pg_bin)" ]; then
    echo "installing PostgreSQL (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  fi
}

as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    install
    bin=$(pg_bin)
    if [ -f "$PGDATA/postmaster.pid" ]; then as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null || true; fi
    rm -rf "$PGDATA"; mkdir -p "$PGDATA"
    [ "$(id -u)" = "0" ] && chown postgres "$PGDATA"
    as_postgres "$bin/initdb" -D "$PGDATA" -U gaplens --auth=trust >/dev/null
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDATA" start >/dev/null
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U gaplens gaplens
    echo "PostgreSQL running on 127.0.0.1:$PORT" >&2
    ;;
  stop)
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -f "$PGDATA/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null
    fi
    ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
