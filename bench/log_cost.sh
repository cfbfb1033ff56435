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
#   MEASURE      cpu (default): the server's CPU time per poll (user + system, /proc/<pid>/stat);
#                instructions: the server runs under valgrind's callgrind (about 50 times
#                slower) and the table gives the instructions per poll executed in the HTTP
#                workers' connection handling (actix-http's h1 `Dispatcher::poll`: parsing,
#                middleware with the request line, handler, answer), from after a warm-up
#                request to one second after the wrk run. Instruction counts do not depend on
#                what else runs on the machine, nor on caches and clock speed: repeatable where
#                CPU time is not. Not counted: the background workers (they do not serve the
#                poll), the log writer thread (about 20 instructions a line: its cost is the
#                kernel's write, which no instruction count sees; MEASURE=cpu does). Under
#                valgrind the server answers a few hundred polls a second, so the status cache
#                of the polled orders is refreshed from the database far more often per poll
#                than at full speed: use ORDERS=1 (one refresh every 2 s).
#                CALLGRIND_DIR=dir keeps each run's profile (dir/<n>-<filter>.out, read with
#                callgrind_annotate)
#   SINK         where the server's standard output (the log) goes: file (default, as under a
#                supervisor writing a file), pipe (read by `cat` into a file, as under a
#                supervisor reading a pipe) or null (/dev/null)
#   SHUFFLE      1: the filters run in a random order in each round (default 0: as listed)
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
MEASURE=${MEASURE:-cpu}
SINK=${SINK:-file}
SHUFFLE=${SHUFFLE:-0}
case "$MEASURE" in cpu | instructions) ;; *) echo "log_cost: MEASURE is cpu or instructions" >&2; exit 2 ;; esac
case "$SINK" in file | pipe | null) ;; *) echo "log_cost: SINK is file, pipe or null" >&2; exit 2 ;; esac
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
. "$ROOT/bench/callgrind.sh"
tools=(wrk sqlite3 curl python3)
[ "$MEASURE" = instructions ] && tools+=(valgrind callgrind_control)
for tool in "${tools[@]}"; do
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

# The server's log: a file, a pipe read into the file, or nothing. Its size tells the log
# bytes per poll (a size of 0 with SINK=null).
start_server() {
  local launch=("${SERVER_CPUS[@]}")
  if [ "$MEASURE" = instructions ] && [ "${2:-}" != plain ]; then
    callgrind_launch "$WORK/callgrind.out"
    launch+=("${CALLGRIND_LAUNCH[@]}")
  fi
  rm -f "$WORK"/callgrind.out*
  local out=$WORK/server.log
  case "$SINK" in
    null) : >"$WORK/server.log"; out=/dev/null ;;
    pipe) rm -f "$WORK/log.fifo"; mkfifo "$WORK/log.fifo"
      cat "$WORK/log.fifo" >"$WORK/server.log" &
      out=$WORK/log.fifo ;;
  esac
  (cd "$WORK/run" && COURSE_SHOP__LOG__FILTER=$1 exec "${launch[@]}" "$BIN" serve) >"$out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 480); do
    curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.25
  done
  log "the server did not become ready:"; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# writer_ns PID: nanoseconds on CPU of the server's log-writer thread (its schedstat), 0 without one.
writer_ns() {
  local t
  for t in /proc/"$1"/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = log-writer ]; then
      cut -d' ' -f1 "$t/schedstat"
      return
    fi
  done
  echo 0
}
# instructions_now PID: the server's instructions since its instrumentation went on (a dump).
instructions_now() { callgrind_instructions "$1" "$WORK/callgrind.out"; }

# The first start migrates the database; then one buyer and $ORDERS paid orders.
start_server warn plain
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
echo "measure: $MEASURE; log to: $SINK; filter order: $([ "$SHUFFLE" = 1 ] && echo random in each round || echo as listed)"
if [ "$MEASURE" = instructions ]; then
  UNIT="server instructions per poll"
else
  UNIT="server CPU per poll"
