#!/usr/bin/env bash
# Payments benchmark (issue 3): order creation, Alipay notify handling and status polling
# under wrk, on PostgreSQL, with a release build in gateway mode; plus the machine's RSA-2048
# signing limit (openssl speed) measured in the same run. Results: docs/benchmarks.md.
#
#   bench/payments.sh                 # 20 s per run (the recorded benchmark; about 7 minutes
#                                     # on a quiet machine, plus the release build when needed)
#   DURATION=3s bench/payments.sh     # quick smoke run
#   BENCH_PROFILE=relaxed bench/payments.sh   # the relaxed variant (development profile, log
#                                     # at warn, Postgres with fsync off): labelled RELAXED
#   PROVIDER=wechatpay bench/payments.sh   # the same for WeChat Pay (or PROVIDER=stripe): the
#                                     # relaxed variant only (production refuses simulators)
#
# Settings (environment):
#   BENCH_PROFILE     production or relaxed (bench/lib.sh)                default production
#   PROVIDER          alipay, wechatpay or stripe: the orders' pay_type (1, 2, 3) and the
#                     notifications posted. wechatpay and stripe run in simulator mode (below)
#                                                                         default alipay
#   DURATION          wrk -d (e.g. 20s, 3s, 1m)                           default 20s
#   CONNECTIONS       wrk -c values                                       default "16 64"
#   BENCH_REV         git revision to build; it is extracted with git archive into
#                     $CARGO_TARGET_DIR.src as bench/run.sh does. BENCH_REV= (empty) builds
#                     the work tree instead.                              default HEAD
#   CARGO_TARGET_DIR  where the release binary is built                   default /var/cache/course-shop/target-bench
#   BENCH_BIN         a course-shop binary built already (then nothing is built; say which
#                     revision and profile it is in BENCH_BIN_DESC)
#   USERS             buyers created with `course-shop user add`          default 200
#   PROFILE           set: perf samples of the server during each wrk run (perf-*.data in the
#                     run's directory; `perf report -i FILE --sort sym`)   default unset
#   PG_STATEMENTS     set: Postgres's statements during each wrk run (pg_stat_statements with
#                     track_planning: calls, rows, mean execution and planning time) and its
#                     WAL (pg_stat_wal with track_wal_io_timing: records, full-page images,
#                     bytes, writes and flushes with their time), in pg-statements-*.txt in
#                     the run's directory                                  default unset
#   NOTIFY_ORDERS     unpaid orders to pay through notifies (fewer when the creation runs made
#                     fewer: recorded)                                    default 20000
#   CATALOG_COURSES   courses of the generated catalog (bench/gen_catalog.py) default 2000
#   PAUSE             idle seconds of each CPU sample before a run        default 5
#   QUIET_CPU         a sample is quiet when other processes use at most this % of the CPU
#                                                                          default 20
#   QUIET_WAIT        seconds to wait for a quiet sample before running anyway   default 600
#
# What it does:
#   1. builds the release binary; starts a throwaway PostgreSQL (scripts/pg-throwaway.sh;
#      durable: fsync and synchronous_commit on) with a database "bench"; imports a generated
#      catalog of $CATALOG_COURSES courses (so that there are enough buyer-course pairs: a
#      buyer has one open order per course, and every creation request asks for a pair nobody
#      asked for before); starts `course-shop serve` on a free
#      port: production profile with what it requires generated for the run, JSON log at info
#      (bench/lib.sh bench_server_env; demo catalog seeding off), alipay.mode = gateway with
#      key pairs generated for the run (bench/lib.sh bench_alipay_gateway: the app's, and one
#      playing Alipay's), app_id 2021000000000001, seller_id 2088000000000001, a gateway URL
#      nobody listens on (http://127.0.0.1:9/gateway.do: the measured paths never call it),
#      workers on (the outbox worker runs the order_paid jobs, each sending its order's email), login limit 100000/min,
#      order timeout 1440 min (so the expiry sweep never touches the benchmark's orders);
#   2. adds $USERS users with `course-shop user add` (password on stdin) and logs each in with
#      POST /api/v1/user/user/mul_login/ (bench/payments_prep.py) to collect the tokens;
#      reads the paid courses with psql; a pre-check creates one order for each of 20 paid
#      courses and requires 200 / code 100;
#   3. machine limits: signing, `openssl speed -seconds 5 rsa2048` and the same with
#      `-multi 2`; pg_test_fsync and pgbench SELECT 1 (bench/lib.sh bench_limits);
#   4. order creation: wrk -s bench/payments_create.lua (each request a buyer-course pair not
#      asked for before, from BENCH_OFFSET = the orders so far; a unique Idempotency-Key per
#      request) at each connection count;
#   5. notify: $NOTIFY_ORDERS random unpaid orders are read with psql, one TRADE_SUCCESS notify
#      per order is signed beforehand with the generated "alipay" private key
#      (bench/payments_prep.py sign), and wrk -s bench/payments_notify.lua posts them in order,
#      round and round (first pass: new payments; later passes: duplicates). Orders the first
#      run did not reach are notified afterwards, unmeasured (recorded). The second connection
#      count replays the same bodies: all duplicates. Then it waits for the outbox to drain and
#      checks with psql that every order was paid exactly once (checks.txt);
#   6. status poll: wrk -s bench/payments_poll.lua (GET order/success/?out_trade_no= of a random
#      paid order; every answer must carry code 100).
# With PROVIDER=wechatpay the server also runs WeChat Pay in simulator mode: order creation
# calls the Native create API of the simulator the server serves itself at /v3/... over HTTP
# (a signed request verified by the simulator, a signed answer verified by the client: both
# sides' RSA work is in the server process); its keys are generated for the bench (the WeChat
# Pay key by bench/payments_prep.py wechatpay-key, the APIv3 key at random) and step 5 posts
# TRANSACTION.SUCCESS notifications signed with that key, their resource AES-256-GCM
# encrypted with the APIv3 key, to /api/v1/order/wechat/notify/ (answer: 204). With
# PROVIDER=stripe: Stripe in simulator mode (Checkout Sessions created over HTTP at /v1/... of
# the same server; a webhook secret generated for the bench), and checkout.session.completed
# events with `Stripe-Signature` (HMAC-SHA256 of t.payload) posted to
# /api/v1/order/stripe/webhook/ (answer: 200 {"received":true}). Their signatures hold 300 s,
# so they are signed right before each notify run (the same notifications each time) and
# QUIET_WAIT is at most 180 s. Both verify every notification fully (nothing is skipped).
# Every wrk run is `wrk -t2 -c<N> -d$DURATION --latency` and counts statuses and answers
# whose body fails the check (bench/payments_common.lua). During each run it records the CPU
# used by the server, Postgres, wrk (or openssl) and everything else, and the CPU time of the
# server and of Postgres per request (/proc/<pid>/stat; the postmaster and its children). The
# users have email addresses, so each payment also makes the outbox write a confirmation email
# (.eml files: the file transport, which production allows by explicit setting), as in
# production. Before every measured run (and the
# openssl runs) it samples the CPU use of other processes for $PAUSE s while the server is
# idle, retrying until it is at most $QUIET_CPU % or $QUIET_WAIT s have passed (then it runs
# anyway and records it), and records `uptime`. Raw outputs go to
# bench/runs/payments-<UTC timestamp>/ (ignored by git: the figures that matter go into
# docs/benchmarks.md); a summary is printed at the end and saved there as summary.md. The
# server and Postgres are stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-16 64}
BENCH_REV=${BENCH_REV-HEAD}
USERS=${USERS:-200}
NOTIFY_ORDERS=${NOTIFY_ORDERS:-20000}
CATALOG_COURSES=${CATALOG_COURSES:-2000}
PAUSE=${PAUSE:-5}
QUIET_CPU=${QUIET_CPU:-20}
QUIET_WAIT=${QUIET_WAIT:-600}
WRK_THREADS=2
PASSWORD='bench password 1'
APP_ID=2021000000000001
SELLER_ID=2088000000000001
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target-bench}
BIN=$CARGO_TARGET_DIR/release/course-shop
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/runs/payments-$STAMP
PROVIDER=${PROVIDER:-alipay}
case $PROVIDER in
  alipay) PAY_TYPE=1 ;;
  wechatpay) PAY_TYPE=2 OUT=$OUT-wechatpay ;;
  stripe) PAY_TYPE=3 OUT=$OUT-stripe ;;
  *) printf 'bench: PROVIDER must be alipay, wechatpay or stripe (got %s)\n' "$PROVIDER" >&2; exit 2 ;;
