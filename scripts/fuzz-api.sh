#!/usr/bin/env bash
# API fuzz run for issue 11: Schemathesis against the OpenAPI document of the release build
# serving the demo dataset; every 5xx answer is a failure.
#
# Usage: ./scripts/fuzz-api.sh                      (needs python3 with venv and access to PyPI
#                                                     the first time, to install Schemathesis)
#   XT_FUZZ_EXAMPLES=50 ./scripts/fuzz-api.sh        (examples per operation; default 200)
#   XT_FUZZ_SEED=1 ./scripts/fuzz-api.sh             (default seed 20261202)
#
# What it does:
#   1. installs Schemathesis $schemathesis_version into target/schemathesis-venv when missing;
#   2. cargo build --release -p xietong, starts `xietong serve --demo` on a fresh temporary data
#      directory and a free port, waits for /healthz, issues an API token for the demo admin;
#   3. runs `st run` on http://127.0.0.1:PORT/api/openapi.json with that token, only the
#      not_a_server_error check, a fixed seed, one worker and a bounded number of examples per
#      operation, in two passes:
#        pass 1: every operation but DELETE /api/v1/tokens/{id};
#        pass 2: DELETE /api/v1/tokens/{id} alone, with a fresh token.
#      Revoking tokens by fuzzed ids revokes the run's own token sooner or later, after which
#      every authenticated operation would answer 401 and go untested; run last, it costs nothing.
#   4. keeps the reports (JUnit, HAR with every request and response) and the server log in
#      target/fuzz-api-report/, and prints the server's ERROR lines.
# Exits non-zero when any request answered 5xx (or Schemathesis failed otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

schemathesis_version="4.32.5"
examples="${XT_FUZZ_EXAMPLES:-200}"
seed="${XT_FUZZ_SEED:-20261202}"

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: the fuzz run needs $tool" >&2; exit 1; }
done

# shellcheck source=scripts/lib/demo-server.sh
source scripts/lib/demo-server.sh
venv="$CARGO_TARGET_DIR/schemathesis-venv"
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" != "st, version $schemathesis_version" ]; then
  echo "installing schemathesis==$schemathesis_version into $venv" >&2
  python3 -m venv "$venv" || { echo "error: python3 -m venv failed; install python3-venv" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

report_dir="$CARGO_TARGET_DIR/fuzz-api-report"
rm -rf "$report_dir"
mkdir -p "$report_dir"
export XT_LOG_COPY="$report_dir/server.log"
trap demo_server_cleanup EXIT
trap 'exit 130' INT TERM

demo_server_build
demo_server_start

# st_pass NAME [FILTER OPTIONS...]: one Schemathesis run; returns its exit code.
st_pass() {
  local name="$1"
  shift
  echo "schemathesis pass $name: seed $seed, $examples examples per operation" >&2
  # st keeps a cache of earlier requests (.schemathesis/) in its working directory and replays
  # from it; running in the fresh report directory keeps it out of the tree and every run alike.
  (cd "$report_dir" && "$venv/bin/st" run "$XT_BASE_URL/api/openapi.json" \
    --checks not_a_server_error \
    --header "Authorization: Bearer $XT_TOKEN" \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --generation-database none \
    --request-timeout 60 \
    --no-color \
    --report junit,har \
    --report-junit-path "$report_dir/$name.junit.xml" \
    --report-har-path "$report_dir/$name.har" \
    "$@")
}

status=0
st_pass all-but-token-revocation --exclude-name 'DELETE /api/v1/tokens/{id}' \
  || status=$?
echo "pass 1 exit code: $status" >&2
XT_TOKEN="$("$XT_BIN" token issue --data "$XT_DATA_DIR" --user admin --name fuzz-pass-2 2>/dev/null | tail -n 1)"
[ -n "$XT_TOKEN" ] || { echo "error: no token for pass 2" >&2; exit 1; }
revocation_status=0
st_pass token-revocation --include-name 'DELETE /api/v1/tokens/{id}' || revocation_status=$?
echo "pass 2 exit code: $revocation_status" >&2
[ "$revocation_status" -ne 0 ] && status=$revocation_status

server_errors="$(grep -c ' ERROR ' "$XT_SERVER_LOG" || true)"
echo "server log: $server_errors ERROR lines (full log: $XT_LOG_COPY)"
grep ' ERROR ' "$XT_SERVER_LOG" | head -n 40 || true
demo_server_check_index_in_step || status=1
echo "reports: $report_dir"
exit "$status"
