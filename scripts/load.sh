#!/usr/bin/env bash
# Load run for issue 11: search and write throughput of the release build on the demo dataset.
#
# Usage: ./scripts/load.sh                 (run as root to let it install wrk with apt-get)
#   XT_LOAD_DURATION=20s ./scripts/load.sh  (seconds per run; default 15s)
#   XT_KEEP_DATA=1 ./scripts/load.sh        (keep the temporary data directory and server log)
#
# What it does:
#   1. cargo build --release -p xietong (CARGO_TARGET_DIR defaults to ./target);
#   2. starts `xietong serve --demo` on a fresh temporary data directory (9,950 demo listings
#      on first start) and a free port on 127.0.0.1, waits for /healthz 200;
#   3. issues an API token for the demo admin (`xietong token issue --user admin`);
#   4. runs wrk (scripts/load/*.lua), one run after another, each XT_LOAD_DURATION long:
#        search 1, 8, 32   GET /api/v1/search?q=... (rotating Chinese queries), N connections
#        write 1, 8        POST /api/v1/listings (unique titles), N writers alone
#        write 1, 8 + 16r  the same while a second wrk runs 16 search connections
#      wrk's timeout is 30 s so slow requests are measured instead of dropped;
#   5. prints requests/s, p50, p99 and the non-2xx count per run (status breakdown beside it);
#   6. checks that /healthz reports index_seq == store_seq once the writes have settled.
# Exits non-zero when a run failed to report, or the index is not in step with the store.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${XT_LOAD_DURATION:-15s}"
wrk_timeout="30s"
export XT_LOAD_LUA_DIR="$PWD/scripts/load"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing wrk with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq wrk
  else
    echo "error: the load run needs wrk; install it with: sudo apt-get install -y wrk" >&2
    exit 1
  fi
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: the load run needs $tool" >&2; exit 1; }
done

# shellcheck source=scripts/lib/demo-server.sh
source scripts/lib/demo-server.sh
results_dir=""
cleanup() {
  demo_server_cleanup
  [ -n "$results_dir" ] && rm -rf "$results_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

demo_server_build
demo_server_start
results_dir="$(mktemp -d "${TMPDIR:-/tmp}/xietong-load.XXXXXX")"
run_tag="$(date +%s)"

# wrk_run NAME CONNECTIONS SCRIPT: one wrk process; its output goes to $results_dir/NAME.out.
wrk_run() {
  local name="$1" connections="$2" script="$3"
  local threads=$((connections < 2 ? connections : 2))
  XT_RUN_TAG="$run_tag-$name" wrk -t"$threads" -c"$connections" -d"$duration" --timeout "$wrk_timeout" \
    -s "scripts/load/$script" "$XT_BASE_URL" >"$results_dir/$name.out" 2>&1
}

rows=()
# record LABEL NAME: adds a table row from the RESULT line of $results_dir/NAME.out.
record() {
  local label="$1" name="$2"
  local line
  line="$(grep '^RESULT ' "$results_dir/$name.out" || true)"
  if [ -z "$line" ]; then
    echo "error: wrk run $name reported nothing; its output:" >&2
    cat "$results_dir/$name.out" >&2
    exit 1
  fi
  # Other processes on the machine skew the figures: the 1-minute load average after the run
  # goes into the table beside them.
  line="$line loadavg=$(cut -d' ' -f1 /proc/loadavg)"
  rows+=("$label|$line")
  echo "  $label: $line" >&2
}

for connections in 1 8 32; do
  echo "search, $connections connections, $duration" >&2
  wrk_run "search-$connections" "$connections" search.lua
  record "search, $connections conn" "search-$connections"
done

for writers in 1 8; do
  echo "writes, $writers writers alone, $duration" >&2
  wrk_run "write-$writers" "$writers" write.lua
  record "write, $writers writers alone" "write-$writers"
done

for writers in 1 8; do
  echo "writes, $writers writers + 16 search connections, $duration" >&2
  wrk_run "readers-for-$writers" 16 search.lua &
  readers_pid=$!
  wrk_run "write-$writers-loaded" "$writers" write.lua
  wait "$readers_pid"
  record "write, $writers writers + 16 readers" "write-$writers-loaded"
  record "  (the 16 readers meanwhile)" "readers-for-$writers"
done

echo
echo "xietong load run: $(nproc) cores, release build, demo dataset, $duration per run, $(date -u +%Y-%m-%dT%H:%MZ)"
python3 - "${rows[@]}" <<'PY'
import sys

def fields(line):
    out = {}
    for part in line.split()[1:]:
        key, _, value = part.partition("=")
        out[key] = value
    return out

header = (f"{'run':<34} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'non-2xx':>8} {'requests':>9} {'load':>6}"
          "  statuses; socket errors")
print("(load: the 1-minute load average of the machine after the run; other processes share the cores)")
print(header)
print("-" * len(header))
for row in sys.argv[1:]:
    label, _, line = row.partition("|")
    f = fields(line)
    print(f"{label:<34} {float(f['rps']):>9.1f} {float(f['p50_ms']):>9.2f} {float(f['p99_ms']):>9.2f} "
          f"{f['non2xx']:>8} {f['requests']:>9} {f['loadavg']:>6}  {f['statuses']}; {f['errors']}")
PY
echo
demo_server_check_index_in_step
echo "server memory (VmHWM peak / VmRSS now): $(grep -E 'VmHWM|VmRSS' "/proc/$XT_SERVER_PID/status" | awk '{printf "%s %s %s  ", $1, $2, $3}')"
warnings="$(grep -cE ' (WARN|ERROR) ' "$XT_SERVER_LOG" || true)"
echo "server log: $warnings WARN/ERROR lines"
if [ "$warnings" -gt 0 ]; then
  # (awk reads the whole log: `grep | head` would end grep with SIGPIPE and fail the script)
  awk '/ (WARN|ERROR) / && shown < 20 { print; shown++ }' "$XT_SERVER_LOG"
fi
