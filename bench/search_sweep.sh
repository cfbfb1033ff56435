#!/usr/bin/env bash
# Search at several catalog sizes: for each size, a bench/gen_catalog.py catalog imported into
# a fresh SQLite database, `course-shop serve`, and
#   wrk -t2 -c16 -d$DURATION --latency -s bench/search.lua http://127.0.0.1:<port>
# reporting searches/s, p50, p99, the server's resident memory after the run (RSS) and its
# peak (VmHWM: the catalog load included) and the server's CPU (cores, and ms per search from
# /proc/<pid>/stat). The machine's limits are measured in the same run (bench/lib.sh
# bench_limits: openssl speed rsa2048 on every core, pg_test_fsync). Results:
# docs/benchmarks.md, docs/search.md.
#
#   bench/search_sweep.sh                          # 2,000 / 20,000 / 100,000 courses, 20 s each
#   DURATION=5s SIZES=100000 bench/search_sweep.sh # one quick run
#   LUA=bench/list.lua SIZES=100000 bench/search_sweep.sh  # the course list instead of search
#   BENCH_PROFILE=relaxed bench/search_sweep.sh    # development profile, log at warn (labelled)
#
# Settings (environment):
#   BENCH_PROFILE     production or relaxed (bench/lib.sh)           default production
#   SIZES             catalog sizes (courses)                        default "2000 20000 100000"
#   DURATION          wrk -d (e.g. 20s, 5s, 1m)                      default 20s
#   CONNECTIONS       wrk -c                                         default 16
#   PAUSE             idle seconds before each run (CPU sample)      default 5
#   CARGO_TARGET_DIR  where the release binary is built              default /var/cache/course-shop/target-bench
#   BENCH_REV         build this git revision instead of the work tree (bench/lib.sh)
#   BENCH_BIN         a course-shop binary built already (nothing is built; bench/lib.sh)
#   LUA               the wrk script                                 default bench/search.lua
#                     (bench/list.lua: list pages of every ordering, all courses and by category)
#
# The server runs as in bench/run.sh (bench/lib.sh bench_server_env: the production profile,
# JSON log at info, what it requires generated for the run), on SQLite (search reads the
# per-process catalog; the database is not on the measured path).
# Raw outputs go to bench/runs/search-sweep-<UTC timestamp>/;
# the summary table is printed and saved there as summary.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES=${SIZES:-2000 20000 100000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-16}
PAUSE=${PAUSE:-5}
WRK_THREADS=2
LUA=${LUA:-bench/search.lua}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target-bench}
BIN=$CARGO_TARGET_DIR/release/course-shop
OUT=$ROOT/bench/runs/search-sweep-$(date -u +%Y%m%dT%H%M%SZ)

. "$ROOT/bench/lib.sh"

for tool in wrk python3 curl cargo; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing (bench/run.sh installs wrk)"; exit 1; }
done

bench_workdir course-shop-sweep
bench_build

export COURSE_SHOP__CATALOG__SEED_DEMO_WHEN_EMPTY=false
export COURSE_SHOP__MEDIA__ROOT=$WORK/media
bench_server_env
mkdir -p "$WORK/media" "$WORK/run"
{
  bench_machine
  echo "server built from: $SOURCE_DESC, $BENCH_PROFILE profile, SQLite"
  echo "duration: $DURATION, wrk threads: $WRK_THREADS, connections: $CONNECTIONS, sizes: $SIZES, script: $LUA"
} >"$OUT/machine.txt"
bench_limits openssl fsync

# cpu_total_idle, proc_ticks, cpu_per_request: bench/lib.sh.
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