fi
printf '| filter | polls/s | %s | server cores | log bytes per poll | log-writer thread CPU per poll | load before | line share of CPU samples |\n|---|---:|---:|---:|---:|---:|---:|---:|\n' "$UNIT"
IFS='|' read -r -a filter_list <<<"$FILTERS"
for _ in $(seq 1 "$ROUNDS"); do
  round=("${filter_list[@]}")
  if [ "$SHUFFLE" = 1 ]; then
    mapfile -t round < <(printf '%s\n' "${filter_list[@]}" | shuf)
  fi
  for filter in "${round[@]}"; do
    start_server "$filter"
    curl -fsS -o /dev/null "$BASE/api/v1/order/success/?out_trade_no=LOGCOST1"
    load=$(cut -d' ' -f1 /proc/loadavg)
    bytes0=$(stat -c %s "$WORK/server.log")
    if [ "$MEASURE" = instructions ]; then
      callgrind_control -i on "$SERVER_PID" >/dev/null 2>&1
      sleep 1
      instructions_now "$SERVER_PID" >/dev/null # the warm-up
    fi
    t0=$(ticks "$SERVER_PID")
    w0=$(writer_ns "$SERVER_PID")
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
    w1=$(writer_ns "$SERVER_PID")
    share=-
    if [ -n "$perf_pid" ]; then
      kill -INT "$perf_pid"; wait "$perf_pid" || true
      # Self time of the line's functions on the workers, plus all of the writer thread.
      share=$(perf report -i "$PERF_DIR/$run_no.data" --no-children --sort comm,symbol -g none --stdio 2>/dev/null |
        awk '/%/ && ($2 == "log-writer" || /request_log|log_writer|ResourceMap|match_pattern/) { s += $1 } END { printf "%.2f %%", s }')
    fi
    sleep 1 # the last lines of a non-blocking log writer
    if [ "$MEASURE" = instructions ]; then
      i1=$(instructions_now "$SERVER_PID")
      if [ -n "${CALLGRIND_DIR:-}" ]; then
        mkdir -p "$CALLGRIND_DIR"
        cg_no=$((${cg_no:-0} + 1))
        cp "$(ls -t "$WORK"/callgrind.out.* | head -1)" "$CALLGRIND_DIR/$cg_no-${filter%%,*}.out"
      fi
    fi
    bytes1=$(stat -c %s "$WORK/server.log")
    stop_server
    reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
    grep -q '^non-2xx: 0' "$WORK/wrk.txt" && grep -q '^bad-body: 0' "$WORK/wrk.txt" ||
      { log "bad answers:"; cat "$WORK/wrk.txt" >&2; exit 1; }
    # The cost of a poll: milliseconds of CPU, or instructions (everything after the warm-up
    # dump: the wrk run and the second after it).
    if [ "$MEASURE" = instructions ]; then
      cost=$(awk -v r="$reqs" -v i="$i1" 'BEGIN { printf "%.0f", i / r }')
      shown=$cost
    else
      cost=$(awk -v r="$reqs" -v t="$((t1 - t0))" -v hz="$HZ" 'BEGIN { printf "%.6f", t / hz / r * 1000 }')
      shown=$(awk -v c="$cost" 'BEGIN { printf "%.4f ms", c }')
    fi
    awk -v f="$filter" -v r="$reqs" -v d="$DURATION" -v c="$shown" -v t="$((t1 - t0))" -v hz="$HZ" -v b="$((bytes1 - bytes0))" -v l="$load" -v p="$share" -v w="$((w1 - w0))" \
      'BEGIN { printf "| `%s` | %.0f | %s | %.2f | %.0f | %.5f ms | %s | %s |\n", f, r / d, c, t / hz / d, b / r, w / r / 1e6, l, p }'
    printf '%s\t%s\n' "$filter" "$cost" >>"$WORK/per_poll.tsv"
  done
done

# Per filter: mean cost per poll over the rounds, its standard deviation, and the difference to
# the first filter's mean as a share of this filter's (the line's share of a poll's cost).
echo
if [ "$MEASURE" = instructions ]; then unit="" fmt="%.0f"; else unit=" ms" fmt="%.4f"; fi
printf '| filter | runs | mean %s | std dev | more than `%s` (share of this filter'"'"'s poll) |\n|---|---:|---:|---:|---:|\n' "$UNIT" "${filter_list[0]}"
awk -F'\t' -v base="${filter_list[0]}" -v unit="$unit" -v fmt="$fmt" '
  { n[$1]++; s[$1] += $2; q[$1] += $2 * $2; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  END {
    for (i = 1; i <= k; i++) {
      f = order[i]; m = s[f] / n[f]; v = q[f] / n[f] - m * m; if (v < 0) v = 0
      d = (f == base) ? "-" : sprintf(fmt "%s (%.1f %%)", m - s[base] / n[base], unit, (m - s[base] / n[base]) / m * 100)
      printf "| `%s` | %d | " fmt "%s | " fmt "%s | %s |\n", f, n[f], m, unit, sqrt(v), unit, d
    }
  }' "$WORK/per_poll.tsv"
