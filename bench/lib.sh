# shellcheck shell=bash
# Shared by bench/run.sh, bench/payments.sh and bench/search_sweep.sh (sourced, not run):
# logging, a work directory and the EXIT trap that stops the server and the throwaway
# Postgres, the release build of the work tree or of a git revision ($BENCH_REV, extracted
# with git archive), the benchmark's conditions ($BENCH_PROFILE: the server's settings and
# the Postgres), the machine's limits, and the CPU counters.
# The caller sets ROOT, CARGO_TARGET_DIR and OUT, and assigns SERVER_PID (and SERVER_LOG, the
# file its output goes to) when it starts the server.

log() { printf 'bench: %s\n' "$*" >&2; }

# The conditions: BENCH_PROFILE=production (the default) runs the server in its production
# profile (JSON log at info, the secrets and keys it requires generated for the run) on a
# durable Postgres (fsync, synchronous_commit and full_page_writes on); BENCH_PROFILE=relaxed
# runs the development profile with the log filter at warn on a Postgres with fsync off (the
# conditions of the runs recorded before 2026-11-30), a labelled variant only.
BENCH_PROFILE=${BENCH_PROFILE:-production}
case $BENCH_PROFILE in
  production | relaxed) ;;
  *) log "BENCH_PROFILE must be production or relaxed (got $BENCH_PROFILE)"; exit 2 ;;
esac

SERVER_PID=""
SERVER_LOG=""
PG_STARTED=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [ -n "$SERVER_LOG" ]; then
    bench_trim_log "$SERVER_LOG"
    SERVER_LOG=""
  fi
}

# bench_trim_log FILE: at info the production log has a line per request (hundreds of MB in a
# run). A log over 1 MB keeps its first and last 20 lines and its first 200 lines that are
# not INFO, DEBUG or TRACE (warnings, errors, anything not JSON), after a line that says how
# many lines it had.
bench_trim_log() {
  local f=$1 bytes lines
  [ -f "$f" ] || return 0
  bytes=$(stat -c %s "$f")
  [ "$bytes" -gt 1048576 ] || return 0
  lines=$(wc -l <"$f")
  {
    echo "bench: this log had $lines lines ($bytes bytes); kept: its first 20 lines, its first 200 lines not at INFO/DEBUG/TRACE, its last 20 lines"
    head -20 "$f"
    echo "bench: --- lines not at INFO/DEBUG/TRACE ---"
    grep -v -E '"level":"(INFO|DEBUG|TRACE)"' "$f" | head -200 || true
    echo "bench: --- last 20 lines ---"
    tail -20 "$f"
  } >"$f.trimmed"
  mv "$f.trimmed" "$f"
}

# bench_workdir PREFIX: makes $WORK and installs the cleanup traps.
bench_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  set +e
  stop_server
  [ -n "$PG_STARTED" ] && scripts/pg-throwaway.sh stop
  rm -rf "$WORK"
  [ -z "${BENCH_MAIL_DIR:-}" ] || rm -rf "$BENCH_MAIL_DIR"
}

# bench_duration: checks DURATION (wrk -d: 20s, 3s, 1m; a bare number is seconds, then given
# an s) and sets SECONDS_RUN to its seconds.
bench_duration() {
  local given=$DURATION
  case $DURATION in
    *s) SECONDS_RUN=${DURATION%s} ;;
    *m) SECONDS_RUN=$(( ${DURATION%m} * 60 )) ;;
    *) SECONDS_RUN=$DURATION; DURATION=${DURATION}s ;;
  esac
  case $SECONDS_RUN in
    '' | *[!0-9]*) log "DURATION must be like 20s, 3s or 1m (got $given)"; exit 2 ;;
  esac
}

# bench_need_wrk: installs wrk from Debian's packages when it is missing and we may (root with
# apt-get); otherwise says how and stops.
bench_need_wrk() {
  command -v wrk >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing wrk from Debian's packages"
    if ! apt-cache show wrk >/dev/null 2>&1; then apt-get update -qq; fi
    # A stale package list can name a file the mirror no longer has: update and retry.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    log "wrk is missing: install it (apt-get install wrk) and run again"
    exit 1
  fi
}

# bench_serve LOG TRIES: starts `$BIN serve` in $WORK/run (its built-in configuration) with its
# output in LOG, sets SERVER_LOG and SERVER_PID, and waits for /readyz at $BASE, TRIES times
# 0.5 s apart; when the server does not become ready (or exits), prints its log and stops.
bench_serve() {
  SERVER_LOG=$1
  (cd "$WORK/run" && exec "$BIN" serve) >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local ready="" _
  for _ in $(seq 1 "$2"); do
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null; then ready=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$ready" ]; then
    log "the server did not become ready; its log:"
    cat "$SERVER_LOG" >&2
    exit 1
  fi
}

