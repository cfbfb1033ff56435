#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: no Docker, no system service.
#
#   eval "$(scripts/pg-throwaway.sh start)"   # prints export lines: TEST_DATABASE_URL, PG_THROWAWAY_DIR
#   scripts/pg-throwaway.sh stop              # stops it and deletes its directory
#   PG_EXTRA_OPTIONS="-c name=value ..." scripts/pg-throwaway.sh start   # more server settings
#   PG_DURABLE=1 scripts/pg-throwaway.sh start   # durable: fsync, synchronous_commit and
#                                                # full_page_writes on (the benchmarks, bench/)
#
# Installs Debian's postgresql package when no server binaries are found and we are root.
# The cluster lives in a temporary directory, listens on 127.0.0.1 only, trusts local
# connections, and by default runs with fsync, synchronous_commit and full_page_writes off:
# fast, for tests, and never for real data. PG_DURABLE=1 keeps Postgres's durable defaults
# (a commit returns after its WAL is flushed to disk), as a production server runs.
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

ensure_postgres() {
  if ! find_bin >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "pg-throwaway: installing PostgreSQL from Debian's packages" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
    else
      echo "pg-throwaway: no PostgreSQL server found; install it (e.g. apt-get install postgresql)" >&2
      exit 1
    fi
  fi
}

# initdb and postgres refuse to run as root: use the postgres account the package made.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  ensure_postgres
  local bin dir port durability
  bin=$(find_bin)
  if [ "${PG_DURABLE:-0}" = 1 ]; then
    durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  else
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/course-shop-pg.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/bash postgres; chown postgres "$dir"; }
  port=$(free_port)
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $durability -c max_connections=300 ${PG_EXTRA_OPTIONS:-}" \
    start >&2
  echo "export PG_THROWAWAY_DIR=$dir"
  echo "export PG_THROWAWAY_BIN=$bin"
  echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
  local dir=${PG_THROWAWAY_DIR:-} bin=${PG_THROWAWAY_BIN:-}
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  [ -n "$bin" ] || bin=$(find_bin)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
