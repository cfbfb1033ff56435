# Shared by bench/run.sh and bench/payments.sh (sourced, not run): logging, a work directory
# and the EXIT trap that stops the server and the throwaway Postgres, and the release build of
# the work tree or of a git revision ($BENCH_REV, extracted with git archive).
# The caller sets ROOT, CARGO_TARGET_DIR and OUT, and assigns SERVER_PID / PG_STARTED when it
# starts them.

log() { printf 'bench: %s\n' "$*" >&2; }

SERVER_PID=""
PG_STARTED=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
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
}

# bench_build: builds the release binary of $BENCH_REV (when set) or of the work tree, into
# $CARGO_TARGET_DIR; sets SRC and SOURCE_DESC, and creates $OUT.
bench_build() {
  SRC=$ROOT
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