# bench_build: builds the release binary of $BENCH_REV (when set) or of the work tree, into
# $CARGO_TARGET_DIR; sets SRC and SOURCE_DESC, and creates $OUT. With BENCH_BIN set (a
# course-shop binary built already; say which revision and profile it is in BENCH_BIN_DESC)
# nothing is built and BIN is that binary.
bench_build() {
  SRC=$ROOT
  if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
    SOURCE_DESC="given binary $BENCH_BIN (${BENCH_BIN_DESC:-not described})"
    mkdir -p "$OUT"
    return
  fi
  SOURCE_DESC="work tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(git status --porcelain 2>/dev/null | wc -l) changed paths)"
  local stamp=${CARGO_TARGET_DIR%/}/.bench-rev rev=
  if [ -n "${BENCH_REV:-}" ]; then
    SRC=${CARGO_TARGET_DIR%/}.src
    rev=$(git rev-parse "$BENCH_REV")
    rm -rf "$SRC"
    mkdir -p "$SRC"
    git archive "$BENCH_REV" | tar -x -C "$SRC"
    # git archive gives every file the commit's time, which may be older than the last
    # build in this target dir (of another revision): cargo would then keep that build.
    # Another revision than the one built last: make its files newer than that build.
    if [ "$(cat "$stamp" 2>/dev/null)" != "$rev" ]; then
      find "$SRC" -type f -exec touch {} +
    fi
    SOURCE_DESC="git revision $BENCH_REV = $(git rev-parse --short "$BENCH_REV")"
  fi
  log "building the release binary of the $SOURCE_DESC in $CARGO_TARGET_DIR (the first build takes several minutes)"
  (cd "$SRC" && cargo build --release --bin course-shop)
  if [ -n "$rev" ]; then echo "$rev" >"$stamp"; else rm -f "$stamp"; fi
  mkdir -p "$OUT"
}

