# Sourced by scripts/load.sh and scripts/fuzz-api.sh (not run on its own): builds the release
# binary, starts `xietong serve --demo` on a fresh temporary data directory and a free port, waits
# for /healthz, and issues an API token for the demo admin. The caller's EXIT trap must call
# demo_server_cleanup, which stops the server and removes the temporary directory.
#
# After demo_server_start: XT_BIN, XT_DATA_DIR, XT_PORT, XT_BASE_URL, XT_TOKEN, XT_SERVER_LOG.

XT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$XT_ROOT/target}"
XT_BIN="$CARGO_TARGET_DIR/release/xietong"
XT_WORK_DIR=""
XT_SERVER_PID=""

demo_server_cleanup() {
  if [ -n "$XT_SERVER_PID" ] && kill -0 "$XT_SERVER_PID" 2>/dev/null; then
    kill -TERM "$XT_SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$XT_SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$XT_SERVER_PID" 2>/dev/null || true
    wait "$XT_SERVER_PID" 2>/dev/null || true
  fi
  XT_SERVER_PID=""
  if [ -n "${XT_LOG_COPY:-}" ] && [ -n "$XT_WORK_DIR" ] && [ -f "$XT_WORK_DIR/server.log" ]; then
    cp "$XT_WORK_DIR/server.log" "$XT_LOG_COPY"
  fi
  if [ -n "$XT_WORK_DIR" ] && [ -z "${XT_KEEP_DATA:-}" ]; then
    rm -rf "$XT_WORK_DIR"
  elif [ -n "$XT_WORK_DIR" ]; then
    echo "kept $XT_WORK_DIR (XT_KEEP_DATA is set)" >&2
  fi
}

demo_server_build() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is missing; install Rust from https://rustup.rs" >&2
    exit 1
  fi
  echo "building the release binary (cargo build --release -p xietong, target $CARGO_TARGET_DIR)" >&2
  (cd "$XT_ROOT" && cargo build --release --locked -p xietong)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts the server; the log goes to $XT_SERVER_LOG (kept in the work directory, copied to
# $XT_LOG_COPY when that is set).
demo_server_start() {
  XT_WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/xietong-measure.XXXXXX")"
  XT_DATA_DIR="$XT_WORK_DIR/data"
  XT_SERVER_LOG="$XT_WORK_DIR/server.log"
  XT_PORT="${XT_PORT:-$(free_port)}"
  XT_BASE_URL="http://127.0.0.1:$XT_PORT"
  echo "starting xietong serve --demo --data $XT_DATA_DIR --addr 127.0.0.1:$XT_PORT (log: $XT_SERVER_LOG)" >&2
  # The server reads ./xietong.toml when present: start it in the empty work directory so only
  # the built-in defaults apply.
  # NO_COLOR keeps ANSI escapes out of the log file, so it can be searched.
  (cd "$XT_WORK_DIR" && NO_COLOR=1 exec "$XT_BIN" serve --demo --data "$XT_DATA_DIR" --addr "127.0.0.1:$XT_PORT") \
    >"$XT_SERVER_LOG" 2>&1 &
  XT_SERVER_PID=$!

  local started=$SECONDS
  local startup_limit_s="${XT_STARTUP_TIMEOUT_S:-600}"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$XT_BASE_URL/healthz" || true)" = "200" ]; do
    if ! kill -0 "$XT_SERVER_PID" 2>/dev/null; then
      echo "error: the server exited during start-up; its log:" >&2
      tail -n 40 "$XT_SERVER_LOG" >&2
      exit 1
    fi
    if [ $((SECONDS - started)) -gt "$startup_limit_s" ]; then
      echo "error: /healthz did not answer 200 within ${startup_limit_s}s; the server log:" >&2
      tail -n 40 "$XT_SERVER_LOG" >&2
      exit 1
    fi
    sleep 1
  done
  echo "server ready after $((SECONDS - started))s" >&2

  XT_TOKEN="$("$XT_BIN" token issue --data "$XT_DATA_DIR" --user admin --name measurements 2>/dev/null | tail -n 1)"
  if [ -z "$XT_TOKEN" ]; then
    echo "error: xietong token issue --data $XT_DATA_DIR --user admin printed no token" >&2
    exit 1
  fi
  export XT_TOKEN
}

# Prints /healthz and fails when index_seq != store_seq after waiting up to 30 s for the follower.
demo_server_check_index_in_step() {
  local health=""
  for _ in $(seq 1 30); do
    health="$(curl -s "$XT_BASE_URL/healthz" || true)"
    if python3 -c 'import json,sys; h = json.loads(sys.argv[1]); sys.exit(0 if h["index_seq"] == h["store_seq"] else 1)' "$health" 2>/dev/null; then
      echo "healthz: $health"
      return 0
    fi
    sleep 1
  done
  echo "error: the index is not in step with the store after 30 s: $health" >&2
  return 1
}
