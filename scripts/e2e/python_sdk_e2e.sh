#!/usr/bin/env bash
# End-to-end check of Alipay page pay against an independent SDK (python-alipay-sdk, PyPI).
#
# Usage:
#   scripts/e2e/python_sdk_e2e.sh [pkcs1|pkcs8|both]     (default: both)
#
# For each variant of the app private key format it:
#   1. makes (or reuses) a venv with python-alipay-sdk   (E2E_VENV, default /tmp/course-shop-e2e-venv)
#   2. generates fresh RSA-2048 key pairs ("app" and "alipay") with openssl, written as Alipay's
#      key tool hands them out: one line of bare base64, app private key PKCS#1 ("PKCS1(非Java适用)")
#      or PKCS#8 ("PKCS8(Java适用)"), public keys SPKI
#   3. builds course-shop     (CARGO_TARGET_DIR, default /var/cache/course-shop/target-e2e)
#   4. starts it in gateway mode on a free port, fresh SQLite database, keys from the environment
#   5. adds a user (course-shop user add), logs in, creates an order (POST /api/v1/order/alipay/)
#   6. verifies the pay URL with the SDK (signature, byte-identical re-sign, biz_content, time)
#   7. posts a notify signed by the SDK with the "alipay" key: `success`, order paid
#   8. tampered-amount and wrong-key notifies: `fail`
#   9. stops the server; prints PASS/FAIL per step; exits non-zero on any failure
# Steps 5-8 are scripts/e2e/python_sdk_e2e.py. Needs: cargo, openssl, python3 (with venv), curl.
# Nothing from the Rust test code is used. E2E_KEEP_TMP=1 keeps the temporary directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VARIANTS="${1:-both}"
case "$VARIANTS" in
  both) VARIANTS="pkcs1 pkcs8" ;;
  pkcs1|pkcs8) ;;
  *) echo "usage: $0 [pkcs1|pkcs8|both]" >&2; exit 2 ;;
esac

E2E_VENV="${E2E_VENV:-/tmp/course-shop-e2e-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/course-shop/target-e2e}"
APP_ID=2021000123456789
SELLER_ID=2088123456789012
GATEWAY_URL=https://openapi-sandbox.dl.alipaydev.com/gateway.do

START=$(date +%s)
TMP="$(mktemp -d /tmp/course-shop-e2e.XXXXXX)"
SERVER_PID=""
SUMMARY=()
FAILED=0

pass() { SUMMARY+=("PASS  $1  $2"); echo "RESULT $1 PASS $2"; }
fail() { SUMMARY+=("FAIL  $1  $2"); echo "RESULT $1 FAIL $2"; FAILED=1; }

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

summary() {
  local rc=$?
  stop_server
  [[ $rc -ne 0 && $FAILED -eq 0 ]] && SUMMARY+=("FAIL  -  aborted (exit $rc), see the output above") && FAILED=1
  echo
  echo "================ python-alipay-sdk end-to-end summary ================"
  printf '%s\n' "${SUMMARY[@]}"
  echo "python-alipay-sdk: ${SDK_VERSION:-?}   total time: $(( $(date +%s) - START ))s   $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  if [[ $FAILED -eq 0 ]]; then echo "OVERALL: PASS"; else echo "OVERALL: FAIL"; fi
  if [[ "${E2E_KEEP_TMP:-0}" == 1 || $FAILED -ne 0 ]]; then
    echo "temporary files (server logs, keys): $TMP"
  else
    rm -rf "$TMP"
  fi
  [[ $FAILED -eq 0 ]] || exit 1
}
trap summary EXIT
trap 'exit 130' INT TERM

# ---- 1. venv with python-alipay-sdk ---------------------------------------------------------
echo "--- step 1: venv $E2E_VENV"
if [[ ! -x "$E2E_VENV/bin/python" ]]; then
  python3 -m venv "$E2E_VENV"
fi
if ! "$E2E_VENV/bin/python" -c 'import alipay' 2>/dev/null; then
  "$E2E_VENV/bin/pip" install --quiet --disable-pip-version-check python-alipay-sdk
fi
SDK_VERSION="$("$E2E_VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("python-alipay-sdk"), "(pycryptodomex", v("pycryptodomex") + ")")')"
pass 1 "venv ready, python-alipay-sdk $SDK_VERSION"

# ---- 3. build -------------------------------------------------------------------------------
echo "--- step 3: cargo build --bin course-shop (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
if (cd "$ROOT" && cargo build --quiet --bin course-shop); then
  pass 3 "built $CARGO_TARGET_DIR/debug/course-shop"
else
  fail 3 "cargo build failed"; exit 1
fi
BIN="$CARGO_TARGET_DIR/debug/course-shop"

one_line() { grep -v -- '-----' "$1" | tr -d '\n'; }

