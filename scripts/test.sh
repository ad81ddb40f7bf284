#!/usr/bin/env bash
# The one test command: installs what the tests need when it is missing (Chromium for the browser
# tests, PostgreSQL for the store tests), then runs every test.
# Usage: ./scripts/test.sh            (run as root to let it install system packages)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
  else
    echo "error: the browser tests need ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is missing; install Rust from https://rustup.rs" >&2
  exit 1
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The store contract suite runs on SQLite and on a real PostgreSQL: a private server for this
# run, stopped and removed on exit.
source scripts/lib/pg-test-server.sh
trap pg_test_server_stop EXIT
pg_test_server_start

cargo test --workspace --locked