esac
[ "$PROVIDER" = alipay ] || [ "$QUIET_WAIT" -le 180 ] || QUIET_WAIT=180
# WeChat Pay and Stripe run in simulator mode here, which the production profile refuses (as
# it must): their runs are the relaxed variant, labelled so.
if [ "$PROVIDER" != alipay ]; then
  if [ "${BENCH_PROFILE:-production}" = production ] && [ -n "${BENCH_PROFILE:-}" ]; then
    printf 'bench: PROVIDER=%s runs a simulator, which the production profile refuses: use BENCH_PROFILE=relaxed\n' "$PROVIDER" >&2
    exit 2
  fi
  export BENCH_PROFILE=relaxed
fi

. "$ROOT/bench/lib.sh"

bench_duration

# --- tools ---------------------------------------------------------------------------------
bench_need_wrk
for tool in python3 curl cargo openssl git; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing"; exit 1; }
done
python3 -c 'import cryptography' 2>/dev/null ||
  { log "python3 needs the 'cryptography' package (apt-get install python3-cryptography, or pip)"; exit 1; }

# --- clean-up ------------------------------------------------------------------------------
bench_workdir course-shop-bench-pay

# --- build ---------------------------------------------------------------------------------
# BENCH_BIN: a course-shop binary built already (bench/lib.sh bench_build).
bench_build

# --- database and server -------------------------------------------------------------------
if [ -n "${PG_STATEMENTS:-}" ]; then
  export PG_EXTRA_OPTIONS="${PG_EXTRA_OPTIONS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on -c track_wal_io_timing=on"