free_port() {
  "$E2E_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

run_variant() {
  local v="$1" dir="$TMP/$1" keys="$TMP/$1/keys"
  mkdir -p "$keys" "$dir/media"

  # ---- 2. keys in the key tool's formats -----------------------------------------------------
  echo "--- step 2 [$v]: fresh RSA-2048 key pairs"
  local who
  for who in app alipay; do
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/$who.pkcs8.pem" 2>/dev/null
    openssl rsa -in "$keys/$who.pkcs8.pem" -traditional -out "$keys/$who.pkcs1.pem" 2>/dev/null
    openssl rsa -in "$keys/$who.pkcs8.pem" -pubout -out "$keys/$who.spki.pem" 2>/dev/null
    one_line "$keys/$who.pkcs1.pem" > "$keys/${who}_private_key_pkcs1.b64.txt"
    one_line "$keys/$who.pkcs8.pem" > "$keys/${who}_private_key_pkcs8.b64.txt"
    one_line "$keys/$who.spki.pem" > "$keys/${who}_public_key_spki.b64.txt"
  done
  local app_private alipay_public
  app_private="$(cat "$keys/app_private_key_$v.b64.txt")"
  alipay_public="$(cat "$keys/alipay_public_key_spki.b64.txt")"
  # What the key tool's output looks like: one line, no armour, the usual DER prefixes.
  local want_prefix
  case "$v" in pkcs1) want_prefix='MIIE[op]';; pkcs8) want_prefix='MIIEv';; esac
  if [[ "$app_private" =~ ^${want_prefix}[A-Za-z0-9+/]+=*$ ]] \
     && [[ "$alipay_public" =~ ^MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA[A-Za-z0-9+/]+=*$ ]] \
     && [[ $(wc -l < "$keys/app_private_key_$v.b64.txt") -eq 0 ]]; then
    pass "2[$v]" "app private key: one line of bare base64 ${v^^} (${#app_private} chars, ${app_private:0:6}...); public keys: bare base64 SPKI (${#alipay_public} chars)"
  else
    fail "2[$v]" "key files are not in the expected format"; return
  fi

  # ---- 4. start the server in gateway mode ---------------------------------------------------
  echo "--- step 4 [$v]: start course-shop in gateway mode"
  local port; port="$(free_port)"
  local -a env=(
    COURSE_SHOP_PROFILE=development
    "DATABASE_URL=sqlite://$dir/shop.db?mode=rwc"
    "PORT=$port"
    "COURSE_SHOP__MEDIA__ROOT=$dir/media"
    COURSE_SHOP__ALIPAY__MODE=gateway
    "COURSE_SHOP__ALIPAY__APP_ID=$APP_ID"
    "COURSE_SHOP__ALIPAY__SELLER_ID=$SELLER_ID"
    "COURSE_SHOP__ALIPAY__APP_PRIVATE_KEY=$app_private"
    "COURSE_SHOP__ALIPAY__ALIPAY_PUBLIC_KEY=$alipay_public"
    "COURSE_SHOP__ALIPAY__GATEWAY_URL=$GATEWAY_URL"
    COURSE_SHOP__WORKERS__ENABLED=false
  )
  (cd "$dir" && exec env "${env[@]}" "$BIN" serve) > "$dir/server.log" 2>&1 &
  SERVER_PID=$!
  local ready=0
  for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then ready=1; break; fi
    sleep 0.2
  done
  if [[ $ready -ne 1 ]]; then
    fail "4[$v]" "server not ready on port $port; last log lines:"
    tail -n 20 "$dir/server.log" | sed 's/^/    /'
    stop_server; return
  fi
  pass "4[$v]" "serving on 127.0.0.1:$port (gateway mode, keys from the environment), /readyz ok"

  # ---- 5 (account) -----------------------------------------------------------------------------
  echo "--- step 5 [$v]: course-shop user add e2e"
  if echo 'correct horse battery' | (cd "$dir" && env "${env[@]}" "$BIN" user add e2e) > "$dir/user-add.log" 2>&1; then
    echo "  ok: user e2e added"
  else
    fail "5[$v]" "course-shop user add failed:"; sed 's/^/    /' "$dir/user-add.log"
    stop_server; return
  fi

  # ---- 5-8 in Python with the SDK --------------------------------------------------------------
  local out="$dir/python.out" rc=0
  "$E2E_VENV/bin/python" "$HERE/python_sdk_e2e.py" --base-url "http://127.0.0.1:$port" \
    --keys-dir "$keys" --variant "$v" --app-id "$APP_ID" --seller-id "$SELLER_ID" \
    --gateway-url "$GATEWAY_URL" --username e2e 2>&1 | tee "$out" || rc=$?
  local line step verdict text seen=0
  while IFS= read -r line; do
    read -r _ step verdict text <<< "$line"
    SUMMARY+=("$verdict  $step[$v]  $text"); seen=$((seen + 1))
    [[ "$verdict" == PASS ]] || FAILED=1
  done < <(grep '^RESULT ' "$out")
  if [[ $rc -ne 0 || $seen -lt 5 ]]; then
    FAILED=1
    [[ $seen -ge 5 ]] || SUMMARY+=("FAIL  5-8[$v]  the Python check stopped early (exit $rc)")
  fi

  # ---- 9. stop, and the key never appears in the log -----------------------------------------
  stop_server
  # The four bad notifies of step 8 must have been refused for their signature (not for some
  # other reason such as the amount): the server logs each rejection with its reason.
  local rejected bad_sig
  rejected=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/server.log" | grep -c 'alipay notify rejected' || true)
  bad_sig=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/server.log" | grep 'alipay notify rejected' \
            | grep -c 'reason=verification failed: signature does not verify' || true)
  if [[ $rejected -eq 4 && $bad_sig -eq 4 ]]; then
    pass "8c[$v]" "server log: exactly 4 notifies rejected, each with 'verification failed: signature does not verify'"
  else
    fail "8c[$v]" "server log: $rejected notifies rejected, $bad_sig for a bad signature (want 4 and 4)"
  fi
  if grep -qF -- "${app_private:100:40}" "$dir/server.log"; then
    fail "9[$v]" "server stopped, but its log contains the app private key"
  else
    pass "9[$v]" "server stopped; the app private key does not appear in its log ($(wc -l < "$dir/server.log") lines)"
  fi
}

for v in $VARIANTS; do
  echo
  echo "================ variant $v ================"
  run_variant "$v"
done
