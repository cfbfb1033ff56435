#!/usr/bin/env bash
# Postgres's own cost of the two hot statements (issue 10 §3), without the server: order
# creation (bench/pg_create.sql) and a plain payment notify (bench/pg_settle.sql) replayed with
# pgbench on a durable throwaway cluster, for the schema as migrated and for variants of it.
# Results: docs/benchmarks.md, "Postgres's share of an order and of a payment".
#
#   BENCH_BIN=target/release/course-shop bench/pg_statements.sh               # the schema as migrated
#   BENCH_BIN=... bench/pg_statements.sh - variant.sql other.sql              # "-" is the schema as
#                                                                             # migrated; each file is
#                                                                             # SQL run on a copy of it
#
# Settings (environment):
#   BENCH_BIN   a course-shop binary (its `migrate` makes the schema)      required
#   DURATION    seconds of each pgbench run                                 default 15
#   ROUNDS      rounds; each runs every variant's creation, then every variant's payments,
#               alternating                                                 default 3
#   CLIENTS     pgbench -c (with -j 2)                                      default 8
#   ORDERS      unpaid orders preloaded per variant for the payment runs    default 200000
#   SCRIPTS     the scripts each round runs, in order: NAME is bench/pg_NAME.sql; NAMEk (e.g.
#               settle4) is k of NAME's statement in one transaction, one commit for k
#               (made from bench/pg_NAME.sql; a payment script then pays k orders a
#               transaction: give ORDERS k times as many; "Payments committed together,
#               measured" in docs/benchmarks.md)                      default "create settle"
#
# Each variant is a database of its own in one cluster (PG_DURABLE=1 scripts/pg-throwaway.sh):
# the migrated schema, the variant's SQL, then bench/pg_seed.sql (4,000 courses, 2,000 buyers,
# ORDERS unpaid orders with lines and holds). Autovacuum is off during the runs and each run
# starts after a CHECKPOINT (each pays its own full-page writes). For each run it prints the
# transactions per second, the Postgres CPU per transaction (utime + stime of the cluster's
# postmaster and its children, with the exited backends' cutime + cstime, from /proc) and the
# WAL per transaction; the output goes to bench/runs/pg-statements-<time>/results.txt.
# The statements are copies of what shop-db sends (see the .sql files): recapture them when
# the code changes them.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCH_BIN:?set BENCH_BIN to a course-shop binary}"
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-8}
ORDERS=${ORDERS:-200000}
SCRIPTS=${SCRIPTS:-create settle}
[ "$#" -gt 0 ] || set -- -
# Each run of a payment script pays orders of its own: a range per (round, payment script);
# each run of a creation script a range of new buyer-course pairs of its own: at most 5 in all
# (the pairs repeat after 6).
settles=$(for script in $SCRIPTS; do echo "$script"; done | grep -c '^settle' || true)
creates=$(($(echo $SCRIPTS | wc -w) - settles))
[ $((ROUNDS * creates)) -le 5 ] && [ "$CLIENTS" -le 10 ] ||
  { echo "at most 5 creation runs (ROUNDS times the creation scripts) and 10 clients (new buyer-course pairs)" >&2; exit 2; }
per_client=$((ORDERS / (ROUNDS * (settles > 0 ? settles : 1) * CLIENTS)))
out=bench/runs/pg-statements-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

eval "$(PG_DURABLE=1 scripts/pg-throwaway.sh start)"
trap 'scripts/pg-throwaway.sh stop' EXIT
server=${TEST_DATABASE_URL%/postgres}
psql -qX "$TEST_DATABASE_URL" -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
psql -qX "$TEST_DATABASE_URL" -c "CREATE DATABASE migrated"
COURSE_SHOP__DATABASE__URL=$server/migrated "$BENCH_BIN" migrate >/dev/null

# Values of the size the server stores: a page-pay URL (983 bytes) and a notify body (1,075).
payurl=$(openssl rand -base64 1024 | tr -d '\n' | head -c 983)
raw=$(openssl rand -base64 1024 | tr -d '\n' | head -c 1075)