for n in $SIZES; do
  f=$OUT/search-$n.txt
  log "catalog of $n courses"
  python3 bench/gen_catalog.py "$WORK/catalog-$n.json" --courses "$n" | tee "$f"
  export DATABASE_URL="sqlite://$WORK/shop-$n.db?mode=rwc"
  (cd "$WORK/run" && "$BIN" import-catalog "$WORK/catalog-$n.json") >>"$f"
  rm -f "$WORK/catalog-$n.json"

  bench_pick_port
  bench_serve "$OUT/server-$n.log" 600
  # Page 3 of every keyword must answer 200 (gen_catalog.py checks the counts too).
  for kw in $(sed -n '/KEYWORDS BEGIN/,/KEYWORDS END/p' bench/search.lua | grep -o '"[^"]*"' | tr -d '"'); do
    q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$kw")
    curl -fsS -o /dev/null "$BASE/api/v1/course/search/?search=$q&page=3&page_size=10" ||
      { log "search $kw page 3 failed at $n courses"; exit 1; }
  done
  wrk -t"$WRK_THREADS" -c16 -d1s -s "$LUA" "$BASE" >/dev/null  # warm-up

  sleep "$PAUSE"
  echo "uptime: $(uptime)" >>"$f"
  echo "command: wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency -s $LUA $BASE" >>"$f"
  s0=$(proc_ticks "$SERVER_PID")
  read -r t0 i0 < <(cpu_total_idle)
  start=$(date +%s.%N)
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$BASE" | tee -a "$f"
  end=$(date +%s.%N)
  read -r t1 i1 < <(cpu_total_idle)
  s1=$(proc_ticks "$SERVER_PID")
  awk -v s="$((s1 - s0))" -v t="$((t1 - t0))" -v i="$((i1 - i0))" -v hz="$HZ" -v a="$start" -v b="$end" \
    'BEGIN { printf "cpu-during: machine %.0f%% busy; server %.2f cores\n", (t > 0 ? 100 * (t - i) / t : 0), s / hz / (b - a) }' | tee -a "$f"
  cpu_per_request "$f" "$((s1 - s0))" - | tee -a "$f"
  echo "server-rss: $(( $(proc_kb "$SERVER_PID" VmRSS) / 1024 )) MB, peak $(( $(proc_kb "$SERVER_PID" VmHWM) / 1024 )) MB" | tee -a "$f"
  stop_server
  rm -f "$WORK/shop-$n.db"*
done

# shellcheck disable=SC2086  # one argument per size
python3 - "$OUT" $SIZES <<'PY' | tee "$OUT/summary.md"
import os, re, sys
out, sizes = sys.argv[1], sys.argv[2:]
def grab(pattern, text, default="-"):
    m = re.search(pattern, text, re.M)
    return m.group(1) if m else default
print("| courses | requests/s | p50 | p99 | non-2xx | server RSS after | server RSS peak | server cores | server CPU per request (ms) | load avg before (1/5/15 min) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for n in sizes:
    t = open(os.path.join(out, f"search-{n}.txt"), encoding="utf-8").read()
    non2xx = grab(r"^non-2xx: (\d+)", t, grab(r"Non-2xx or 3xx responses: (\d+)", t, "0"))
    print("| " + " | ".join([f"{int(n):,}", grab(r"Requests/sec:\s+(\S+)", t), grab(r"^\s+50%\s+(\S+)", t),
                             grab(r"^\s+99%\s+(\S+)", t), non2xx, grab(r"server-rss: (\d+ MB)", t),
                             grab(r"peak (\d+ MB)", t), grab(r"server ([\d.]+) cores", t),
                             grab(r"cpu-per-request: server ([\d.]+) ms", t),
                             grab(r"load average: (.*)$", t)]) + " |")
print()
print("- " + grab(r"^duration: (.*)$", open(os.path.join(out, "machine.txt"), encoding="utf-8").read()))
print("- conditions: " + grab(r"^conditions: (.*)$", open(os.path.join(out, "machine.txt"), encoding="utf-8").read()))
for line in open(os.path.join(out, "limits.txt"), encoding="utf-8"):
    print("- machine " + line.strip())
PY
log "raw results in $OUT"
