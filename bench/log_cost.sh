#!/usr/bin/env bash
# What the per-request log line costs (issue 10, section 2): server CPU per status poll in the
# production profile, with the log filter at the production default and at `warn` (no request
# line), measured on the same binary in the same run.
#
#   bench/log_cost.sh                         # builds the work tree (release), 20 s per run
#   BIN=path/to/course-shop bench/log_cost.sh # measures that binary instead (no build)
#   DURATION=10 ROUNDS=3 FILTERS="warn|info,sqlx=warn,sea_orm=warn" bench/log_cost.sh
#
# Settings (environment):
#   DURATION     seconds of each wrk run                                        default 20
#   ROUNDS       how many times the list of filters is run (alternating)        default 2
#   CONNECTIONS  wrk -c                                                         default 16
#   FILTERS      log filters to compare, separated by |   default "warn|info,sqlx=warn,sea_orm=warn"
#                (the second is the production default, config/default.toml)
#   ORDERS       paid orders polled at random                                   default 200
#   PIN          1 (default on a machine of 2 or more CPUs): the server (with its log-writer
#                thread) runs on the last CPU and wrk on the others (taskset), so the server
#                saturates one core in every run and its CPU per poll does not depend on how
#                the cores were shared in that run; 0 lets the kernel place both
#   PERF_DIR     when set, each run is also profiled (perf record -e cpu-clock -g on the
#                server) into PERF_DIR/<n>.data (read with `perf report -i FILE`), and the
#                table gets the share of the server's CPU samples spent making and writing the
#                line: the functions of shop_http::request_log and ::log_writer, the route
#                pattern's lookup (actix_web's ResourceMap), and the log-writer thread
#
# The server runs `course-shop serve` in the production profile (JSON log, workers on) on a
# SQLite file: a poll of a paid order is answered from the in-memory status cache (refreshed
# from the database every 2 s per order), so the database is not what is measured. Its log
# (standard output) goes to a file, as under a process supervisor. Each run is
# `wrk -t2 -c$CONNECTIONS -d${DURATION}s bench/payments_poll.lua`; the server's CPU time (user +
# system, every thread, /proc/<pid>/stat) is read before and after, so CPU per poll does not
# depend on what else runs on the machine (requests/s does). The server is restarted for each
# run. Results are printed as a table.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-16}
FILTERS=${FILTERS:-warn|info,sqlx=warn,sea_orm=warn}
ORDERS=${ORDERS:-200}
KEYS=$ROOT/crates/alipay/tests/fixtures/test-only-keys
HZ=$(getconf CLK_TCK)
CPUS=$(nproc)
PIN=${PIN:-$([ "$CPUS" -ge 2 ] && echo 1 || echo 0)}
SERVER_CPUS=() WRK_CPUS=()
if [ "$PIN" = 1 ]; then
  SERVER_CPUS=(taskset -c "$((CPUS - 1))")
  WRK_CPUS=(taskset -c "0-$((CPUS - 2))")
fi

log() { printf 'log_cost: %s\n' "$*" >&2; }
for tool in wrk sqlite3 curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing"; exit 1; }
done

