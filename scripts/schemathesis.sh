#!/usr/bin/env bash
# The published contract against the code: schemathesis (PyPI) generates requests from the
# served /openapi.json, valid and invalid, and checks every answer against the spec (all of
# its checks). Runs the real server binary on SQLite and on PostgreSQL, logged in with a
# valid token, and fails on any failure.
#
#   scripts/schemathesis.sh                 # both databases (Postgres: TEST_DATABASE_URL)
#   scripts/schemathesis.sh sqlite          # one of them
#
# Postgres: TEST_DATABASE_URL names a server where a fresh database may be created (and is
# dropped afterwards); scripts/test.sh provides one. The binary is the one `cargo test` built
# (${CARGO_TARGET_DIR:-target}/debug/course-shop, or COURSE_SHOP_BIN); it is built when missing.
# schemathesis lives in a virtual environment under /var/cache/course-shop (SCHEMATHESIS_VENV),
# created on first use (a minute; installs Debian's python3-venv when root and it is missing).
# Knobs: SCHEMATHESIS_MAX_EXAMPLES (per operation and phase, default 50), SCHEMATHESIS_SEED
# (default: a new one each run, printed so that a failure can be replayed).
# Ends with one line: `schemathesis: N passed, M failed` (one per database).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
VENV=${SCHEMATHESIS_VENV:-/var/cache/course-shop/schemathesis-$VERSION}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-50}
SEED=${SCHEMATHESIS_SEED:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
BIN=${COURSE_SHOP_BIN:-${CARGO_TARGET_DIR:-target}/debug/course-shop}
CONFIG=$PWD/scripts/schemathesis.toml

say() { echo "schemathesis.sh: $*" >&2; }

ensure_venv() {
  if [ -x "$VENV/bin/schemathesis" ] && [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $VERSION" ]; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || { say "python3 is needed"; exit 1; }
  say "creating $VENV with schemathesis $VERSION"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing Debian's python3-venv"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
      python3 -m venv "$VENV"
    else
      say "python3 -m venv does not work: install python3-venv"
      exit 1
    fi
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  "$VENV/bin/schemathesis" --version >/dev/null
}

ensure_binary() {
  if [ ! -x "$BIN" ]; then
    say "building the server binary"
    cargo build --quiet --bin course-shop
    BIN=${CARGO_TARGET_DIR:-target}/debug/course-shop
  fi
  BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
}

find_psql() {
  local dir
  command -v psql >/dev/null 2>&1 && { command -v psql; return 0; }
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/psql" ] && { echo "$dir/psql"; return 0; }
  done
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# State of the run in progress, for the cleanup trap.
server_pid=
work_dir=
pg_db=
pg_admin=

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}

cleanup() {
  stop_server
  if [ -n "$pg_db" ]; then
    "$(find_psql)" -q "$pg_admin" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
    pg_db=
  fi
  if [ -n "$work_dir" ]; then
    rm -rf "$work_dir"
    work_dir=
  fi
}
trap cleanup EXIT

# Starts the server on $1 (a database URL) in $work_dir; sets server_pid and base.
start_server() {
  local url=$1 port i
  port=$(free_port)
  base=http://127.0.0.1:$port
  (
    cd "$work_dir"
    export COURSE_SHOP_PROFILE=test
    export COURSE_SHOP__DATABASE__URL=$url
    export COURSE_SHOP__SERVER__PORT=$port
    export COURSE_SHOP__SERVER__WORKERS=2
    export COURSE_SHOP__CATALOG__SEED_DEMO_WHEN_EMPTY=true
    export COURSE_SHOP__LOG__FILTER=warn
    # Every payment provider on (their simulators), so every notify endpoint is checked.
    export COURSE_SHOP__WECHATPAY__MODE=simulator COURSE_SHOP__WECHATPAY__APP_ID=wx0000000000000001
    export COURSE_SHOP__WECHATPAY__MCH_ID=1900000001
    export COURSE_SHOP__STRIPE__MODE=simulator
    exec "$BIN" serve
  ) >"$work_dir/server.log" 2>&1 &
  server_pid=$!
  for i in $(seq 1 300); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$base/readyz', timeout=1)" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      say "the server exited; its log:"
      cat "$work_dir/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
  say "the server did not become ready at $base"
  return 1
}

# Creates an account with the operator command and prints a login token for it.
login_token() {
  local url=$1 password=schemathesis-password-1
  (
    cd "$work_dir"
    echo "$password" | COURSE_SHOP_PROFILE=test COURSE_SHOP__DATABASE__URL=$url COURSE_SHOP__LOG__FILTER=warn \
      "$BIN" user add schemathesis --email schemathesis@example.com >/dev/null
  )
  python3 - "$base" "$password" <<'EOF'
import json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
body = json.dumps({"username": "schemathesis", "password": password}).encode()
req = urllib.request.Request(base + "/api/v1/user/user/mul_login/", data=body,
                             headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=30))["token"])
EOF
}

# Runs schemathesis against the server on one database; returns its exit status.
run_one() {
  local backend=$1 url token status
  work_dir=$(mktemp -d "${TMPDIR:-/tmp}/course-shop-schemathesis.XXXXXX")
  case "$backend" in
    sqlite) url="sqlite://$work_dir/shop.db?mode=rwc" ;;
    postgres)
      if [ -z "${TEST_DATABASE_URL:-}" ]; then
        say "TEST_DATABASE_URL is not set: the Postgres run needs a server (scripts/test.sh starts one)"
        return 1
      fi
      find_psql >/dev/null || { say "psql not found: install postgresql-client"; return 1; }
      pg_admin=$TEST_DATABASE_URL
      pg_db=cs_schemathesis_$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
      "$(find_psql)" -q "$pg_admin" -c "CREATE DATABASE \"$pg_db\"" >/dev/null
      url="${pg_admin%/*}/$pg_db"
      ;;
    *) say "unknown backend $backend (sqlite or postgres)"; return 2 ;;
  esac
  start_server "$url" || { cleanup; return 1; }
  token=$(login_token "$url") || { say "could not log in"; cleanup; return 1; }
  say "$backend: server at $base, seed $SEED, $MAX_EXAMPLES examples per operation"
  set +e
  (
    cd "$work_dir"
    "$VENV/bin/schemathesis" --config-file "$CONFIG" run "$base/openapi.json" \
      --checks all \
      --header "Authorization: Bearer $token" \
      --max-examples "$MAX_EXAMPLES" \
      --seed "$SEED" \
      --workers 1 \
      --request-timeout 30 \
      --generation-database none \
      --no-color
  )
  status=$?
  set -e
  if [ "$status" != 0 ]; then
    say "$backend: the server's log (warnings and errors):"
    tail -n 50 "$work_dir/server.log" >&2
  fi
  cleanup
  return "$status"
}

backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(sqlite postgres)
ensure_venv
ensure_binary
passed=0
failed=0
for backend in "${backends[@]}"; do
  started=$SECONDS
  if run_one "$backend"; then
    passed=$((passed + 1))
    say "$backend: passed in $((SECONDS - started)) s"
  else
    failed=$((failed + 1))
    say "$backend: FAILED in $((SECONDS - started)) s"
  fi
done
echo "schemathesis: $passed passed, $failed failed"
[ "$failed" = 0 ]
