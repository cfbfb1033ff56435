#!/usr/bin/env bash
# Freshness and memory of the catalog under search load: a bench/gen_catalog.py catalog of
# $COURSES courses imported into SQLite, `course-shop serve` (catalog.refresh_seconds and
# catalog.stats_refresh_seconds at their defaults unless set), search load from
#   wrk -t2 -c$CONNECTIONS -s bench/search.lua
# for the whole run, and bench/freshness.py taking $CYCLES courses, one per cycle, through a
# creation, a rename with a new price, hiding, showing, learners (a payment's update of the
# count) and deletion through the console API (and the database for learners), timing each
# from its commit until the public API shows it. Reports the time to visibility per kind of
# change (median, maximum), the server's resident memory after each cycle and its peak
# (VmHWM: the first load included), the searches/s and non-2xx of the search load, and the
# server's update log lines (catalog.read_ms, catalog.build_ms). Results: docs/benchmarks.md,
# docs/search.md ("Freshness").
#
#   bench/search_freshness.sh                           # 100,000 courses, 20 cycles
#   COURSES=20000 CYCLES=5 bench/search_freshness.sh    # a quick run
#   BENCH_PROFILE=relaxed bench/search_freshness.sh     # development profile, log at warn
#
# Settings (environment):
#   BENCH_PROFILE     production or relaxed (bench/lib.sh)           default production
#   COURSES           catalog size                                   default 100000
#   CYCLES            courses taken through the changes              default 20
#                     (0: no change, memory every 15 s for 5 minutes: the baseline)
#   IDLE              seconds of the idle CPU sample before the load  default 20
#   CONNECTIONS       wrk -c of the search load                      default 16
#   CARGO_TARGET_DIR  where the release binary is built              default /var/cache/course-shop/target-bench
#   BENCH_REV         build this git revision instead of the work tree (bench/lib.sh)
#   COURSE_SHOP__CATALOG__REFRESH_SECONDS, COURSE_SHOP__CATALOG__STATS_REFRESH_SECONDS
#                     passed to the server as set
# Raw outputs go to bench/runs/search-freshness-<UTC timestamp>/; the summary is printed and
# saved there as summary.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
COURSES=${COURSES:-100000}
CYCLES=${CYCLES:-20}
CONNECTIONS=${CONNECTIONS:-16}
WRK_THREADS=2
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/course-shop/target-bench}
BIN=$CARGO_TARGET_DIR/release/course-shop
OUT=$ROOT/bench/runs/search-freshness-$(date -u +%Y%m%dT%H%M%SZ)

. "$ROOT/bench/lib.sh"

for tool in wrk python3 curl cargo; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is missing (bench/run.sh installs wrk)"; exit 1; }
done

bench_workdir course-shop-freshness
bench_build

export COURSE_SHOP__CATALOG__SEED_DEMO_WHEN_EMPTY=false
export COURSE_SHOP__MEDIA__ROOT=$WORK/media
bench_server_env
mkdir -p "$WORK/media" "$WORK/run"
{
  bench_machine
  echo "server built from: $SOURCE_DESC, $BENCH_PROFILE profile, SQLite"
  echo "courses: $COURSES, cycles: $CYCLES, search load: wrk -t$WRK_THREADS -c$CONNECTIONS -s bench/search.lua"
  echo "catalog.refresh_seconds: ${COURSE_SHOP__CATALOG__REFRESH_SECONDS:-default}, catalog.stats_refresh_seconds: ${COURSE_SHOP__CATALOG__STATS_REFRESH_SECONDS:-default}"
} >"$OUT/machine.txt"

f=$OUT/freshness.txt
log "catalog of $COURSES courses"
python3 bench/gen_catalog.py "$WORK/catalog.json" --courses "$COURSES" | tee "$f"
DB=$WORK/shop.db
export DATABASE_URL="sqlite://$DB?mode=rwc"
(cd "$WORK/run" && "$BIN" import-catalog "$WORK/catalog.json") >>"$f"
rm -f "$WORK/catalog.json"
PASSWORD=$(openssl rand -hex 16)
(cd "$WORK/run" && printf '%s\n' "$PASSWORD" | "$BIN" user add benchadmin --admin) >>"$f"

