#!/usr/bin/env bash
# End-to-end checks of WeChat Pay and Stripe against their independent SDKs from PyPI, like
# python_sdk_e2e.sh for Alipay.
#
# Usage:
#   scripts/e2e/provider_sdk_e2e.sh [wechatpay|stripe|both]     (default: both)
#
#   wechatpay: wechatpayv3 (PyPI) signs a payment notification with its own code
#              (utils.rsa_sign) and a WeChat Pay key pair in the official formats
#              (apiclient_key.pem PKCS#8, pub_key.pem SPKI, PUB_KEY_ID_..., a 32-character
#              APIv3 key); the resource is AES-256-GCM encrypted and checked with its
#              utils.aes_decrypt. The shop, in gateway mode with those keys, accepts it (204,
#              order paid) and refuses a tampered copy and one signed with another key (400).
#              scripts/e2e/wechatpay_sdk_e2e.py.
#   stripe:    stripe (PyPI) signs a checkout.session.completed event
#              (WebhookSignature.generate_signature_header, checked with
#              Webhook.construct_event); the shop, in gateway mode with that endpoint secret,
#              accepts it (200, order paid) and refuses a tampered copy and one signed with
#              another secret (400). scripts/e2e/stripe_sdk_e2e.py.
#
# Each starts the course-shop binary on a free port with a fresh SQLite database; the
# provider's API is a small stand-in in the Python script (order creation needs one).
# Steps:
#   1. a venv with the SDKs (E2E_VENV, default /tmp/course-shop-e2e-venv; created and filled
#      from PyPI when missing, as in CI; /var/cache/course-shop/venv-pay has both)
#   2. cargo build --bin course-shop (CARGO_TARGET_DIR, default /var/cache/course-shop/target-e2e)
#   3. the Python check per provider, RESULT lines summarised; exit non-zero on any failure.
# Needs: cargo, python3 (with venv). E2E_KEEP_TMP=1 keeps the temporary directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WHICH="${1:-both}"
case "$WHICH" in
  both) WHICH="wechatpay stripe" ;;
  wechatpay|stripe) ;;
  *) echo "usage: $0 [wechatpay|stripe|both]" >&2; exit 2 ;;
esac

E2E_VENV="${E2E_VENV:-/tmp/course-shop-e2e-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/course-shop/target-e2e}"
START=$(date +%s)
TMP="$(mktemp -d /tmp/course-shop-provider-e2e.XXXXXX)"
SUMMARY=()
FAILED=0

summary() {
  local rc=$?
  [[ $rc -ne 0 && $FAILED -eq 0 ]] && SUMMARY+=("FAIL  -  aborted (exit $rc), see the output above") && FAILED=1
  echo
  echo "================ provider SDK end-to-end summary ================"
  printf '%s\n' "${SUMMARY[@]}"
  echo "SDKs: ${SDK_VERSIONS:-?}   total time: $(( $(date +%s) - START ))s   $(date -u '+%Y-%m-%d %H:%M:%SZ')"
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

echo "--- venv $E2E_VENV"
if [[ ! -x "$E2E_VENV/bin/python" ]]; then
  python3 -m venv "$E2E_VENV"
fi
if ! "$E2E_VENV/bin/python" -c 'import wechatpayv3, stripe' 2>/dev/null; then
  "$E2E_VENV/bin/pip" install --quiet --disable-pip-version-check wechatpayv3 stripe
fi
SDK_VERSIONS="$("$E2E_VENV/bin/python" -c 'from importlib.metadata import version as v; print("wechatpayv3", v("wechatpayv3"), "/ stripe", v("stripe"), "/ cryptography", v("cryptography"))')"
SUMMARY+=("PASS  venv  $SDK_VERSIONS")

echo "--- cargo build --bin course-shop (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
if (cd "$ROOT" && cargo build --quiet --bin course-shop); then
  SUMMARY+=("PASS  build  $CARGO_TARGET_DIR/debug/course-shop")
else
  SUMMARY+=("FAIL  build  cargo build failed"); FAILED=1; exit 1
fi
BIN="$CARGO_TARGET_DIR/debug/course-shop"

for provider in $WHICH; do
  echo
  echo "================ $provider ================"
  dir="$TMP/$provider"; mkdir -p "$dir"
  out="$dir/python.out"; rc=0
  (cd "$HERE" && "$E2E_VENV/bin/python" "${provider}_sdk_e2e.py" --bin "$BIN" --workdir "$dir") 2>&1 | tee "$out" || rc=$?
  seen=0
  while IFS= read -r line; do
    read -r _ step verdict text <<< "$line"
    SUMMARY+=("$verdict  $provider $step  $text"); seen=$((seen + 1))
    [[ "$verdict" == PASS ]] || FAILED=1
  done < <(grep '^RESULT ' "$out")
  if [[ $rc -ne 0 || $seen -lt 5 ]]; then
    FAILED=1
    [[ $seen -ge 5 ]] || SUMMARY+=("FAIL  $provider  the Python check stopped early (exit $rc)")
  fi
done
