#!/usr/bin/env bash
# The deferred work of a payment (issue 10, §3): the CPU the outbox's jobs of N paid orders
# cost the server and Postgres, measured apart from the notifies that caused them, and how far
# behind the purchase emails fall while a burst of payments arrives. Results: docs/benchmarks.md
# ("The outbox drain").
#
#   bench/outbox_drain.sh                  # HEAD, release build
#   BENCH_REV= bench/outbox_drain.sh       # the work tree
#   BENCH_REV=<rev> bench/outbox_drain.sh  # another revision (extracted as bench/lib.sh does)
#   BENCH_PROFILE=relaxed bench/outbox_drain.sh  # development profile, log at warn, Postgres
#                                          # with fsync off (labelled RELAXED in machine.txt)
#
# Conditions: production's by default, as every benchmark (bench/lib.sh: the production profile
# with its JSON request line at info, Alipay in gateway mode with keys generated for the run,
# a durable throwaway Postgres: fsync and synchronous_commit on); machine.txt says which.
#
# Settings (environment):
#   ORDERS            orders paid for the drain measurement                default 4000
#   MEASURE           cpu, or instructions: the server of the notify part runs under valgrind's
#                     callgrind and the instructions of its HTTP workers' connection handling
#                     (actix-http's `Dispatcher::poll`, as bench/log_cost.sh counts them: the
#                     handler included, the notify log's writes and the outbox worker not) are
#                     given per notify; repeatable where CPU time is not       default cpu
#   BURST             seconds of the burst run (0: none)                    default 30
#   BURST_ORDERS      orders paid by the burst (must outlast it)            default 30000
#   USERS             buyers (each with an email address)                   default 100
#   CATALOG_COURSES   courses of bench/gen_catalog.py                       default 2000
#   CARGO_TARGET_DIR  where the release binary is built                     default /var/cache/course-shop/target-bench
#   BENCH_BIN         a course-shop binary built already (then nothing is built; say which
#                     revision and profile it is in BENCH_BIN_DESC)
#
# What it does: builds the release binary, starts a throwaway PostgreSQL
# (scripts/pg-throwaway.sh), imports a generated catalog, adds buyers with email addresses and
# creates unpaid orders with wrk (bench/payments_create.lua), signs one TRADE_SUCCESS notify
# per order with the TEST_ONLY "alipay" key (bench/payments_prep.py), then:
#   1. drain: the server runs with its workers off while the ORDERS notifies are posted (their
#      CPU is "notify"); the jobs are then held back (next_attempt_at in an hour), the server
#      restarts with its workers on, and once it is idle (bench/lib.sh wait_idle: no CPU for a
#      second, its startup work done) the jobs are released and the CPU of
#      the server and of the Postgres cluster (/proc/<pid>/stat utime + stime, the postmaster
#      and its children) is read before and after the outbox drained ("drain");
#   2. burst: with the workers on, wrk posts the BURST_ORDERS notifies for BURST seconds
#      (bench/payments_notify.lua, 16 connections); afterwards, for every order paid in the
#      burst, how long after its accepted notify its email's job was done (the purchase
#      email's lag; p50, p99, max), and how long the rest took to drain. The email's job is
#      the outbox row whose payload is the order's `order_email` job: its own row in revisions
#      before 2026-11-30, since then the order's `order_paid` row, which carries the email
#      once its database work committed.
# Then every order must be paid exactly once with its email job done once (checks below).
# Raw outputs: bench/runs/outbox-drain-<UTC timestamp>/ (ignored by git).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_REV=${BENCH_REV-HEAD}
ORDERS=${ORDERS:-4000}
MEASURE=${MEASURE:-cpu}
BURST=${BURST:-30}
BURST_ORDERS=${BURST_ORDERS:-30000}
USERS=${USERS:-100}
CATALOG_COURSES=${CATALOG_COURSES:-2000}
PASSWORD='bench password 1'
APP_ID=2021000000000001
SELLER_ID=2088000000000001
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target-bench}
BIN=$CARGO_TARGET_DIR/release/course-shop
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/runs/outbox-drain-$STAMP

. "$ROOT/bench/lib.sh"
. "$ROOT/bench/callgrind.sh"
for tool in wrk python3 curl psql; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing"; exit 1; }
done
bench_workdir course-shop-bench-drain
bench_build

