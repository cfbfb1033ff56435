#!/usr/bin/env bash
# Statement reconciliation benchmark (issue 12): `course-shop reconcile --statement` of an
# Alipay statement of ORDERS (default 100,000) payment lines against as many orders; prints the
# wall time, CPU time and peak RSS of the command. Results: docs/benchmarks.md.
#
#   BIN=/path/to/release/course-shop bench/statement.sh            # SQLite
#   BIN=... BACKEND=postgres bench/statement.sh                    # a throwaway PostgreSQL
#
# Settings (environment):
#   BIN       the course-shop binary to measure (a release build)   default $CARGO_TARGET_DIR/release/course-shop
#   BACKEND   sqlite | postgres                                      default sqlite
#   ORDERS    orders (and payment lines)                             default 100000
#   DAY       the statement's day (Beijing time)                     default 2026-11-01
#   PYTHON    a python3 with `cryptography` (signs the fake's answers) default /var/cache/course-shop/venv-pay/bin/python
#   KEEP      1: keep the work directory (database, statement, output)
#   ONE_LINE_TOTALS  1: write the totals as one comment line, for builds before f6ae6e8 (they
#             refuse the two lines Alipay's files have)
#
# What it does:
#   1. migrates a fresh database (`course-shop migrate`), adds one buyer (`course-shop user add`)
#      and inserts the ORDERS orders with one bulk INSERT ... SELECT (order i: CSB%012d, 990 + (i % 100) * 100 fen, paid that day at
#      10:00 Beijing + i % 36000 s; i % 20000 == 7 unpaid);
#   2. writes the day's Alipay statement zip (bench/statement_gateway.py zip: GBK detail file in
#      the published format) listing those orders with planted differences: 10 paid orders not
#      listed, 10 amounts off by one fen, 10 console refunds, 10 trades of another system, the
#      5 unpaid orders listed as paid (queried: not confirmed);
#   3. serves it from a fake Alipay gateway (bench/statement_gateway.py serve: signed
#      bill.downloadurl.query and trade.query answers with the TEST_ONLY "Alipay" key of
#      crates/alipay/tests/fixtures/test-only-keys/; the zip at /bill.zip);
#   4. runs `course-shop reconcile --statement DAY --provider alipay --json` under
#      /usr/bin/time -v (alipay.mode = gateway, log filter warn) and checks its counts:
#      100,010 lines, 99,975 matched, 10 applied, 35 flagged (for the default ORDERS);
#   5. prints wall time, user+system CPU time and the peak RSS (maximum resident set size),
#      and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/course-shop}
BACKEND=${BACKEND:-sqlite}
ORDERS=${ORDERS:-100000}
DAY=${DAY:-2026-11-01}
PYTHON=${PYTHON:-/var/cache/course-shop/venv-pay/bin/python}
KEYS=$ROOT/crates/alipay/tests/fixtures/test-only-keys
[ -x "$BIN" ] || { echo "statement.sh: no binary at $BIN (set BIN)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/statement-bench.XXXXXX)
GATEWAY_PID=
PG_STARTED=
cleanup() {
  [ -n "$GATEWAY_PID" ] && kill "$GATEWAY_PID" 2>/dev/null || true
  [ -n "$PG_STARTED" ] && PG_THROWAWAY_DIR=$PG_THROWAWAY_DIR scripts/pg-throwaway.sh stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

case "$BACKEND" in
  sqlite)
    DB_URL="sqlite://$WORK/bench.db?mode=rwc"
    ;;
  postgres)
    eval "$(scripts/pg-throwaway.sh start)"
    PG_STARTED=1
    psql -q "$TEST_DATABASE_URL" -c "CREATE DATABASE statement_bench"
    DB_URL="${TEST_DATABASE_URL%/*}/statement_bench"
    ;;
  *) echo "statement.sh: BACKEND is sqlite or postgres" >&2; exit 1 ;;
esac

export COURSE_SHOP__DATABASE__URL=$DB_URL
export COURSE_SHOP__LOG__FILTER=warn
export COURSE_SHOP__ALIPAY__MODE=gateway
export COURSE_SHOP__ALIPAY__APP_ID=2021000000000001
export COURSE_SHOP__ALIPAY__SELLER_ID=2088000000000001
export COURSE_SHOP__ALIPAY__APP_PRIVATE_KEY=$(cat "$KEYS/TEST_ONLY_app_private_key_pkcs8.b64.txt")
export COURSE_SHOP__ALIPAY__ALIPAY_PUBLIC_KEY=$(cat "$KEYS/TEST_ONLY_alipay_public_key_spki.b64.txt")
unset DATABASE_URL

