#!/usr/bin/env bash
# A throwaway S3-compatible server for the storage tests: no Docker, no system service.
#
#   eval "$(scripts/s3-throwaway.sh start)"   # prints export lines: S3_TEST_ENDPOINT, S3_TEST_BUCKET,
#                                             # S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY,
#                                             # S3_THROWAWAY_DIR, S3_THROWAWAY_PID
#   scripts/s3-throwaway.sh stop              # stops it and deletes its directory
#
# The server is s3s-fs 0.14.1 from crates.io, built once with `cargo install` into
# ${S3S_FS_CACHE:-/var/cache/course-shop/s3s-fs} (a few minutes on 2 cores; cache that directory).
# It checks SigV4 signatures, of headers and of presigned URLs, and presigned expiry, so both
# "altered signature -> 403" and "expired link -> 403" can be tested. (s3rver from npm, tried
# first, checks presigned expiry but accepts any SigV4 signature: not good enough.)
# Objects live in a temporary directory; the server listens on 127.0.0.1 only and knows one
# bucket (course-shop-test) and one key pair, made up at each start. Never for real data.
set -euo pipefail

CACHE=${S3S_FS_CACHE:-/var/cache/course-shop/s3s-fs}
VERSION=0.14.1 # 0.15+ need a newer rustc than the project's toolchain
BIN=$CACHE/bin/s3s-fs
BUCKET=course-shop-test
ACCESS_KEY=course-shop-test

ensure_s3s_fs() {
  if [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "s3s-fs $VERSION" ]; then
    return 0
  fi
  command -v cargo >/dev/null 2>&1 || { echo "s3-throwaway: cargo is needed to build s3s-fs" >&2; exit 1; }
  echo "s3-throwaway: building s3s-fs $VERSION from crates.io into $CACHE (takes a few minutes)" >&2
  mkdir -p "$CACHE"
  # Out of the work tree, so that its rust-toolchain.toml and target directory are not involved.
  (cd "$CACHE" && CARGO_TARGET_DIR="$CACHE/build" cargo install s3s-fs --version "$VERSION" \
    --features binary --locked --root "$CACHE" --quiet) >&2
  rm -rf "$CACHE/build"
  [ -x "$BIN" ] || { echo "s3-throwaway: s3s-fs did not install" >&2; exit 1; }
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}

answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  ensure_s3s_fs
  local dir port pid secret i
  dir=$(mktemp -d "${TMPDIR:-/tmp}/course-shop-s3.XXXXXX")
  # s3s-fs keeps one directory per bucket under its root.
  mkdir -p "$dir/data/$BUCKET"
  port=$(free_port)
  secret=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
  # The secret is on the command line (visible to local users): fine for a throwaway server.
  RUST_LOG=${S3_THROWAWAY_LOG:-warn} nohup "$BIN" --host 127.0.0.1 --port "$port" \
    --access-key "$ACCESS_KEY" --secret-key "$secret" "$dir/data" </dev/null >"$dir/server.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  for i in $(seq 1 100); do
    answers "$port" && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "s3-throwaway: s3s-fs exited; log:" >&2
      cat "$dir/server.log" >&2
      rm -rf "$dir"
      exit 1
    fi
    if [ "$i" = 100 ]; then
      echo "s3-throwaway: s3s-fs did not answer on port $port" >&2
      kill "$pid"
      rm -rf "$dir"
      exit 1
    fi
    sleep 0.1
  done
  echo "export S3_TEST_ENDPOINT=http://127.0.0.1:$port"
  echo "export S3_TEST_BUCKET=$BUCKET"
  echo "export S3_TEST_ACCESS_KEY=$ACCESS_KEY"
  echo "export S3_TEST_SECRET_KEY=$secret"
  echo "export S3_THROWAWAY_DIR=$dir"
  echo "export S3_THROWAWAY_PID=$pid"
}

stop() {
  local dir=${S3_THROWAWAY_DIR:-} pid=${S3_THROWAWAY_PID:-} i
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  [ -n "$pid" ] || pid=$(cat "$dir/pid" 2>/dev/null || true)
  # Only kill the process if it is still the server this script started on that directory.
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "s3s-fs" \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/data"; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