bench_pg_start
psql -q "$TEST_DATABASE_URL" -c 'CREATE DATABASE bench'
export DATABASE_URL=${TEST_DATABASE_URL%/*}/bench
sql() { psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }

bench_server_env
bench_alipay_gateway "$APP_ID" "$SELLER_ID"
export COURSE_SHOP__MEDIA__ROOT=$WORK/media
export COURSE_SHOP__ALIPAY__ORDER_TIMEOUT_MINUTES=1440
export COURSE_SHOP__AUTH__LOGIN_ATTEMPTS_PER_MINUTE=100000
export COURSE_SHOP__CATALOG__SEED_DEMO_WHEN_EMPTY=false
export COURSE_SHOP__RECONCILIATION__DAILY=false
mkdir -p "$WORK/media" "$WORK/run" "$WORK/data"
export BENCH_DATA=$WORK/data BENCH_THREADS=2
export COURSE_SHOP__SERVER__PORT=$PORT

serve() { # serve WORKERS(true|false) [callgrind]
  local launch=()
  if [ "${2:-}" = callgrind ]; then
    callgrind_launch "$WORK/callgrind.out"
    launch=("${CALLGRIND_LAUNCH[@]}")
  fi
  (cd "$WORK/run" && COURSE_SHOP__WORKERS__ENABLED=$1 exec "${launch[@]}" "$BIN" serve) >>"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  SERVER_LOG=$OUT/server.log
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.5
  done
  log "the server did not become ready"; tail -50 "$OUT/server.log" >&2; exit 1
}
pending() { sql -c "SELECT count(*) FROM outbox WHERE status = 'pending'"; }
per_order() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.3f", (n > 0 ? 1000 * t / hz / n : 0) }'; }

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "server built from: $SOURCE_DESC"
  echo "conditions: BENCH_PROFILE=$BENCH_PROFILE: $BENCH_CONDITIONS"
  echo "postgres: $("$PG_THROWAWAY_BIN/postgres" --version) ($PG_CONDITIONS)"
  echo "orders: $ORDERS drained, burst ${BURST}s over at most $BURST_ORDERS orders; users $USERS; catalog $CATALOG_COURSES courses"
  echo "uptime before: $(uptime)"
} | tee "$OUT/machine.txt"

python3 bench/gen_catalog.py "$WORK/catalog.json" --courses "$CATALOG_COURSES" >/dev/null
(cd "$WORK/run" && "$BIN" import-catalog "$WORK/catalog.json") >/dev/null
serve false
log "adding $USERS buyers"
for i in $(seq 1 "$USERS"); do
  name=$(printf 'bench%04d' "$i")
  printf '%s\n' "$PASSWORD" | (cd "$WORK/run" && "$BIN" user add "$name" --email "$name@example.com") >>"$WORK/user-add.log" 2>&1
done
python3 bench/payments_prep.py login "$BASE" bench "$USERS" "$PASSWORD" "$BENCH_DATA/tokens.txt" >/dev/null
sql -F ' ' -c "SELECT id, (price_fen / 100)::text || '.' || lpad((price_fen % 100)::text, 2, '0')
               FROM courses WHERE price_fen > 0 AND is_show ORDER BY id" >"$BENCH_DATA/courses.txt"
want=$((ORDERS + (BURST > 0 ? BURST_ORDERS : 0)))
run=0
while [ "$(sql -c 'SELECT count(*) FROM orders WHERE order_status = 0')" -lt "$want" ]; do
  run=$((run + 1))
  [ "$run" -le 60 ] || { log "cannot create $want orders"; exit 1; }
  log "creating orders (want $want unpaid)"
  BENCH_OFFSET=$(sql -c 'SELECT count(*) FROM orders') BENCH_RUN=r$run \
    wrk -t2 -c16 -d10s -s bench/payments_create.lua "$BASE" >/dev/null
done
sign() { # sign COUNT NAME: signs COUNT unpaid orders not signed before into $BENCH_DATA/NAME.txt
  sql -c "SELECT out_trade_no, total_amount_fen FROM orders WHERE order_status = 0
          AND out_trade_no NOT IN (SELECT out_trade_no FROM signed) ORDER BY id LIMIT $1" >"$WORK/$2.tsv"
  python3 bench/payments_prep.py sign "$WORK/$2.tsv" "$BENCH_ALIPAY_PRIVATE_KEY" \
    "$APP_ID" "$SELLER_ID" "$BENCH_DATA/$2.txt" "$WORK/$2-expected.tsv" >/dev/null
  sql -c "\\copy signed (out_trade_no) FROM program 'cut -f1 $WORK/$2.tsv'"
}
sql -c 'CREATE TABLE signed (out_trade_no text PRIMARY KEY)'
sign "$ORDERS" drain

# 1. The drain.
log "posting $ORDERS notifies (workers off)"
if [ "$MEASURE" = instructions ]; then
  stop_server
  serve false callgrind
  callgrind_control -i on "$SERVER_PID" >/dev/null
fi
s0=$(proc_ticks "$SERVER_PID"); p0=$(pg_ticks)
python3 bench/payments_prep.py post "$BASE" "$BENCH_DATA/drain.txt" | tee "$OUT/drain-post.txt"
s1=$(proc_ticks "$SERVER_PID"); p1=$(pg_ticks)
if [ "$MEASURE" = instructions ]; then
  instructions=$(callgrind_instructions "$SERVER_PID" "$WORK/callgrind.out")
  echo "notify: $((instructions / ORDERS)) instructions per notify in the HTTP workers (callgrind; $instructions for $ORDERS; the CPU figures of this notify part are under valgrind)" | tee "$OUT/notify-instructions.txt"
fi
stop_server
jobs=$(pending)
sql -c "UPDATE outbox SET next_attempt_at = now() + interval '1 hour' WHERE status = 'pending'"
serve true
wait_idle
s2=$(proc_ticks "$SERVER_PID"); p2=$(pg_ticks)
e0=$(date +%s.%N)
sql -c "UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'"
while [ "$(pending)" != 0 ]; do sleep 0.2; done
e1=$(date +%s.%N)
s3=$(proc_ticks "$SERVER_PID"); p3=$(pg_ticks)
total=$(sql -c "SELECT count(*) FROM outbox WHERE status = 'done'")
{
  echo "notify: $ORDERS orders paid; CPU per order: server $(per_order $((s1 - s0)) "$ORDERS") ms, postgres $(per_order $((p1 - p0)) "$ORDERS") ms"
  echo "drain: $jobs jobs pending after the notifies, $total done at the end, in $(awk -v a="$e0" -v b="$e1" 'BEGIN { printf "%.2f", b - a }') s"
  echo "drain: CPU per paid order: server $(per_order $((s3 - s2)) "$ORDERS") ms, postgres $(per_order $((p3 - p2)) "$ORDERS") ms, together $(per_order $((s3 - s2 + p3 - p2)) "$ORDERS") ms"
  echo "whole payment (notify + drain): $(per_order $((s1 - s0 + p1 - p0 + s3 - s2 + p3 - p2)) "$ORDERS") ms of CPU per paid order"
  echo "outbox rows per paid order: $(sql -c "SELECT round(count(*)::numeric / $ORDERS, 2) FROM outbox")"
} | tee "$OUT/drain.txt"

# 2. The burst.
if [ "$BURST" -gt 0 ]; then
  sign "$BURST_ORDERS" notify_bodies
  log "burst: ${BURST}s of notifies, workers on"
  sql -c "CREATE TABLE before_burst AS SELECT out_trade_no FROM payment_notifies WHERE verdict = 'accepted'"
  s0=$(proc_ticks "$SERVER_PID"); p0=$(pg_ticks)
  wrk -t2 -c16 -d"${BURST}s" --latency -s bench/payments_notify.lua "$BASE" | tee "$OUT/burst-wrk.txt"
  at_end=$(pending)
  e0=$(date +%s.%N)
  while [ "$(pending)" != 0 ]; do sleep 0.2; done
  e1=$(date +%s.%N)
  s1=$(proc_ticks "$SERVER_PID"); p1=$(pg_ticks)
  paid=$(sql -c "SELECT count(*) FROM payment_notifies WHERE verdict = 'accepted' AND out_trade_no NOT IN (SELECT out_trade_no FROM before_burst)")
  {
    echo "burst: $paid orders paid in ${BURST}s; jobs pending when it ended: $at_end, drained $(awk -v a="$e0" -v b="$e1" 'BEGIN { printf "%.2f", b - a }') s later"
    echo "burst: CPU per paid order (notifies, duplicates and jobs): server $(per_order $((s1 - s0)) "$paid") ms, postgres $(per_order $((p1 - p0)) "$paid") ms"
    sql -c "WITH lag AS (
              SELECT extract(epoch FROM j.updated_time - n.received_at) AS s
              FROM payment_notifies n JOIN orders o USING (out_trade_no)
              JOIN outbox j ON j.payload::jsonb ->> 'kind' = 'order_email' AND (j.payload::jsonb ->> 'order_id')::bigint = o.id
              WHERE n.verdict = 'accepted' AND n.out_trade_no NOT IN (SELECT out_trade_no FROM before_burst))
            SELECT 'email lag after payment (s): p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 2)
                   || ', p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY s)::numeric, 2)
                   || ', max ' || round(max(s)::numeric, 2) || ' over ' || count(*) || ' emails' FROM lag"
    # How the worker kept pace: the burst's jobs finished in each second from the burst's first
    # accepted notify (the series in burst-jobs-per-second.txt).
    sql -c "WITH t0 AS (SELECT min(received_at) AS t FROM payment_notifies
                        WHERE verdict = 'accepted' AND out_trade_no NOT IN (SELECT out_trade_no FROM before_burst)),
                 s AS (SELECT floor(extract(epoch FROM j.updated_time - t0.t))::int AS sec, count(*) AS n
                       FROM outbox j, t0 WHERE j.status = 'done' AND j.updated_time >= t0.t GROUP BY 1)
            SELECT sec, n FROM s ORDER BY sec" >"$OUT/burst-jobs-per-second.txt"
    awk -v b="$BURST" '$1 < b { print $2 }' "$OUT/burst-jobs-per-second.txt" | sort -n |
      awk '{ n[++k] = $1 } END { if (k) printf "worker during the burst: jobs done per second (%d s with any): p10 %d, median %d, max %d\n", k, n[int(k * 0.1) + 1], n[int(k / 2) + 1], n[k] }'
  } | tee "$OUT/burst.txt"
fi

# Exactly once.
stop_server
sql -c "SELECT 'paid orders: ' || count(*) FILTER (WHERE order_status = 1) || ' (accepted notifies ' ||
               (SELECT count(*) FROM payment_notifies WHERE verdict = 'accepted') || ')' FROM orders" | tee "$OUT/checks.txt"
sql -c "SELECT 'orders with other than one accepted notify: ' || count(*) FROM (
          SELECT o.id FROM orders o LEFT JOIN payment_notifies n ON n.out_trade_no = o.out_trade_no AND n.verdict = 'accepted'
          WHERE o.order_status = 1 GROUP BY o.id HAVING count(n.id) <> 1) x" | tee -a "$OUT/checks.txt"
# One pass over the outbox (a subquery per order read the whole outbox once per order: hours
# for a 60-second burst's 70,000 orders).
sql -c "SELECT 'paid orders without exactly one done order_email job: ' || count(*) FROM orders o
        LEFT JOIN (SELECT (payload::jsonb ->> 'order_id')::bigint AS order_id, count(*) AS n FROM outbox
                   WHERE payload::jsonb ->> 'kind' = 'order_email' AND status = 'done' GROUP BY 1) j ON j.order_id = o.id
        WHERE o.order_status = 1 AND coalesce(j.n, 0) <> 1" | tee -a "$OUT/checks.txt"
sql -c "SELECT 'outbox by kind and status: ' || string_agg(kind || '/' || status || '=' || n, ' ') FROM (
          SELECT kind, status, count(*) n FROM outbox GROUP BY 1, 2 ORDER BY 1, 2) x" | tee -a "$OUT/checks.txt"
echo "emails written: $(find "$BENCH_MAIL_DIR" -type f 2>/dev/null | wc -l)" | tee -a "$OUT/checks.txt"
echo "uptime after: $(uptime)" | tee -a "$OUT/machine.txt"
log "raw results in $OUT"
