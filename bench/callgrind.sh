# shellcheck shell=bash
# Counting a server's instructions under valgrind's callgrind, for bench/log_cost.sh and
# bench/outbox_drain.sh (MEASURE=instructions): what both count is the HTTP workers'
# connection handling, actix-http's h1 `Dispatcher::poll` (parsing, middleware, handler,
# answer), so their figures compare.

# callgrind_launch OUT: sets CALLGRIND_LAUNCH to the command prefix that runs a server under
# callgrind, instrumentation off until `callgrind_control -i on`, its dumps OUT.<n>.
callgrind_launch() {
  CALLGRIND_LAUNCH=(valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no
    "--toggle-collect=<actix_http::h1::dispatcher::Dispatcher<*> as core::future::future::Future>::poll"
    --callgrind-out-file="$1")
}

# callgrind_instructions PID OUT: dumps the server's counts (into OUT.<n>) and prints the
# instructions counted since its instrumentation went on or since its last dump.
callgrind_instructions() {
  callgrind_control -d "$1" >/dev/null 2>&1
  local dump
  dump=$(ls -t "$2".* 2>/dev/null | head -1)
  awk '/^(summary|totals):/ { print $2; exit }' "$dump"
}