if [ -z "${BIN:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target-bench}
  log "building the release binary in $CARGO_TARGET_DIR"
  cargo build --release --bin course-shop
  BIN=$CARGO_TARGET_DIR/release/course-shop
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/course-shop-logcost.XXXXXX")
SERVER_PID=""
cleanup() {
  set +e
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID"; } 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/run" "$WORK/media" "$WORK/data"

unset RUST_LOG COURSE_SHOP_CONFIG_DIR
export COURSE_SHOP_PROFILE=production
export COURSE_SHOP__DATABASE__URL="sqlite://$WORK/shop.db?mode=rwc"
export COURSE_SHOP__AUTH__JWT_SECRET=log-cost-benchmark-secret-0123456789abcdef
export COURSE_SHOP__CORS__ALLOWED_ORIGINS=https://shop.example.com
export COURSE_SHOP__MEDIA__ROOT=$WORK/media
export COURSE_SHOP__EMAIL__FILE_DIR=$WORK/mail
export COURSE_SHOP__EMAIL__ALLOW_FILE_TRANSPORT_IN_PRODUCTION=true
export COURSE_SHOP__ALIPAY__APP_ID=2021000000000001
export COURSE_SHOP__ALIPAY__SELLER_ID=2088000000000001
export COURSE_SHOP__ALIPAY__APP_PRIVATE_KEY_FILE=$KEYS/TEST_ONLY_app_private_key_pkcs8.b64.txt
export COURSE_SHOP__ALIPAY__ALIPAY_PUBLIC_KEY_FILE=$KEYS/TEST_ONLY_alipay_public_key_spki.b64.txt
export COURSE_SHOP__ALIPAY__GATEWAY_URL=http://127.0.0.1:9/gateway.do
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export COURSE_SHOP__SERVER__PORT=$PORT COURSE_SHOP__SERVER__HOST=127.0.0.1
export COURSE_SHOP__SERVER__PUBLIC_URL=http://127.0.0.1:$PORT
BASE=http://127.0.0.1:$PORT

start_server() {
  (cd "$WORK/run" && COURSE_SHOP__LOG__FILTER=$1 exec "${SERVER_CPUS[@]}" "$BIN" serve) >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.25
  done
  log "the server did not become ready:"; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# The first start migrates the database; then one buyer and $ORDERS paid orders.
start_server warn
stop_server
printf '%s\n' 'log cost password 1' | (cd "$WORK/run" && "$BIN" user add logcost --email logcost@example.com) >/dev/null 2>&1
now="strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
uid=$(sqlite3 "$WORK/shop.db" "SELECT id FROM users WHERE username = 'logcost'")
{
  echo "BEGIN;"
  for i in $(seq 1 "$ORDERS"); do
    echo "INSERT INTO orders (subject, total_amount_fen, out_trade_no, order_status, pay_type, user_id, created_time, updated_time, pay_time)
          VALUES ('log cost', 100, 'LOGCOST$i', 1, 1, $uid, $now, $now, $now);"
  done
  echo "COMMIT;"
} | sqlite3 "$WORK/shop.db"
seq 1 "$ORDERS" | sed 's/^/LOGCOST/' >"$WORK/data/paid.txt"
export BENCH_DATA=$WORK/data

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "binary: $BIN; pinned (server on the last CPU, wrk on the others): $PIN; wrk -t2 -c$CONNECTIONS -d${DURATION}s bench/payments_poll.lua; $ORDERS paid orders; SQLite"
printf '| filter | polls/s | server CPU per poll | server cores | log bytes per poll | load before | line share of CPU samples |\n|---|---:|---:|---:|---:|---:|---:|\n'
IFS='|' read -r -a filter_list <<<"$FILTERS"
for _ in $(seq 1 "$ROUNDS"); do
  for filter in "${filter_list[@]}"; do
    start_server "$filter"
    curl -fsS -o /dev/null "$BASE/api/v1/order/success/?out_trade_no=LOGCOST1"
    load=$(cut -d' ' -f1 /proc/loadavg)
    bytes0=$(stat -c %s "$WORK/server.log")
    t0=$(ticks "$SERVER_PID")
    perf_pid=""
    if [ -n "${PERF_DIR:-}" ]; then
      mkdir -p "$PERF_DIR"
      run_no=$((${run_no:-0} + 1))
      perf record -q -e cpu-clock -F 1999 -g -p "$SERVER_PID" -o "$PERF_DIR/$run_no.data" 2>/dev/null &
      perf_pid=$!
      echo "$run_no: $filter" >>"$PERF_DIR/runs.txt"
    fi
    "${WRK_CPUS[@]}" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/payments_poll.lua "$BASE" >"$WORK/wrk.txt" 2>&1
    t1=$(ticks "$SERVER_PID")
    share=-
    if [ -n "$perf_pid" ]; then
      kill -INT "$perf_pid"; wait "$perf_pid" || true
      # Self time of the line's functions on the workers, plus all of the writer thread.
      share=$(perf report -i "$PERF_DIR/$run_no.data" --no-children --sort comm,symbol -g none --stdio 2>/dev/null |
        awk '/%/ && ($2 == "log-writer" || /request_log|log_writer|ResourceMap|match_pattern/) { s += $1 } END { printf "%.2f %%", s }')
    fi
    sleep 1 # the last lines of a non-blocking log writer
    bytes1=$(stat -c %s "$WORK/server.log")
    stop_server
    reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
    grep -q '^non-2xx: 0' "$WORK/wrk.txt" && grep -q '^bad-body: 0' "$WORK/wrk.txt" ||
      { log "bad answers:"; cat "$WORK/wrk.txt" >&2; exit 1; }
    awk -v f="$filter" -v r="$reqs" -v d="$DURATION" -v t="$((t1 - t0))" -v hz="$HZ" -v b="$((bytes1 - bytes0))" -v l="$load" -v p="$share" \
      'BEGIN { printf "| `%s` | %.0f | %.4f ms | %.2f | %.0f | %s | %s |\n", f, r / d, t / hz / r * 1000, t / hz / d, b / r, l, p }'
    printf '%s\t%s\n' "$filter" "$(awk -v r="$reqs" -v t="$((t1 - t0))" -v hz="$HZ" 'BEGIN { printf "%.6f", t / hz / r * 1000 }')" >>"$WORK/per_poll.tsv"
  done
done

# Per filter: mean CPU per poll over the rounds, its standard deviation, and the difference to
# the first filter's mean as a share of this filter's (the line's share of a poll's cost).
echo
printf '| filter | runs | mean CPU per poll | std dev | more than `%s` (share of this filter'"'"'s poll) |\n|---|---:|---:|---:|---:|\n' "${filter_list[0]}"
awk -F'\t' -v base="${filter_list[0]}" '
  { n[$1]++; s[$1] += $2; q[$1] += $2 * $2; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  END {
    for (i = 1; i <= k; i++) {
      f = order[i]; m = s[f] / n[f]; v = q[f] / n[f] - m * m; if (v < 0) v = 0
      d = (f == base) ? "-" : sprintf("%.4f ms (%.1f %%)", m - s[base] / n[base], (m - s[base] / n[base]) / m * 100)
      printf "| `%s` | %d | %.4f ms | %.4f ms | %s |\n", f, n[f], m, sqrt(v), d
    }
  }' "$WORK/per_poll.tsv"
