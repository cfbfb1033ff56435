#!/usr/bin/env bash
# Catalog benchmark: course search, course list and course detail under wrk, plus the naive
# SQL of a Django-style search under pgbench for comparison. Results: docs/benchmarks.md.
#
#   bench/run.sh                 # 20 s per run (the recorded benchmark; about 4 minutes
#                                # plus the first release build, which takes several)
#   DURATION=3s bench/run.sh     # quick smoke run
#   BENCH_PROFILE=relaxed bench/run.sh   # the relaxed variant (development profile, log at
#                                # warn, Postgres with fsync off): labelled RELAXED
#
# Settings (environment):
#   BENCH_PROFILE     production or relaxed (bench/lib.sh)                default production
#   DURATION          wrk -d and pgbench -T (e.g. 20s, 3s, 1m)        default 20s
#   CONNECTIONS       wrk -c values                                  default "16 64"
#   ENDPOINTS         among search list detail detail_browser (detail with a browser's
#                     User-Agent: the funnel counts its views)     default "search list detail"
#   PAUSE             idle seconds before each run (CPU sample)      default 5
#   CARGO_TARGET_DIR  where the release binary is built              default /var/cache/course-shop/target-bench
#   BENCH_COUNT_STATUS=0  do not tally statuses in Lua (wrk still counts >= 400)  default: tally
#   BENCH_REV         build this git revision (e.g. HEAD) instead of the work tree: it is
#                     extracted with git archive into $CARGO_TARGET_DIR.src (a fixed path, so
#                     a second run of the same revision does not recompile)   default: the work tree
#
# What it does: installs wrk from Debian when missing (as root); builds the release binary;
# generates the catalog (bench/gen_catalog.py: 2,000 courses, 50 teachers); starts a
# throwaway PostgreSQL (scripts/pg-throwaway.sh; durable: fsync and synchronous_commit on) and
# imports the catalog into a database "bench"; measures the machine's limits (bench/lib.sh
# bench_limits: openssl speed rsa2048 on every core, pg_test_fsync, pgbench SELECT 1 on that
# Postgres); starts `course-shop serve` on a free port (production profile with what it
# requires generated for the run, JSON log at info: bench/lib.sh bench_server_env; default
# workers = one per core); checks that every request the wrk scripts can send answers 200;
# then for each endpoint and connection count runs
#   wrk -t2 -c<N> -d$DURATION --latency -s bench/<endpoint>.lua http://127.0.0.1:<port>
# and finally pgbench -c16 -j2 with bench/naive_search.sql. Before each run it records the
# load average (uptime) and the machine's CPU use over the idle pause (other processes);
# around each run it reads the CPU time of the server and of the Postgres cluster
# (/proc/<pid>/stat) and reports it per request, and the bytes the server logged.
# Raw outputs go to bench/runs/<UTC timestamp>/ (ignored by git: server logs and machine
# details stay on the machine; the figures that matter go into docs/benchmarks.md); a summary
# table is printed at the end and saved there as summary.md. The server and Postgres are
# stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-16 64}
ENDPOINTS=${ENDPOINTS:-search list detail}
PAUSE=${PAUSE:-5}
WRK_THREADS=2
PGBENCH_CLIENTS=16
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target-bench}
BIN=$CARGO_TARGET_DIR/release/course-shop
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/runs/$STAMP

. "$ROOT/bench/lib.sh"

bench_duration

# --- tools ---------------------------------------------------------------------------------
bench_need_wrk
for tool in python3 curl cargo; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing"; exit 1; }
done

# --- clean-up ------------------------------------------------------------------------------
bench_workdir course-shop-bench

# --- build, catalog, database ----------------------------------------------------------------
bench_build
python3 bench/gen_catalog.py "$WORK/catalog.json" | tee "$OUT/catalog.txt"