"$BIN" migrate >/dev/null
# The buyer of every order (orders.user_id references users on Postgres).
echo "bench password 1" | "$BIN" user add statement-bench >/dev/null

# 1. The orders, in one statement.
COLUMNS="subject, total_amount_fen, out_trade_no, trade_no, order_status, pay_type, pay_time, user_id, refunded_fen, orders, is_show, is_delete, created_time, updated_time"
T0=$(date +%s.%N)
if [ "$BACKEND" = sqlite ]; then
  sqlite3 -bail "$WORK/bench.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ORDERS)
INSERT INTO orders ($COLUMNS)
SELECT 'Bench course', 990 + (i % 100) * 100, printf('CSB%012d', i),
       CASE WHEN i % 20000 = 7 THEN NULL ELSE printf('%s22001%015d', strftime('%Y%m%d', '$DAY'), i) END,
       CASE WHEN i % 20000 = 7 THEN 0 ELSE 1 END, 1,
       CASE WHEN i % 20000 = 7 THEN NULL
            ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', '$DAY 02:00:00', '+' || (i % 36000) || ' seconds') END,
       (SELECT min(id) FROM users), 0, 1, 1, 0,
       strftime('%Y-%m-%dT%H:%M:%S+00:00', '$DAY 01:00:00'), strftime('%Y-%m-%dT%H:%M:%S+00:00', '$DAY 01:00:00')
FROM n;
SQL
else
  psql -q -v ON_ERROR_STOP=1 "$DB_URL" <<SQL
INSERT INTO orders ($COLUMNS)
SELECT 'Bench course', 990 + (i % 100) * 100, 'CSB' || lpad(i::text, 12, '0'),
       CASE WHEN i % 20000 = 7 THEN NULL ELSE to_char(DATE '$DAY', 'YYYYMMDD') || '22001' || lpad(i::text, 15, '0') END,
       CASE WHEN i % 20000 = 7 THEN 0 ELSE 1 END, 1,
       CASE WHEN i % 20000 = 7 THEN NULL
            ELSE TIMESTAMPTZ '$DAY 02:00:00+00' + make_interval(secs => i % 36000) END,
       (SELECT min(id) FROM users), 0, 1, true, false, TIMESTAMPTZ '$DAY 01:00:00+00', TIMESTAMPTZ '$DAY 01:00:00+00'
FROM generate_series(1, $ORDERS) AS i;
ANALYZE orders;
SQL
fi
T1=$(date +%s.%N)
echo "inserted $ORDERS orders in $(echo "$T1 - $T0" | bc) s" >&2

# 2-3. The statement and the fake gateway.
"$PYTHON" bench/statement_gateway.py zip --orders "$ORDERS" --day "$DAY" --out "$WORK/bill.zip" \
  $([ "${ONE_LINE_TOTALS:-0}" = 1 ] && echo --one-line-totals)
"$PYTHON" bench/statement_gateway.py serve --zip "$WORK/bill.zip" \
  --key "$KEYS/TEST_ONLY_alipay_private_key_pkcs8.pem" --port-file "$WORK/port" &
GATEWAY_PID=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
export COURSE_SHOP__ALIPAY__GATEWAY_URL="http://127.0.0.1:$(cat "$WORK/port")/gateway.do"

# 4. The measured run.
set +e
/usr/bin/time -v -o "$WORK/time.txt" "$BIN" reconcile --statement "$DAY" --provider alipay --json \
  >"$WORK/out.json" 2>"$WORK/err.txt"
CODE=$?
set -e
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$CODE" != 1 ]; then
  echo "statement.sh: expected exit 1 (differences flagged), got $CODE" >&2
  tail -20 "$WORK/err.txt" >&2
  exit 1
fi
COUNTS=$("$PYTHON" - "$WORK/out.json" <<'PY'
import collections, json, sys
doc = json.load(open(sys.argv[1]))
kinds = collections.Counter(e["kind"] for e in doc["flagged"])
print(f'lines {doc["lines"]}, matched {doc["matched"]}, applied {len(doc["applied"])}, '
      f'flagged {len(doc["flagged"])} ({", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))})')
PY
)
field() { grep -F "$1" "$WORK/time.txt" | sed 's/.*: //'; }
echo "backend:   $BACKEND ($ORDERS orders)"
echo "result:    $COUNTS"
echo "wall:      $(field 'Elapsed (wall clock)')"
echo "cpu:       user $(field 'User time') s, system $(field 'System time') s"
echo "peak RSS:  $(field 'Maximum resident set size') kB"
echo "load avg:  $LOAD"