fi
bench_pg_start
command -v psql >/dev/null 2>&1 || { log "psql is missing (postgresql-client)"; exit 1; }
psql -q "$TEST_DATABASE_URL" -c 'CREATE DATABASE bench'
export DATABASE_URL=${TEST_DATABASE_URL%/*}/bench
sql() { psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }
[ -z "${PG_STATEMENTS:-}" ] || sql -c 'CREATE EXTENSION pg_stat_statements'

bench_server_env
bench_alipay_gateway "$APP_ID" "$SELLER_ID"
export COURSE_SHOP__MEDIA__ROOT=$WORK/media
export COURSE_SHOP__ALIPAY__ORDER_TIMEOUT_MINUTES=1440
export COURSE_SHOP__AUTH__LOGIN_ATTEMPTS_PER_MINUTE=100000
export COURSE_SHOP__CATALOG__SEED_DEMO_WHEN_EMPTY=false
mkdir -p "$WORK/media" "$WORK/run" "$WORK/data"
export BENCH_DATA=$WORK/data BENCH_THREADS=$WRK_THREADS BENCH_PAY_TYPE=$PAY_TYPE
random_text() { python3 -c 'import secrets, string, sys; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(int(sys.argv[1]))))' "$1"; }
case $PROVIDER in
  wechatpay)
    WX_APP_ID=wx8888888888888888 WX_MCH_ID=1900000001 WX_KEY_ID=PUB_KEY_ID_0000BENCH0000000000000001
    WX_API_V3_KEY=$(random_text 32)
    mkdir -p "$WORK/simulator-keys"
    WX_KEY=$WORK/simulator-keys/simulator_wechatpay_private_key.pem
    python3 bench/payments_prep.py wechatpay-key "$WX_KEY"
    export COURSE_SHOP__ALIPAY__SIMULATOR_KEY_DIR=$WORK/simulator-keys
    export COURSE_SHOP__WECHATPAY__MODE=simulator COURSE_SHOP__WECHATPAY__APP_ID=$WX_APP_ID
    export COURSE_SHOP__WECHATPAY__MCH_ID=$WX_MCH_ID COURSE_SHOP__WECHATPAY__PLATFORM_PUBLIC_KEY_ID=$WX_KEY_ID
    export COURSE_SHOP__WECHATPAY__API_V3_KEY=$WX_API_V3_KEY
    export BENCH_NOTIFY_PATH=/api/v1/order/wechat/notify/ BENCH_NOTIFY_BODY=
    ;;
  stripe)
    STRIPE_WHSEC=whsec_$(random_text 32)
    export COURSE_SHOP__STRIPE__MODE=simulator COURSE_SHOP__STRIPE__WEBHOOK_SECRET=$STRIPE_WHSEC
    COURSE_SHOP__STRIPE__SECRET_KEY=sk_test_$(random_text 24)
    export COURSE_SHOP__STRIPE__SECRET_KEY
    export BENCH_NOTIFY_PATH=/api/v1/order/stripe/webhook/ BENCH_NOTIFY_BODY='{"received":true}'
    ;;
esac

{
  bench_machine
  echo "rustc: $(rustc --version)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "openssl: $(openssl version)"
  echo "postgres: $("$PG_THROWAWAY_BIN/postgres" --version)"
  echo "server built from: $SOURCE_DESC"
  echo "duration: $DURATION, wrk threads: $WRK_THREADS, connections: $CONNECTIONS"
  echo "users: $USERS, notify orders: $NOTIFY_ORDERS"
  echo "catalog: bench/gen_catalog.py --courses $CATALOG_COURSES"
  echo "provider: $PROVIDER (pay_type $PAY_TYPE)$([ "$PROVIDER" = alipay ] || echo ", $PROVIDER in simulator mode (its API served by the server itself), keys generated for the bench")"
  echo "server settings: $BENCH_PROFILE profile (generated catalog), alipay gateway mode, app_id $APP_ID, seller_id $SELLER_ID,"
  echo "  gateway_url $COURSE_SHOP__ALIPAY__GATEWAY_URL, generated keys, workers on,"
  echo "  login limit 100000/min, order timeout 1440 min, other settings the profile's (workers 1 per core)"
  echo "memory:"
  free -h
} >"$OUT/machine.txt"

# The binary runs in $WORK/run, so it uses its built-in configuration, not ./config.
python3 bench/gen_catalog.py "$WORK/catalog.json" --courses "$CATALOG_COURSES" >"$OUT/catalog.txt"
log "importing the catalog ($CATALOG_COURSES courses)"
(cd "$WORK/run" && "$BIN" import-catalog "$WORK/catalog.json") >>"$OUT/catalog.txt"
log "starting the server on $BASE"
bench_serve "$OUT/server.log" 240

# --- users, tokens, courses ------------------------------------------------------------------
log "adding $USERS users with course-shop user add"
t0=$(date +%s)
for i in $(seq 1 "$USERS"); do
  name=$(printf 'bench%04d' "$i")
  printf '%s\n' "$PASSWORD" | (cd "$WORK/run" && "$BIN" user add "$name" --email "$name@example.com") >>"$WORK/user-add.log" 2>&1 ||
    { log "course-shop user add $name failed:"; tail -20 "$WORK/user-add.log" >&2; exit 1; }
done
echo "users: $USERS added with course-shop user add in $(( $(date +%s) - t0 )) s" | tee "$OUT/setup.txt"
python3 bench/payments_prep.py login "$BASE" bench "$USERS" "$PASSWORD" "$BENCH_DATA/tokens.txt" | tee -a "$OUT/setup.txt"
sql -F ' ' -c "SELECT id, (price_fen / 100)::text || '.' || lpad((price_fen % 100)::text, 2, '0')
               FROM courses WHERE price_fen > 0 AND is_show ORDER BY id" >"$BENCH_DATA/courses.txt"
echo "courses: $(wc -l <"$BENCH_DATA/courses.txt") paid" | tee -a "$OUT/setup.txt"
head -20 "$BENCH_DATA/courses.txt" >"$BENCH_DATA/precheck-courses.txt"
python3 bench/payments_prep.py precheck "$BASE" "$BENCH_DATA/tokens.txt" "$BENCH_DATA/precheck-courses.txt" "$PAY_TYPE" | tee -a "$OUT/setup.txt"

# --- measurements --------------------------------------------------------------------------
# Sets CHILD_CPU: user + system CPU seconds of this shell's finished children so far (wrk,
# openssl and the children they waited for). Not in a subshell: `times` must see them.
child_cpu() {
  times >"$WORK/times.txt"
  CHILD_CPU=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } print s }' "$WORK/times.txt")
}
# cpu_total_idle, proc_ticks, pg_ticks (the postmaster and its children), HZ and
# cpu_per_request: bench/lib.sh.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Waits until the outbox has no pending job; appends what it saw to outbox.txt, with the CPU
# the server and Postgres spent meanwhile per job done (the psql polls included: small).
drain_outbox() {
  local label=$1 e0 e1 pending0 pending done0 done1 s0 s1 p0 p1
  s0=$(proc_ticks "$SERVER_PID"); p0=$(pg_ticks)
  e0=$(date +%s.%N)
  pending0=$(sql -c "SELECT count(*) FROM outbox WHERE status NOT IN ('done', 'failed')")
  done0=$(sql -c "SELECT count(*) FROM outbox WHERE status = 'done'")
  pending=$pending0
  for _ in $(seq 1 1800); do
    [ "$pending" = 0 ] && break
    sleep 0.5
    pending=$(sql -c "SELECT count(*) FROM outbox WHERE status NOT IN ('done', 'failed')")
  done
  e1=$(date +%s.%N)
  s1=$(proc_ticks "$SERVER_PID"); p1=$(pg_ticks)
  done1=$(sql -c "SELECT count(*) FROM outbox WHERE status = 'done'")
  awk -v l="$label" -v p0="$pending0" -v n="$((done1 - done0))" -v t="$(elapsed "$e0" "$e1")" -v p="$pending" \
    -v s="$((s1 - s0))" -v q="$((p1 - p0))" -v hz="$HZ" \
    'BEGIN { printf "outbox %s: %d jobs pending; %d done in %.1f s (%.0f jobs/s); pending at the end: %d", l, p0, n, t, (t > 0 ? n / t : 0), p;
             if (n > 0) printf "; CPU per job: server %.3f ms, postgres %.3f ms", 1000 * s / hz / n, 1000 * q / hz / n;
             printf "\n" }' |
    tee -a "$OUT/outbox.txt"
}
# cpu_during SECONDS MACHINE_TICKS IDLE_TICKS SERVER_TICKS PG_TICKS TOOL_SECONDS TOOL_NAME
cpu_during() {
  awk -v d="$1" -v t="$2" -v i="$3" -v s="$4" -v p="$5" -v w="$6" -v name="$7" -v n="$(nproc)" -v hz="$HZ" \
    'BEGIN { busy = (t > 0 ? (t - i) / t : 0); total = busy * n;
             other = total - s / hz / d - p / hz / d - w / d; if (other < 0) other = 0;
             printf "cpu-during: machine %.0f%% busy; server %.2f cores, postgres %.2f, %s %.2f, other processes %.2f (of %d)\n",
                    100 * busy, s / hz / d, p / hz / d, name, w / d, other, n }'
}

# Samples the machine's CPU use for PAUSE s (the server idle) until it is at most QUIET_CPU %
# or QUIET_WAIT s have passed; writes "uptime:", "busy-before:" and "quiet-wait:" lines.
before_run() {
  local start t0 i0 t1 i1 busy samples=0 waited
  start=$(date +%s)
  while :; do
    read -r t0 i0 < <(cpu_total_idle)
    sleep "$PAUSE"
    read -r t1 i1 < <(cpu_total_idle)
    samples=$((samples + 1))
    busy=$(awk -v t="$((t1 - t0))" -v i="$((i1 - i0))" 'BEGIN { printf "%.0f", (t > 0 ? 100 * (t - i) / t : 0) }')
    waited=$(( $(date +%s) - start ))
    if [ "$busy" -le "$QUIET_CPU" ]; then
      echo "quiet-wait: quiet after ${waited}s ($samples samples of ${PAUSE}s)"
      break
    fi
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      echo "quiet-wait: NOT quiet after ${waited}s ($samples samples of ${PAUSE}s): ran anyway"
      break
    fi
    log "other processes use ${busy}% of the CPU (limit ${QUIET_CPU}%): waiting (${waited}s so far)"
    sleep 10
  done
  echo "uptime: $(uptime)"
  echo "busy-before: ${busy}% of $(nproc) cores over the ${PAUSE}s idle sample before the run (other processes)"
}

# wrk_run NAME CONNECTIONS SCRIPT: one measured run into $OUT/wrk-NAME-cN.txt.
wrk_run() {
  local name=$1 c=$2 script=$3 f s0 s1 t0 i0 t1 i1
  f=$OUT/wrk-$name-c$c.txt
  log "wrk $name, $c connections, $DURATION"
  before_run >"$f"
  echo "command: wrk -t$WRK_THREADS -c$c -d$DURATION --latency -s $script $BASE" >>"$f"
  local p0 p1 w0 w1 e0 e1
  s0=$(proc_ticks "$SERVER_PID"); p0=$(pg_ticks); child_cpu; w0=$CHILD_CPU
  read -r t0 i0 < <(cpu_total_idle)
  e0=$(date +%s.%N)
  # PROFILE=1: the server's CPU samples during the run (perf, flat), for `perf report -i`.
  local perf_pid=""
  if [ -n "${PROFILE:-}" ]; then
    perf record -q -e cpu-clock -F 999 -p "$SERVER_PID" -o "$OUT/perf-$name-c$c.data" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  [ -z "${PG_STATEMENTS:-}" ] || sql -c "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
  wrk -t"$WRK_THREADS" -c"$c" -d"$DURATION" --latency -s "$script" "$BASE" >"$WORK/wrk.out"
  e1=$(date +%s.%N)
  [ -z "$perf_pid" ] || wait "$perf_pid"
  # PG_STATEMENTS=1: what Postgres executed during the run, the costliest first.
  [ -z "${PG_STATEMENTS:-}" ] || sql -F ' | ' -c "SELECT calls, rows, round(mean_exec_time::numeric, 3) AS exec_ms,
      plans, round(mean_plan_time::numeric, 3) AS plan_ms, round(total_exec_time::numeric) AS total_exec_ms,
      left(regexp_replace(query, '\s+', ' ', 'g'), 160) FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time + total_plan_time DESC LIMIT 12" >"$OUT/pg-statements-$name-c$c.txt"
  [ -z "${PG_STATEMENTS:-}" ] || sql -F ' | ' -c "SELECT 'WAL: records ' || wal_records, 'full-page images ' || wal_fpi,
      'bytes ' || wal_bytes, 'writes ' || wal_write, 'flushes ' || wal_sync,
      'ms per write ' || round((wal_write_time / greatest(wal_write, 1))::numeric, 3),
      'ms per flush ' || round((wal_sync_time / greatest(wal_sync, 1))::numeric, 3) FROM pg_stat_wal" >>"$OUT/pg-statements-$name-c$c.txt"
  read -r t1 i1 < <(cpu_total_idle)
  s1=$(proc_ticks "$SERVER_PID"); p1=$(pg_ticks); child_cpu; w1=$CHILD_CPU
  tee -a "$f" <"$WORK/wrk.out"
  cpu_during "$(elapsed "$e0" "$e1")" "$((t1 - t0))" "$((i1 - i0))" "$((s1 - s0))" "$((p1 - p0))" \
    "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" wrk | tee -a "$f"
  cpu_per_request "$WORK/wrk.out" "$((s1 - s0))" "$((p1 - p0))" | tee -a "$f"
}

# 3. The signing limit (server idle).
f=$OUT/openssl-speed.txt
log "openssl speed rsa2048 (1 process, then -multi 2), 5 s each"
: >"$f"
for multi in 1 2; do
  g=$OUT/openssl-speed-$multi.txt
  before_run >"$g"
  args=(speed -seconds 5)
  [ "$multi" = 1 ] || args+=(-multi "$multi")
  echo "command: openssl ${args[*]} rsa2048" >>"$g"
  s0=$(proc_ticks "$SERVER_PID"); p0=$(pg_ticks); child_cpu; w0=$CHILD_CPU
  read -r t0 i0 < <(cpu_total_idle)
  e0=$(date +%s.%N)
  openssl "${args[@]}" rsa2048 >>"$g" 2>&1
  e1=$(date +%s.%N)
  read -r t1 i1 < <(cpu_total_idle)
  s1=$(proc_ticks "$SERVER_PID"); p1=$(pg_ticks); child_cpu; w1=$CHILD_CPU
  echo "wall: $(elapsed "$e0" "$e1") s (5 s of signing, then 5 s of verifying)" >>"$g"
  cpu_during "$(elapsed "$e0" "$e1")" "$((t1 - t0))" "$((i1 - i0))" "$((s1 - s0))" "$((p1 - p0))" \
    "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" openssl >>"$g"
  echo "sign/s ($multi process(es)): $(awk '/^rsa 2048 bits/ { v = $6 } END { print v }' "$g")" | tee -a "$f"
  grep -E '^(cpu-during|busy-before)' "$g" | sed "s/^/  ($multi) /" | tee -a "$f"
done

# The other limits: the disk's flushes (pg_test_fsync) and Postgres's round trips (pgbench).
bench_limits fsync pgbench

# 4. Order creation. A 1 s warm-up first (its orders count like the others).
log "warm-up: 1 s of order creation"
BENCH_OFFSET=$(sql -c 'SELECT count(*) FROM orders') BENCH_RUN=warmup wrk -t"$WRK_THREADS" -c16 -d1s -s bench/payments_create.lua "$BASE" >"$OUT/warmup-create.txt"
for c in $CONNECTIONS; do
  BENCH_OFFSET=$(sql -c 'SELECT count(*) FROM orders') BENCH_RUN=c$c wrk_run create "$c" bench/payments_create.lua
done
created=$(sql -c 'SELECT count(*) FROM orders')
unpaid=$(sql -c 'SELECT count(*) FROM orders WHERE order_status = 0')
answered=$(cat "$OUT"/warmup-create.txt "$OUT"/wrk-create-c*.txt | awk '/^statuses:/ { for (i = 2; i <= NF; i++) if ($i ~ /^2[0-9][0-9]=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }')
precheck_orders=$(wc -l <"$BENCH_DATA/precheck-courses.txt")
{ echo "orders after the creation runs: $created (unpaid: $unpaid)"
  echo "2xx answers of the warm-up and the measured creation runs: $answered, plus $precheck_orders pre-check orders = $((answered + precheck_orders))"
  echo "orders without an answer counted (requests still in flight when wrk stopped): $((created - answered - precheck_orders))"; } | tee "$OUT/orders.txt"
topup=0
while [ "$unpaid" -lt "$NOTIFY_ORDERS" ]; do
  topup=$((topup + 1))
  log "only $unpaid unpaid orders: unmeasured top-up $topup (5 s of order creation)"
  BENCH_OFFSET=$(sql -c 'SELECT count(*) FROM orders') BENCH_RUN=topup$topup \
    wrk -t"$WRK_THREADS" -c16 -d5s -s bench/payments_create.lua "$BASE" >"$OUT/topup-create-$topup.txt"
  before=$unpaid
  unpaid=$(sql -c 'SELECT count(*) FROM orders WHERE order_status = 0')
  if [ "$unpaid" -le "$before" ] || [ "$topup" -ge 100 ]; then
    log "the top-up made no more unpaid orders: notifying the $unpaid there are"
    echo "NOTIFY_ORDERS lowered from $NOTIFY_ORDERS to $unpaid: no more buyer-course pairs" | tee -a "$OUT/orders.txt"
    NOTIFY_ORDERS=$unpaid
  fi
done
[ "$topup" = 0 ] || echo "top-up: $topup unmeasured 5 s creation runs; unpaid orders now $unpaid" | tee -a "$OUT/orders.txt"

# 5. Notify.
sign_notifies() {
  case $PROVIDER in
    alipay) python3 bench/payments_prep.py sign "$WORK/orders.tsv" "$BENCH_ALIPAY_PRIVATE_KEY" \
      "$APP_ID" "$SELLER_ID" "$BENCH_DATA/notify_bodies.txt" "$WORK/expected.tsv" ;;
    wechatpay) python3 bench/payments_prep.py sign-wechatpay "$WORK/orders.tsv" "$WX_KEY" "$WX_API_V3_KEY" \
      "$WX_APP_ID" "$WX_MCH_ID" "$WX_KEY_ID" "$BENCH_DATA/notify_bodies.txt" "$WORK/expected.tsv" ;;
    stripe) python3 bench/payments_prep.py sign-stripe "$WORK/orders.tsv" "$STRIPE_WHSEC" cny \
      "$BENCH_DATA/notify_bodies.txt" "$WORK/expected.tsv" ;;
  esac
}
log "reading $NOTIFY_ORDERS random unpaid orders and signing one notify for each"
sql -c "SELECT out_trade_no, total_amount_fen FROM orders WHERE order_status = 0 ORDER BY random() LIMIT $NOTIFY_ORDERS" >"$WORK/orders.tsv"
sign_notifies | tee -a "$OUT/orders.txt"
cut -f1 "$WORK/expected.tsv" >"$BENCH_DATA/paid.txt"
students_before=$(sql -c 'SELECT sum(students) FROM courses')

first=""
for c in $CONNECTIONS; do
  # WeChat Pay's and Stripe's signatures hold 300 s: the same notifications signed anew.
  if [ "$PROVIDER" != alipay ] && [ -n "$first" ]; then sign_notifies | tee -a "$OUT/orders.txt"; fi
  wrk_run notify "$c" bench/payments_notify.lua
  if [ -z "$first" ]; then
    first=$c
    sql -c "SELECT count(*) FILTER (WHERE status NOT IN ('done', 'failed')), count(*) FILTER (WHERE status = 'done') FROM outbox" |
      awk -F'\t' '{ printf "outbox right after the run: %d jobs pending, %d done\n", $1, $2 }' | tee -a "$OUT/wrk-notify-c$c.txt"
    # New payments of the first run: how fast the orders went from unpaid to paid.
    sql -c "SELECT count(*), coalesce(round(extract(epoch FROM max(received_at) - min(received_at))::numeric, 2), 0)
            FROM payment_notifies WHERE verdict = 'accepted'" |
      awk -F'\t' '{ printf "first-pass: %d orders paid by notifies in %.2f s of the run (%.0f new payments/s)\n", $1, $2, ($2 > 0 ? $1 / $2 : 0) }' |
      tee -a "$OUT/wrk-notify-c$c.txt"
    sql -c "SELECT verdict, count(*) FROM payment_notifies GROUP BY 1 ORDER BY 1" |
      awk -F'\t' '{ printf "notify rows after this run: %s=%s\n", $1, $2 }' | tee -a "$OUT/wrk-notify-c$c.txt"
    # Orders of the set the run did not reach get their notify now, unmeasured.
    sql -c "SELECT out_trade_no FROM orders WHERE order_status = 0" | sort >"$WORK/unpaid.txt"
    sort "$BENCH_DATA/paid.txt" | comm -12 - "$WORK/unpaid.txt" >"$WORK/missing.txt"
    missing=$(wc -l <"$WORK/missing.txt")
    if [ "$missing" -gt 0 ]; then
      log "$missing orders of the set were not reached by the first notify run: posting their notifies (unmeasured)"
      { echo "catch-up: $missing orders not reached by the first run, notified afterwards (unmeasured):";
        python3 bench/payments_prep.py post "$BASE" "$BENCH_DATA/notify_bodies.txt" "$WORK/missing.txt"; } |
        tee "$OUT/notify-catch-up.txt" || true
    else
      echo "catch-up: none needed, the first run reached every order" | tee "$OUT/notify-catch-up.txt"
    fi
    # The worker's backlog is the server's own work, not another process's: let it finish
    # before the next run, and record how fast it went.
    drain_outbox "after the first notify run"
  fi
done

log "waiting for the outbox to finish its jobs"
drain_outbox "after the last notify run"
students_after=$(sql -c 'SELECT sum(students) FROM courses')

# Exactly-once checks.
log "checking that every order was paid exactly once"
sql >"$WORK/checks.raw" <<EOF
CREATE TEMP TABLE expected (out_trade_no text PRIMARY KEY, total_fen bigint, trade_no text);
\copy expected FROM '$WORK/expected.tsv'
CREATE TEMP TABLE notified AS
  SELECT out_trade_no, count(*) FILTER (WHERE verdict = 'accepted') AS accepted, count(*) AS notifies
  FROM payment_notifies GROUP BY 1;
-- An order_paid job names its order by number (by id in revisions before 2026-11-30).
CREATE TEMP TABLE jobs AS
  SELECT coalesce((payload::jsonb ->> 'order_id')::bigint,
                  (SELECT id FROM orders o WHERE o.out_trade_no = payload::jsonb ->> 'out_trade_no')) AS order_id,
         count(*) AS jobs, count(*) FILTER (WHERE status = 'done') AS done
  FROM outbox WHERE kind = 'order_paid' GROUP BY 1;
CREATE TEMP TABLE mails AS
  SELECT (payload::jsonb ->> 'order_id')::bigint AS order_id, count(*) AS jobs,
         count(*) FILTER (WHERE status = 'done') AS done
  FROM outbox WHERE kind = 'order_email' GROUP BY 1;
CREATE TEMP TABLE per_order AS
  SELECT e.out_trade_no, o.id, o.order_status, o.trade_no = e.trade_no AS same_trade_no,
         coalesce(n.accepted, 0) AS accepted, coalesce(n.notifies, 0) AS notifies,
         coalesce(j.jobs, 0) AS jobs, coalesce(j.done, 0) AS jobs_done,
         coalesce(m.jobs, 0) AS mails, coalesce(m.done, 0) AS mails_done,
         (SELECT count(*) FROM user_courses uc WHERE uc.order_id = o.id) AS grants
  FROM expected e LEFT JOIN orders o USING (out_trade_no) LEFT JOIN notified n USING (out_trade_no)
       LEFT JOIN jobs j ON j.order_id = o.id LEFT JOIN mails m ON m.order_id = o.id;
SELECT 'orders in the set', count(*), count(*) FROM per_order;
SELECT 'found in orders', count(id), (SELECT count(*) FROM expected) FROM per_order;
SELECT 'paid (order_status 1)', count(*) FILTER (WHERE order_status = 1), (SELECT count(*) FROM expected) FROM per_order;
SELECT 'trade_no = the one notified', count(*) FILTER (WHERE same_trade_no), (SELECT count(*) FROM expected) FROM per_order;
SELECT 'exactly one accepted notify', count(*) FILTER (WHERE accepted = 1), (SELECT count(*) FROM expected) FROM per_order;
SELECT 'accepted notify rows (whole table)', (SELECT count(*) FROM payment_notifies WHERE verdict = 'accepted'), (SELECT count(*) FROM expected);
SELECT 'rejected notify rows', (SELECT count(*) FROM payment_notifies WHERE verdict = 'rejected'), 0;
SELECT 'exactly one order_paid job', count(*) FILTER (WHERE jobs = 1), (SELECT count(*) FROM expected) FROM per_order;
SELECT 'order_paid jobs (whole table)', (SELECT count(*) FROM outbox WHERE kind = 'order_paid'), (SELECT count(*) FROM expected);
SELECT 'order_paid jobs done', count(*) FILTER (WHERE jobs_done = 1), (SELECT count(*) FROM expected) FROM per_order;
-- Since 2026-11-30 the email is sent by the order_paid job itself (an order_email job only in
-- earlier revisions): the emails are checked by the files written (below).
SELECT 'order_email jobs (earlier revisions: one per order)', (SELECT count(*) FROM outbox WHERE kind = 'order_email'), '-';
SELECT 'outbox rows per paid order', round((SELECT count(*) FROM outbox)::numeric / (SELECT count(*) FROM expected), 2), '-';
SELECT 'other outbox jobs', (SELECT count(*) FROM outbox WHERE kind NOT IN ('order_paid', 'order_email')), 0;
SELECT 'user_courses rows granted by a set order (the latest paid order of a user and course holds the row)', count(*) FILTER (WHERE grants = 1), '-' FROM per_order;
SELECT 'distinct (user, course) pairs among the set', count(DISTINCT (o.user_id, d.course_id)), '-' FROM expected e JOIN orders o USING (out_trade_no) JOIN order_details d ON d.order_id = o.id;
SELECT 'user_courses rows (whole table)', (SELECT count(*) FROM user_courses), '-';
SELECT 'orders outside the set not unpaid', (SELECT count(*) FROM orders o WHERE o.order_status <> 0 AND NOT EXISTS (SELECT 1 FROM expected e WHERE e.out_trade_no = o.out_trade_no)), 0;
SELECT 'notify rows per order min/max', min(notifies) || '/' || max(notifies), '-' FROM per_order;
SELECT 'payment_notifies rows by verdict', string_agg(verdict || '=' || n, ' '), '-' FROM (SELECT verdict, count(*) n FROM payment_notifies GROUP BY 1 ORDER BY 1) v;
SELECT 'outbox by status', string_agg(status || '=' || n, ' '), '-' FROM (SELECT status, count(*) n FROM outbox GROUP BY 1 ORDER BY 1) v;
EOF
echo "emails written by the outbox (.eml files under $BENCH_MAIL_DIR): $(find "$BENCH_MAIL_DIR" -type f 2>/dev/null | wc -l)" >>"$WORK/checks.raw"
echo "course students: $students_before before the notifies, $students_after after the outbox drained (+$((students_after - students_before)))" >>"$WORK/checks.raw"
python3 - "$WORK/checks.raw" "$students_before" "$students_after" "$NOTIFY_ORDERS" "$OUT" <<'EOF' | tee "$OUT/checks.txt"
import glob, os, re, sys
raw, before, after, want, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fails = 0
for line in open(raw, encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 3:
        name, got, exp = parts
        if exp == "-":
            print("INFO  {}: {}".format(name, got))
        else:
            ok = got == exp
            fails += not ok
            print("{}  {}: {} (want {})".format("PASS" if ok else "FAIL", name, got, exp))
    elif line.strip():
        print("INFO  " + line.strip())
ok = after - before == want
fails += not ok
print("{}  course learners added by the order_paid jobs: {} (want {})".format("PASS" if ok else "FAIL", after - before, want))
mails = int(re.search(r"^emails written by the outbox .*: (\d+)$", open(raw, encoding="utf-8").read(), re.M).group(1))
ok = mails == want
fails += not ok
print("{}  purchase emails written (one per paid order, none twice): {} (want {})".format("PASS" if ok else "FAIL", mails, want))
for f in sorted(glob.glob(os.path.join(out, "wrk-notify-c*.txt"))) + glob.glob(os.path.join(out, "notify-catch-up.txt")):
    t = open(f, encoding="utf-8").read()
    name = os.path.basename(f)[:-4]
    for pat, label in [(r"^bad-body: (\d+)", "answers other than 'success'"), (r"^non-2xx: (\d+)", "non-2xx answers")]:
        m = re.search(pat, t, re.M)
        if m:
            ok = m.group(1) == "0"
            fails += not ok
            print("{}  {} {}: {}".format("PASS" if ok else "FAIL", name, label, m.group(1)))
    m = re.search(r"(\d+) answered other than (200 'success'|the provider's success)", t)
    if m:
        ok = m.group(1) == "0"
        fails += not ok
        print("{}  {} answers other than the provider's success: {}".format("PASS" if ok else "FAIL", name, m.group(1)))
print("exactly-once: {}".format("ALL PASS" if fails == 0 else "{} FAILED".format(fails)))
EOF

# 6. Status poll of the paid orders.
for c in $CONNECTIONS; do
  wrk_run poll "$c" bench/payments_poll.lua
done
stop_server

# --- summary -------------------------------------------------------------------------------
python3 - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import glob, os, re, sys
out = sys.argv[1]
def grab(pattern, text, default="-"):
    m = re.search(pattern, text, re.M)
    return m.group(1) if m else default
order = {"create": 0, "notify": 1, "poll": 2}
files = sorted(glob.glob(os.path.join(out, "wrk-*.txt")),
               key=lambda f: (order.get(os.path.basename(f)[4:].split("-c")[0], 9), int(f.rsplit("-c", 1)[1][:-4])))
print("| endpoint | conns | requests/s | p50 | p99 | non-2xx | bad body | socket errors | load avg before (1/5/15 min) | other CPU before | quiet wait | CPU during: server / postgres / wrk / others (cores) | CPU per request: server / postgres (ms) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
rates = {}
for f in files:
    t = open(f, encoding="utf-8").read()
    ep, c = os.path.basename(f)[4:-4].rsplit("-c", 1)
    rates[(ep, c)] = grab(r"Requests/sec:\s+(\S+)", t)
    m = re.search(r"server ([\d.]+) cores, postgres ([\d.]+), wrk ([\d.]+), other processes ([\d.]+)", t)
    cells = [ep, c, rates[(ep, c)], grab(r"^\s+50%\s+(\S+)", t), grab(r"^\s+99%\s+(\S+)", t),
             grab(r"^non-2xx: (\d+)", t), grab(r"^bad-body: (\d+)", t), grab(r"Socket errors: (.*)$", t, "0"),
             grab(r"load average: (.*)$", t), grab(r"busy-before: (\d+%)", t),
             grab(r"quiet-wait: (\S+ \S+ \S+)", t), " / ".join(m.groups()) if m else "-",
             grab(r"cpu-per-request: server ([\d.]+) ms", t) + " / " + grab(r"cpu-per-request: .*postgres ([\d.]+) ms", t)]
    print("| " + " | ".join(cells) + " |")
print()
for f in glob.glob(os.path.join(out, "wrk-notify-c*.txt")):
    t = open(f, encoding="utf-8").read()
    for pat in [r"^(first-pass: .*)$", r"^(bodies-issued-distinct: .*)$", r"^(outbox right after the run: .*)$"]:
        v = grab(pat, t, None)
        if v:
            print("- notify c{}: {}".format(f.rsplit("-c", 1)[1][:-4], v))
if os.path.exists(os.path.join(out, "outbox.txt")):
    for line in open(os.path.join(out, "outbox.txt"), encoding="utf-8"):
        print("- " + line.strip())
s = open(os.path.join(out, "openssl-speed.txt"), encoding="utf-8").read()
one = float(grab(r"sign/s \(1 process\S*\): ([\d.]+)", s, "0"))
two = float(grab(r"sign/s \(2 process\S*\): ([\d.]+)", s, "0"))
print("- signing limit (openssl speed rsa2048): {:.0f} signs/s on 1 core, {:.0f} signs/s with -multi 2".format(one, two))
for line in s.splitlines():
    if line.startswith("  ("):
        print("  - openssl " + line.strip())
for c in ("16", "64"):
    r = rates.get(("create", c))
    if r and r != "-" and two > 0:
        print("- order creation c{}: {} orders/s = {:.1%} of the 2-core signing limit".format(c, r, float(r) / two))
for line in open(os.path.join(out, "limits.txt"), encoding="utf-8"):
    print("- machine " + line.strip())
m = open(os.path.join(out, "machine.txt"), encoding="utf-8").read()
print("- conditions: " + grab(r"^conditions: (.*)$", m))
print("- postgres: " + grab(r"^postgres settings: (.*)$", m))
ck = open(os.path.join(out, "checks.txt"), encoding="utf-8").read()
print("- " + grab(r"^(exactly-once: .*)$", ck))
EOF
log "raw results in $OUT"