bench_serve "$OUT/server.log" 600
echo "server after the first load: $(awk '/^VmRSS:/ { printf "%d MB", $2 / 1024 }' "/proc/$SERVER_PID/status")" | tee -a "$f"

# What the refresher costs on its own: the server's CPU while idle (revision checks, learner
# count reads), over IDLE seconds.
IDLE=${IDLE:-20}
s0=$(proc_ticks "$SERVER_PID")
sleep "$IDLE"
s1=$(proc_ticks "$SERVER_PID")
awk -v s="$((s1 - s0))" -v hz="$HZ" -v d="$IDLE" \
  'BEGIN { printf "server idle: %.1f%% of a core over %d s (refresher: revision checks, learner counts)\n", 100 * s / hz / d, d }' | tee -a "$f"

echo "uptime: $(uptime)" >>"$f"
wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d3600s --latency -s bench/search.lua "$BASE" >"$OUT/wrk.txt" 2>&1 &
WRK_PID=$!
sleep 2
python3 bench/freshness.py --base "$BASE" --db "$DB" --user benchadmin --password "$PASSWORD" \
  --pid "$SERVER_PID" --cycles "$CYCLES" | tee -a "$f"
kill -INT "$WRK_PID" 2>/dev/null || true
wait "$WRK_PID" 2>/dev/null || true
echo "uptime: $(uptime)" >>"$f"
# The updates' own figures, from the server's log (before it is trimmed).
grep -o '"message":"catalog [a-z]*"[^}]*' "$SERVER_LOG" | sed -n '1,400p' >"$OUT/catalog-log.txt" || true
grep '"catalog updated"\|catalog updated' "$SERVER_LOG" >"$OUT/catalog-updates.txt" || true
stop_server

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, os, re, statistics, sys
out = sys.argv[1]
t = open(os.path.join(out, "freshness.txt"), encoding="utf-8").read()
w = open(os.path.join(out, "wrk.txt"), encoding="utf-8").read()
if "| change |" in t:
    print(t[t.index("| change |"):].split("\n\n")[0].strip())
def grab(pattern, text, default="-"):
    m = re.search(pattern, text, re.M)
    return m.group(1) if m else default
print()
print("- " + grab(r"^(server after the first load: .*)$", t))
print("- " + grab(r"^(server idle: .*)$", t))
print("- " + grab(r"^(freshness: .*)$", t))
print("- " + grab(r"^(memory: .*)$", t))
rate, p99 = grab(r"Requests/sec:\s+(\S+)", w), grab(r"^\s+99%\s+(\S+)", w)
non2xx = grab(r"Non-2xx or 3xx responses: (\d+)", w, "0")
print(f"- search load meanwhile: {rate} searches/s, p99 {p99}, non-2xx {non2xx}")
reads, builds, changed = [], [], []
for line in open(os.path.join(out, "catalog-updates.txt"), encoding="utf-8"):
    for name, into in (("read_ms", reads), ("build_ms", builds), ("changed", changed)):
        m = re.search(r'"?catalog\.' + name + r'"?[:=](\d+)', line)
        if m:
            into.append(int(m.group(1)))
if reads and changed:
    print(f"- updates: {len(reads)}, courses read per update median {statistics.median(changed)}, "
          f"read median {statistics.median(reads)} ms (max {max(reads)}), "
          f"build median {statistics.median(builds)} ms (max {max(builds)})")
print("- load before and after: " + " / ".join(re.findall(r"^uptime: .*load average: (.*)$", t, re.M)))
print("- conditions: " + grab(r"^conditions: (.*)$", open(os.path.join(out, "machine.txt"), encoding="utf-8").read()))
PY
log "raw results in $OUT"
