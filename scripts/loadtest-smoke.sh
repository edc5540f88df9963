#!/usr/bin/env bash
# Smoke test of the load generator: builds the server and loadtest (debug), starts the
# server on a free loopback port with a temporary data directory, runs the mixed scenario
# for 10 s with 16 users and the correctness check, then stops the server. Fails when the
# load generator fails (a request error, a retry answered with another sale, or stock,
# ledgers and sales that do not add up). Reports go to target/loadtest-smoke/.
# Usage: scripts/loadtest-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -p magasin --bin magasin -p magasin-loadtest --bin loadtest

work=$(mktemp -d)
server_pid=""

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        # A graceful stop writes snapshots and drains the journal; give it 30 s.
        for _ in $(seq 300); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "loadtest smoke: the server did not stop on SIGTERM; killing it" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "loadtest smoke: $*" >&2
    echo "--- server log" >&2
    tail -n 50 "$work/server.log" >&2 || true
    exit 1
}

target/debug/magasin --bind 127.0.0.1:0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!

# The server prints `magasin listening on http://ADDR` once bound.
host=""
deadline=$((SECONDS + 60))
while [[ -z "$host" ]]; do
    host=$(sed -n 's|^magasin listening on \(http://[0-9.:]*\)$|\1|p' "$work/server.log" | head -n 1)
    [[ -n "$host" ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited before listening"
    ((SECONDS < deadline)) || fail "the server did not listen within 60 s"
    sleep 0.2
done

until curl -fsS "$host/health/ready" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited before it was ready"
    ((SECONDS < deadline)) || fail "$host/health/ready did not answer 200 within 60 s"
    sleep 0.2
done

echo "loadtest smoke: server ready on $host"
status=0
target/debug/loadtest --host "$host" --scenario mixed --users 16 --duration 10s \
    --report-dir target/loadtest-smoke || status=$?
stop_server
if ((status != 0)); then
    echo "loadtest smoke: the load generator failed (exit $status)" >&2
    exit "$status"
fi
echo "loadtest smoke: passed"