bench_pg_start
command -v pgbench >/dev/null 2>&1 || { log "pgbench is missing (postgresql-client)"; exit 1; }
psql -q "$TEST_DATABASE_URL" -c 'CREATE DATABASE bench'
export DATABASE_URL=${TEST_DATABASE_URL%/*}/bench
export COURSE_SHOP__CATALOG__SEED_DEMO_WHEN_EMPTY=false
export COURSE_SHOP__MEDIA__ROOT=$WORK/media
bench_server_env
mkdir -p "$WORK/media" "$WORK/run"

# The binary runs in $WORK/run, so it uses its built-in configuration, not ./config.
log "importing the catalog"
(cd "$WORK/run" && "$BIN" import-catalog "$WORK/catalog.json") | tee -a "$OUT/catalog.txt"

# --- machine -------------------------------------------------------------------------------
{
  bench_machine
  echo "rustc: $(rustc --version)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "postgres: $("$PG_THROWAWAY_BIN/postgres" --version)"
  echo "pgbench: $(pgbench --version)"
  echo "server built from: $SOURCE_DESC"
  echo "duration: $DURATION, wrk threads: $WRK_THREADS, connections: $CONNECTIONS"
  echo "memory:"
  free -h
} >"$OUT/machine.txt"
bench_limits openssl fsync pgbench

# --- server --------------------------------------------------------------------------------
log "starting the server on $BASE ($BENCH_PROFILE)"
bench_serve "$OUT/server.log" 120

# Every request the wrk scripts can send must answer 200: each search keyword's page 3
# (page_size 10), every list page of list.lua, and the first and last course.
log "checking that every benchmark request answers 200"
python3 - "$BASE" bench/search.lua <<'EOF' | tee "$OUT/precheck.txt"
import json, re, sys, urllib.error, urllib.parse, urllib.request
base, lua = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
block = lua.split("-- KEYWORDS BEGIN", 1)[1].split("-- KEYWORDS END", 1)[0]
keywords = re.findall(r'"([^"]+)"', block.split("\n", 1)[1])
def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None
bad, counts = [], []
for kw in keywords:
    status, body = get(f"/api/v1/course/search/?search={urllib.parse.quote(kw)}&page=3&page_size=10")
    counts.append(f"{kw}={body['count'] if body else status}")
    if status != 200:
        bad.append(f"search {kw!r} page 3 -> {status}")
for o in ["orders", "students", "-students", "price", "-price"]:
    for q in [f"ordering={o}&page=50", *(f"ordering={o}&course_category={c}&page=20" for c in range(1, 9))]:
        status, _ = get(f"/api/v1/course/list/?{q}&page_size=10")
        if status != 200:
            bad.append(f"list {q} -> {status}")
for cid in (1, 2000):
    status, _ = get(f"/api/v1/course/list/{cid}/")
    if status != 200:
        bad.append(f"detail {cid} -> {status}")
print(f"precheck: {len(keywords)} keywords, matches: " + ", ".join(counts))
if bad:
    print("precheck: FAILED: " + "; ".join(bad))
    sys.exit(1)
print("precheck: every search page 1-3, list page and detail the scripts send answers 200")
EOF

# --- measurements (cpu_total_idle, proc_ticks, pg_ticks, cpu_per_request: bench/lib.sh) ----
log_bytes() { stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0; }

# Writes "load: ..." and "other CPU use: ..." for the PAUSE seconds before a run.
before_run() {
  local t0 i0 t1 i1
  read -r t0 i0 < <(cpu_total_idle)
  sleep "$PAUSE"
  read -r t1 i1 < <(cpu_total_idle)
  echo "uptime: $(uptime)"
  awk -v t="$((t1 - t0))" -v i="$((i1 - i0))" -v n="$(nproc)" -v p="$PAUSE" \
    'BEGIN { printf "busy-before: %.0f%% of %d cores over the %ss idle pause before the run (other processes)\n", (t > 0 ? 100 * (t - i) / t : 0), n, p }'
}

# Warm-up (not recorded): one second of each script.
for ep in $ENDPOINTS; do
  wrk -t"$WRK_THREADS" -c16 -d1s -s "bench/$ep.lua" "$BASE" >/dev/null
done

for ep in $ENDPOINTS; do
  for c in $CONNECTIONS; do
    f=$OUT/wrk-$ep-c$c.txt
    log "wrk $ep, $c connections, $DURATION"
    before_run >"$f"
    echo "command: wrk -t$WRK_THREADS -c$c -d$DURATION --latency -s bench/$ep.lua $BASE" >>"$f"
    s0=$(proc_ticks "$SERVER_PID"); p0=$(pg_ticks); l0=$(log_bytes)
    read -r t0 i0 < <(cpu_total_idle)
    wrk -t"$WRK_THREADS" -c"$c" -d"$DURATION" --latency -s "bench/$ep.lua" "$BASE" | tee -a "$f"
    read -r t1 i1 < <(cpu_total_idle)
    s1=$(proc_ticks "$SERVER_PID"); p1=$(pg_ticks); l1=$(log_bytes)
    awk -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v t="$((t1 - t0))" -v i="$((i1 - i0))" -v n="$(nproc)" -v hz="$HZ" -v d="$SECONDS_RUN" \
      'BEGIN { printf "cpu-during: machine %.0f%% busy; server %.2f cores, postgres %.2f (of %d)\n", (t > 0 ? 100 * (t - i) / t : 0), s / hz / d, p / hz / d, n }' | tee -a "$f"
    cpu_per_request "$f" "$((s1 - s0))" "$((p1 - p0))" | tee -a "$f"
    echo "server-log-during: $((l1 - l0)) bytes" | tee -a "$f"
  done
done
stop_server

f=$OUT/pgbench-naive-c$PGBENCH_CLIENTS.txt
log "pgbench naive search SQL, $PGBENCH_CLIENTS clients, ${SECONDS_RUN}s"
before_run >"$f"
echo "command: pgbench -n -c $PGBENCH_CLIENTS -j 2 -T $SECONDS_RUN -f bench/naive_search.sql -l (database bench)" >>"$f"
mkdir -p "$WORK/pglog"
(cd "$WORK/pglog" && pgbench -n -c "$PGBENCH_CLIENTS" -j 2 -T "$SECONDS_RUN" -l --log-prefix=naive \
  -f "$ROOT/bench/naive_search.sql" "$DATABASE_URL") 2>&1 | tee -a "$f"
# Per-transaction latencies (3rd field, microseconds) of pgbench -l: p50 and p99.
cat "$WORK"/pglog/naive* | python3 -c '
import sys
v = sorted(int(line.split()[2]) for line in sys.stdin if line.strip())
if v:
    print("latency percentiles (from pgbench -l): p50 %.2fms p99 %.2fms over %d transactions"
          % (v[len(v) // 2] / 1000, v[min(len(v) - 1, int(len(v) * 0.99))] / 1000, len(v)))
' | tee -a "$f"

# --- summary -------------------------------------------------------------------------------
python3 - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import glob, os, re, sys
out = sys.argv[1]
def grab(pattern, text, default="-"):
    m = re.search(pattern, text, re.M)
    return m.group(1) if m else default
order = {"search": 0, "list": 1, "detail": 2}
files = sorted(glob.glob(os.path.join(out, "wrk-*.txt")),
               key=lambda f: (order.get(f.split("wrk-")[1].split("-c")[0], 9), int(f.rsplit("-c", 1)[1][:-4])))
print("| endpoint | conns | requests/s | p50 | p99 | non-2xx | socket errors | load avg before (1/5/15 min) | other CPU before | server cores | postgres cores | CPU per request: server / postgres (ms) | log bytes per request |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for f in files:
    t = open(f, encoding="utf-8").read()
    ep, c = os.path.basename(f)[4:-4].rsplit("-c", 1)
    sock = grab(r"Socket errors: (.*)$", t, "0")
    non2xx = grab(r"^non-2xx: (\d+)", t, grab(r"Non-2xx or 3xx responses: (\d+)", t, "0"))
    cells = [ep, c, grab(r"Requests/sec:\s+(\S+)", t), grab(r"^\s+50%\s+(\S+)", t),
             grab(r"^\s+99%\s+(\S+)", t), non2xx, sock, grab(r"load average: (.*)$", t),
             grab(r"busy-before: (\d+%)", t), grab(r"server ([\d.]+) cores", t),
             grab(r"postgres ([\d.]+) \(", t),
             grab(r"cpu-per-request: server ([\d.]+) ms", t) + " / " + grab(r"cpu-per-request: .*postgres ([\d.]+) ms", t)]
    n, b = grab(r"\((\d+) requests\)", t, ""), grab(r"^server-log-during: (\d+) bytes", t, "")
    cells.append("%.0f" % (int(b) / int(n)) if n and b and int(n) > 0 else "-")
    print("| " + " | ".join(cells) + " |")
for f in glob.glob(os.path.join(out, "pgbench-*.txt")):
    t = open(f, encoding="utf-8").read()
    c = f.rsplit("-c", 1)[1][:-4]
    fails = grab(r"number of failed transactions: (\d+)", t, "0")
    cells = ["naive SQL (pgbench)", c, grab(r"tps = ([\d.]+)", t), grab(r"p50 (\S+)", t),
             grab(r"p99 (\S+)", t), fails + " failed", "-", grab(r"load average: (.*)$", t),
             grab(r"busy-before: (\d+%)", t), "-", "-", "-", "-"]
    print("| " + " | ".join(cells) + " |")
print()
print("- conditions: " + grab(r"^conditions: (.*)$", open(os.path.join(out, "machine.txt"), encoding="utf-8").read()))
print("- postgres: " + grab(r"^postgres settings: (.*)$", open(os.path.join(out, "machine.txt"), encoding="utf-8").read()))
for line in open(os.path.join(out, "limits.txt"), encoding="utf-8"):
    print("- machine " + line.strip())
EOF
log "raw results in $OUT"