# --- conditions --------------------------------------------------------------------------------
# bench_pg_start: a throwaway Postgres (scripts/pg-throwaway.sh), durable unless
# BENCH_PROFILE=relaxed; exports TEST_DATABASE_URL, PG_THROWAWAY_DIR and PG_THROWAWAY_BIN, and
# sets PG_CONDITIONS (its durability settings, read back from the server).
bench_pg_start() {
  local durable=1
  [ "$BENCH_PROFILE" = production ] || durable=0
  log "starting a throwaway PostgreSQL ($([ "$durable" = 1 ] && echo durable: fsync and synchronous_commit on || echo relaxed: fsync off))"
  eval "$(PG_DURABLE=$durable scripts/pg-throwaway.sh start)"
  PG_STARTED=1
  PG_CONDITIONS=$(psql -X -At "$TEST_DATABASE_URL" -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')")
}

# bench_alipay_gateway APP_ID SELLER_ID: Alipay in gateway mode as an operator configures
# it, with two RSA-2048 key pairs generated for the run (openssl) in $WORK/keys: the app's
# (the server signs with its private half) and one playing Alipay's (the server checks
# notifies with its public half; BENCH_ALIPAY_PRIVATE_KEY, a PKCS#8 PEM file, signs the
# benchmark's notifies). The gateway URL is one where nothing listens: the measured paths never
# call the gateway.
bench_alipay_gateway() {
  local keys=$WORK/keys who
  mkdir -p "$keys"
  for who in app alipay; do
    if [ ! -f "$keys/${who}_private_key_pkcs8.pem" ]; then
      (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$keys/${who}_private_key_pkcs8.pem" 2>/dev/null)
      openssl pkey -in "$keys/${who}_private_key_pkcs8.pem" -pubout -out "$keys/${who}_public_key_spki.pem"
    fi
  done
  export COURSE_SHOP__ALIPAY__MODE=gateway
  export COURSE_SHOP__ALIPAY__APP_ID=$1
  export COURSE_SHOP__ALIPAY__SELLER_ID=$2
  export COURSE_SHOP__ALIPAY__APP_PRIVATE_KEY_FILE=$keys/app_private_key_pkcs8.pem
  export COURSE_SHOP__ALIPAY__ALIPAY_PUBLIC_KEY_FILE=$keys/alipay_public_key_spki.pem
  export COURSE_SHOP__ALIPAY__GATEWAY_URL=http://127.0.0.1:9/gateway.do
  # shellcheck disable=SC2034  # read by bench/payments.sh
  BENCH_ALIPAY_PRIVATE_KEY=$keys/alipay_private_key_pkcs8.pem
}

# bench_pick_port: a free port for the server (PORT, BASE); in production also its public URL
# (which production requires: the payment providers' notify URLs derive from it).
bench_pick_port() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  export PORT
  BASE=http://127.0.0.1:$PORT
  if [ "$BENCH_PROFILE" = production ]; then export COURSE_SHOP__SERVER__PUBLIC_URL=$BASE; fi
}

# bench_server_env: exports the settings of $BENCH_PROFILE for every course-shop command of the
# run (they all load and check them), picks the port (bench_pick_port) and describes the
# conditions in BENCH_CONDITIONS. Production gets what it requires, supplied the way an
# operator would: a JWT secret of 48 random bytes, server.public_url, Alipay in gateway mode
# with generated keys (bench_alipay_gateway), and email.allow_file_transport_in_production =
# true (the purchase emails stay .eml files, in $BENCH_MAIL_DIR: an SMTP relay is not part of
# the benchmark). Its
# log is its own: JSON, filter info,sqlx=warn,sea_orm=warn, to the server's standard output
# (a file). Both bind 127.0.0.1 (production's 0.0.0.0 would expose the benchmark's server).
bench_server_env() {
  unset RUST_LOG COURSE_SHOP_PROFILE COURSE_SHOP_CONFIG_DIR COURSE_SHOP__LOG__FILTER COURSE_SHOP__LOG__FORMAT
  export COURSE_SHOP__SERVER__HOST=127.0.0.1
  # The purchase emails (.eml files) go to $BENCH_MAIL_DIR, on tmpfs (/dev/shm) when there is
  # one: production sends them over SMTP, and creating and renaming tens of thousands of files
  # in one directory of a disk's filesystem cost the server's threads 0.1-1 ms of kernel CPU per
  # email, varying from run to run (ext4's directory lock and inode allocation; "A whole
  # payment, its emails on tmpfs" in docs/benchmarks.md).
  if [ -z "${BENCH_MAIL_DIR:-}" ]; then
    BENCH_MAIL_DIR=$(mktemp -d /dev/shm/course-shop-bench-mail.XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/course-shop-bench-mail.XXXXXX")
  fi
  export COURSE_SHOP__EMAIL__FILE_DIR=$BENCH_MAIL_DIR
  if [ "$BENCH_PROFILE" = production ]; then
    export COURSE_SHOP_PROFILE=production
    COURSE_SHOP__AUTH__JWT_SECRET=$(openssl rand -base64 48)
    export COURSE_SHOP__AUTH__JWT_SECRET
    export COURSE_SHOP__EMAIL__ALLOW_FILE_TRANSPORT_IN_PRODUCTION=true
    bench_alipay_gateway 2021000000000001 2088000000000001
    BENCH_CONDITIONS="production profile (JSON log, filter info,sqlx=warn,sea_orm=warn; database pool 20; generated JWT secret and Alipay keys; emails as .eml files by explicit setting, on ${BENCH_MAIL_DIR%/*})"
  else
    export COURSE_SHOP__LOG__FILTER=warn
    BENCH_CONDITIONS="RELAXED: development profile, log filter warn (database pool 10)"
  fi
  bench_pick_port
}

# --- CPU counters ------------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
# The machine's total and idle ticks (/proc/stat).
cpu_total_idle() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat; }
# utime + stime of one process, in ticks.
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Waits until the server and Postgres are idle: at most one tick of CPU between them in each of
# two half-second samples in a row (startup work, such as a catalog's first load, done), or 60 s.
wait_idle() {
  local quiet=0 before now
  before=$(($(proc_ticks "$SERVER_PID") + $(pg_ticks)))
  for _ in $(seq 1 120); do
    sleep 0.5
    now=$(($(proc_ticks "$SERVER_PID") + $(pg_ticks)))
    if [ $((now - before)) -le 1 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    before=$now
    [ "$quiet" -lt 2 ] || return 0
  done
}
# CPU ticks of the bench's Postgres cluster: the postmaster (with its reaped children's time)
# and its live children (pooled backends live on); 0 without a cluster.
pg_ticks() {
  local pm t p
  pm=$(head -1 "${PG_THROWAWAY_DIR:-/nonexistent}/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null || echo 0)
  for p in $(ps -o pid= --ppid "$pm"); do t=$((t + $(proc_ticks "$p"))); done
  echo "$t"
}
# cpu_per_request WRK_OUTPUT SERVER_TICKS PG_TICKS: the CPU of the server and of Postgres per
# request of a wrk run ("-" for no Postgres), from the counters read before and after it.
cpu_per_request() {
  local n
  n=$(awk '/ requests in / { print $1; exit }' "$1")
  awk -v n="${n:-0}" -v s="$2" -v p="$3" -v hz="$HZ" 'BEGIN {
    if (n <= 0) { print "cpu-per-request: no requests"; exit }
    printf "cpu-per-request: server %.3f ms, postgres %s ms (%d requests)\n",
           1000 * s / hz / n, (p == "-" ? "-" : sprintf("%.3f", 1000 * p / hz / n)), n }'
}

# --- the machine -------------------------------------------------------------------------------
# bench_machine: the machine's description (cores, CPU model, memory, the disk of the
# temporary directory, where the throwaway Postgres and SQLite files live) and the conditions.
bench_machine() {
  local dev
  dev=$(df --output=source "${TMPDIR:-/tmp}" | tail -1)
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), swap $(awk '/^SwapTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "disk: $dev ($(df -h --output=fstype,size "${TMPDIR:-/tmp}" | tail -1 | xargs)), rotational=$(cat "/sys/block/$(basename "$dev")/queue/rotational" 2>/dev/null || echo '?')"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "load: $(uptime)"
  echo "conditions: BENCH_PROFILE=$BENCH_PROFILE: ${BENCH_CONDITIONS:-}"
  echo "postgres settings: ${PG_CONDITIONS:-none (no Postgres)}"
}

# bench_limits WHAT...: measures the machine's limits in the run, WHAT among
#   openssl  openssl speed -seconds 5 -multi <nproc> rsa2048: RSA-2048 signs/s of all cores
#   fsync    pg_test_fsync -s $FSYNC_SECONDS (default 2) in the temporary directory's file
#            system: ops/s of one 8 kB write with Postgres's wal_sync_method
#   pgbench  pgbench -n -c16 -j2 -T5 with a script `SELECT 1` against $DATABASE_URL
# Raw outputs go to $OUT/limit-*.txt; one line each is appended to $OUT/limits.txt and printed.
bench_limits() {
  local what bin method dir v
  for what in "$@"; do
    case $what in
      openssl)
        log "machine limit: openssl speed -multi $(nproc) rsa2048 (5 s signing, 5 s verifying)"
        { echo "uptime: $(uptime)"; openssl speed -seconds 5 -multi "$(nproc)" rsa2048 2>&1; } >"$OUT/limit-openssl.txt"
        v=$(awk '/^rsa 2048 bits/ { v = $6 } END { print v }' "$OUT/limit-openssl.txt")
        echo "limit-rsa2048: ${v:--} signs/s (openssl speed -seconds 5 -multi $(nproc) rsa2048)"
        ;;
      fsync)
        bin=${PG_THROWAWAY_BIN:-$(find /usr/lib/postgresql/*/bin -maxdepth 0 2>/dev/null | sort -V | tail -1)}
        if [ ! -x "$bin/pg_test_fsync" ]; then
          echo "limit-fsync: - (pg_test_fsync not found)"
          continue
        fi
        method=fdatasync dir=$WORK
        if [ -n "${PG_THROWAWAY_DIR:-}" ]; then
          method=$(psql -X -At "$TEST_DATABASE_URL" -c 'SHOW wal_sync_method')
          dir=$PG_THROWAWAY_DIR
        fi
        log "machine limit: pg_test_fsync -s ${FSYNC_SECONDS:-2} (about $((15 * ${FSYNC_SECONDS:-2})) s)"
        { echo "uptime: $(uptime)"; "$bin/pg_test_fsync" -s "${FSYNC_SECONDS:-2}" -f "$dir/pg_test_fsync.tmp" 2>&1; } >"$OUT/limit-pg_test_fsync.txt"
        rm -f "$dir/pg_test_fsync.tmp"
        v=$(awk -v m="$method" '/one 8kB write/ { on = 1 } on && $1 == m { printf "%.0f", $2; exit }' "$OUT/limit-pg_test_fsync.txt")
        echo "limit-fsync: ${v:--} ops/s (pg_test_fsync, one 8kB write, wal_sync_method $method, on $(df --output=source "$dir" | tail -1))"
        ;;
      pgbench)
        log "machine limit: pgbench SELECT 1, 16 clients, 5 s"
        printf 'SELECT 1;\n' >"$WORK/select1.sql"
        { echo "uptime: $(uptime)"; pgbench -n -c 16 -j 2 -T 5 -f "$WORK/select1.sql" "$DATABASE_URL" 2>&1; } >"$OUT/limit-pgbench-select1.txt"
        v=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$OUT/limit-pgbench-select1.txt")
        echo "limit-pgbench-select1: ${v:--} transactions/s (pgbench -n -c16 -j2 -T5, script SELECT 1, the bench's Postgres)"
        ;;
      *) log "bench_limits: unknown limit $what"; return 2 ;;
    esac
  done | tee -a "$OUT/limits.txt"
}
