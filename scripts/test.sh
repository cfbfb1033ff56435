#!/usr/bin/env bash
# The test command: every test, on the embedded SQLite default and on a real PostgreSQL,
# with a real S3-compatible server for the object-storage tests (SMTP is a server the tests
# start themselves).
# Uses TEST_DATABASE_URL when set (a Postgres server where the tests may create databases);
# otherwise starts a throwaway cluster (scripts/pg-throwaway.sh) and stops it afterwards.
# Likewise S3_TEST_ENDPOINT (with S3_TEST_BUCKET, S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY), or a
# throwaway s3s-fs server (scripts/s3-throwaway.sh; built once with cargo install and cached).
# Then the contract check: scripts/schemathesis.sh runs schemathesis over the served OpenAPI
# spec against the real server binary on SQLite and on the same Postgres (about a minute or
# two; its virtual environment is created once under /var/cache/course-shop).
# Then scripts/e2e/luffy_trial.py: a new buyer's trial of the Luffy front end's flow against the
# binary in its development defaults (seconds).
# Extra arguments go to `cargo test` (e.g. scripts/test.sh search); with them the contract
# check is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
started_pg=
started_s3=
log=$(mktemp)
cleanup() {
  rm -f "$log"
  if [ -n "$started_pg" ]; then scripts/pg-throwaway.sh stop; fi
  if [ -n "$started_s3" ]; then scripts/s3-throwaway.sh stop; fi
}
trap cleanup EXIT
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  eval "$(scripts/pg-throwaway.sh start)"
  started_pg=1
fi
if [ -z "${S3_TEST_ENDPOINT:-}" ]; then
  eval "$(scripts/s3-throwaway.sh start)"
  started_s3=1
fi
echo "test.sh: Postgres at ${TEST_DATABASE_URL#*@}, S3 at $S3_TEST_ENDPOINT"
set +e
cargo test --workspace --all-features "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ $# -eq 0 ]; then
  # The binary the tests just built; each database's run counts as one check in the summary.
  COURSE_SHOP_BIN=${CARGO_TARGET_DIR:-target}/debug/course-shop scripts/schemathesis.sh 2>&1 | tee -a "$log"
  contract=${PIPESTATUS[0]}
  [ "$contract" = 0 ] || status=$contract
  # A new buyer's trial of the Luffy front end's flow, call for call, in the development
  # defaults with the README's quick start for that front end (each check counts as one).
  python3 scripts/e2e/luffy_trial.py "${CARGO_TARGET_DIR:-target}/debug/course-shop" 2>&1 | tee -a "$log"
  trial=${PIPESTATUS[0]}
  [ "$trial" = 0 ] || status=$trial
fi
set -e
# One closing line over every test binary (cargo's last line is often an empty doc-test run)
# and the contract check's own `schemathesis: N passed, M failed` line.
awk '/^test result:/ || /^(schemathesis|luffy_trial): [0-9]+ passed, [0-9]+ failed$/ {
       for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed[;,]?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
