# Sourced by scripts/test.sh (not run on its own): makes sure Debian's PostgreSQL server is
# installed, then starts a private one for the test run: a fresh temporary data directory, trust
# authentication, listening on 127.0.0.1 only, on a free port from 55432 up, with its unix socket
# inside the temporary directory. The caller's EXIT trap must call pg_test_server_stop, which
# stops the server and removes the directory.
#
# After pg_test_server_start: XT_TEST_DATABASE_URL (exported), XT_PG_DIR, XT_PG_PORT, XT_PG_BIN.

XT_PG_DIR=""
XT_PG_PORT=""
XT_PG_BIN=""

# The newest installed server's bin directory, or nothing.
pg_test_server_bindir() {
  local initdb
  initdb="$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$initdb" ] && dirname "$initdb"
}

# Installs the `postgresql` package when no server is installed (root only).
pg_test_server_install() {
  if [ -n "$(pg_test_server_bindir)" ]; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test dependency: postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql
  else
    echo "error: the store tests need a PostgreSQL server; install it with: sudo apt-get install -y postgresql" >&2
    return 1
  fi
  if [ -z "$(pg_test_server_bindir)" ]; then
    echo "error: postgresql is installed but /usr/lib/postgresql/*/bin/initdb is missing" >&2
    return 1
  fi
}

# Runs a server binary as the `postgres` system user when we are root (the server refuses to run
# as root), as ourselves otherwise.
pg_test_server_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Whether something accepts TCP connections on 127.0.0.1:$1.
pg_test_server_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_test_server_start() {
  pg_test_server_install || return 1
  XT_PG_BIN="$(pg_test_server_bindir)"
  XT_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/xt-pg.XXXXXX")"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$XT_PG_DIR"
  fi
  XT_PG_PORT=""
  local port
  for port in $(seq 55432 55531); do
    if ! pg_test_server_port_busy "$port"; then
      XT_PG_PORT="$port"
      break
    fi
  done
  if [ -z "$XT_PG_PORT" ]; then
    echo "error: no free port for the test PostgreSQL server in 55432-55531" >&2
    return 1
  fi
  pg_test_server_as_owner "$XT_PG_BIN/initdb" --pgdata="$XT_PG_DIR/data" --username=postgres \
    --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$XT_PG_DIR/initdb.log" 2>&1 || {
    echo "error: initdb failed:" >&2
    cat "$XT_PG_DIR/initdb.log" >&2
    return 1
  }
  # A throwaway server: durability settings off make the tests faster and change no result.
  local options="-c listen_addresses=127.0.0.1 -p $XT_PG_PORT -k $XT_PG_DIR -c max_connections=200"
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  pg_test_server_as_owner "$XT_PG_BIN/pg_ctl" --pgdata="$XT_PG_DIR/data" --log="$XT_PG_DIR/server.log" \
    --options="$options" --wait --silent start || {
    echo "error: the test PostgreSQL server did not start:" >&2
    cat "$XT_PG_DIR/server.log" >&2
    return 1
  }
  export XT_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$XT_PG_PORT/postgres"
  echo "test PostgreSQL server on 127.0.0.1:$XT_PG_PORT (data in $XT_PG_DIR)"
}

pg_test_server_stop() {
  if [ -n "$XT_PG_DIR" ] && [ -d "$XT_PG_DIR/data" ]; then
    pg_test_server_as_owner "$XT_PG_BIN/pg_ctl" --pgdata="$XT_PG_DIR/data" --mode=fast --wait --silent stop \
      >/dev/null 2>&1 || true
  fi
  if [ -n "$XT_PG_DIR" ]; then
    rm -rf "$XT_PG_DIR"
  fi
  XT_PG_DIR=""
}
