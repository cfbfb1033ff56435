#!/usr/bin/env bash
# The test command: every test, on the embedded SQLite default and on a real PostgreSQL.
# Uses TEST_DATABASE_URL when set (a Postgres server where the tests may create databases);
# otherwise starts a throwaway cluster (scripts/pg-throwaway.sh) and stops it afterwards.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh search).
set -euo pipefail
cd "$(dirname "$0")/.."
started_pg=
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  eval "$(scripts/pg-throwaway.sh start)"
  started_pg=1
fi
echo "test.sh: Postgres at ${TEST_DATABASE_URL%%@*}@${TEST_DATABASE_URL#*@}" | sed 's#//[^:@]*:[^@]*@#//***@#'
log=$(mktemp)
trap 'rm -f "$log"; if [ -n "$started_pg" ]; then scripts/pg-throwaway.sh stop; fi' EXIT
set +e
cargo test --workspace --all-features "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo's last line is often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
