#!/usr/bin/env bash
# The first `make run` on a fresh clone, timed until /readyz answers, then a second `make run`
# (the restart), for each git ref given, in alternation, ROUNDS times (the machine is shared:
# compare runs made side by side). npm's cache (~/.npm) is used as it is: warm for anyone who
# has installed before.
#   npm run bench:first-run -- 97e25c3 HEAD          # ROUNDS=3 by default
#   ROUNDS=5 bash bench/first-run.sh main my-branch
# Each run's output, every line stamped with the seconds since `make run` started, is kept in
# artifacts/first-run/<ref>-<round>.log: where the time went (install, generate, build, start).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 REF [REF…]  (ROUNDS=3)" >&2; exit 2; }
repo=$(git rev-parse --show-toplevel)
logs="$repo/artifacts/first-run"
rounds=${ROUNDS:-3}
mkdir -p "$logs"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

# Starts `make run` in $1 on port $2, stamping its output into $3; prints the seconds until /readyz answered.
time_make_run() {
  local dir=$1 port=$2 log=$3 start pid
  start=$(now)
  # setsid: in a process group of its own (as a terminal starts it), stopped as a whole.
  setsid bash -c 'cd "$1" && PORT=$2 exec make --no-print-directory run' _ "$dir" "$port" \
    > >(while IFS= read -r line; do printf '%7.2f %s\n' "$(since "$start")" "$line"; done >>"$log") 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "make run ended before it was ready: $log" >&2; return 1; fi
    sleep 0.05
  done
  printf '%.1f' "$(since "$start")"
  kill -TERM -- "-$pid"
  wait "$pid" 2>/dev/null || true
  while curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.1; done
}

printf '%-12s %5s %10s %10s\n' ref round first-run restart
for round in $(seq 1 "$rounds"); do
  for ref in "$@"; do
    clone=$(mktemp -d /tmp/first-run.XXXXXX)
    git clone -q "$repo" "$clone"
    git -C "$clone" checkout -q "$(git -C "$repo" rev-parse "$ref")"
    log="$logs/${ref//\//_}-$round.log"
    : >"$log"
    port=$(free_port)
    first=$(time_make_run "$clone" "$port" "$log")
    echo "------- restart" >>"$log"
    again=$(time_make_run "$clone" "$port" "$log")
    printf '%-12s %5s %9ss %9ss\n' "$ref" "$round" "$first" "$again"
    rm -rf "$clone"
  done
done