names=()
for i in $(seq 1 $#); do
  variant=${!i}
  names+=("v$i")
  psql -qX "$TEST_DATABASE_URL" -c "CREATE DATABASE v$i TEMPLATE migrated"
  [ "$variant" = - ] || psql -qX -v ON_ERROR_STOP=1 "$server/v$i" -f "$variant"
  psql -qX -v ON_ERROR_STOP=1 -v N="$ORDERS" -v payurl="$payurl" "$server/v$i" -f bench/pg_seed.sql
  echo "v$i: ${variant/#-/as migrated}" | tee -a "$out/results.txt"
done

postgres_cpu() {
  local pm tk
  pm=$(head -1 "$PG_THROWAWAY_DIR/data/postmaster.pid")
  tk=$(getconf CLK_TCK)
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v tk="$tk" '{s += $1} END {printf "%.2f\n", s / tk}'
}

# script_file NAME: the pgbench script of NAME (see SCRIPTS): bench/pg_NAME.sql, or for NAMEk
# (a name ending in a number) k copies of bench/pg_NAME.sql's lines between BEGIN and COMMIT,
# written into the run's directory.
script_file() {
  local name=$1 base k
  base=${name%%[0-9]*} k=${name#"$base"}
  if [ -z "$k" ]; then
    echo "bench/pg_$name.sql"
    return
  fi
  { echo "BEGIN;"
    for _ in $(seq 1 "$k"); do grep -v '^--' "bench/pg_$base.sql"; done
    echo "COMMIT;"
  } >"$out/pg_$name.sql"
  echo "$out/pg_$name.sql"
}

run() { # run DATABASE SCRIPT ROUND SLOT (SLOT: the run's own range of buyers, courses and orders)
  local db=$1 script=$2 r=$3 slot=$4 before after w0 w1 result
  psql -qX "$server/$db" -c CHECKPOINT
  w0=$(psql -AtX "$server/$db" -c "SELECT pg_current_wal_lsn()")
  before=$(postgres_cpu)
  result=$(pgbench -n -M prepared -f "$(script_file "$script")" -c "$CLIENTS" -j 2 -T "$DURATION" \
    -D n=0 -D base=$((10000000 + slot * 1000000)) -D pbase=$((slot * CLIENTS * per_client)) -D per_client="$per_client" \
    -D price=149900 -D ts='2026-12-01 10:22:05.608983+00' -D exp='2026-12-02 10:22:05+00' \
    -D subject='Python 全栈开发' -D payurl="$payurl" -D raw="$raw" -D r1='TRADE_SUCCESS: order marked paid' \
    -D r2='TRADE_SUCCESS: no change' -D kind=order_paid -D pending=pending -D ts_status=TRADE_SUCCESS \
    -D addr=127.0.0.1 "$server/$db" 2>&1) || true
  sleep 0.5
  after=$(postgres_cpu)
  w1=$(psql -AtX "$server/$db" -c "SELECT pg_current_wal_lsn()")
  echo "$result" >"$out/$db-$script-$r.txt"
  local tx tps wal errors
  tx=$(echo "$result" | awk -F'[: ]+' '/number of transactions actually processed/ {print $6}')
  tps=$(echo "$result" | awk '/^tps/ {print $3}')
  wal=$(psql -AtX "$server/$db" -c "SELECT pg_wal_lsn_diff('$w1', '$w0')")
  errors=$(echo "$result" | grep -c "ERROR" || true)
  awk -v db="$db" -v s="$script" -v r="$r" -v tx="${tx:-0}" -v tps="${tps:-0}" -v b="$before" -v a="$after" \
    -v wal="$wal" -v load="$(cut -d' ' -f1 /proc/loadavg)" -v e="$errors" 'BEGIN {
      printf "%s %-6s round %d: %6.0f tx/s, Postgres CPU %.3f ms/tx, WAL %.0f B/tx, load %s, errors %d\n",
        db, s, r, tps, tx ? (a - b) * 1000 / tx : 0, tx ? wal / tx : 0, load, e }' | tee -a "$out/results.txt"
}

for r in $(seq 0 $((ROUNDS - 1))); do
  j=0 k=0 # the script's place among the creation scripts (j) or the payment scripts (k)
  for script in $SCRIPTS; do
    case $script in
      settle*) slot=$((r * settles + k)); k=$((k + 1)) ;;
      *) slot=$((r * creates + j)); j=$((j + 1)) ;;
    esac
    for db in "${names[@]}"; do run "$db" "$script" "$r" "$slot"; done
  done
done
echo "results: $out/results.txt"
