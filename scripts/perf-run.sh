#!/usr/bin/env bash
# The load figures of docs/performance.md, reproducibly: builds the server and the load
# generator in release, then for each scenario starts a fresh server (empty data
# directory, demo chain), runs the load generator (a ceiling pass on /health/live, then
# the scenario, then the correctness check) and records the server's peak resident memory.
# Usage: scripts/perf-run.sh [USERS] [SECONDS] [SCENARIOS...]
#   default: 64 users; till and search for 30 s each, mixed for 60 s.
# Reports (goose HTML/JSON, summary.json, server peak memory) go to target/perf-run/.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-64}
seconds=${2:-}
shift $(($# > 2 ? 2 : $#))
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(till search mixed)

cargo build --locked --release -p magasin --bin magasin -p magasin-loadtest --bin loadtest

out=target/perf-run
rm -rf "$out"
mkdir -p "$out"
server_pid=""
work=""

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
    [[ -n "$work" ]] && rm -rf "$work"
    work=""
}
trap stop_server EXIT

status=0
for scenario in "${scenarios[@]}"; do
    duration=${seconds:-$([[ $scenario == mixed ]] && echo 60 || echo 30)}
    work=$(mktemp -d)
    target/release/magasin --bind 127.0.0.1:0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
    server_pid=$!
    host=""
    for _ in $(seq 300); do
        host=$(sed -n 's|^magasin listening on \(http://[0-9.:]*\)$|\1|p' "$work/server.log" | head -n 1)
        [[ -n "$host" ]] && curl -fsS "$host/health/ready" >/dev/null 2>&1 && break
        host=""
        sleep 0.2
    done
    [[ -n "$host" ]] || { echo "perf-run: the server did not get ready" >&2; exit 2; }
    echo "== $scenario: $users users, ${duration} s (server on $host)"
    target/release/loadtest --host "$host" --scenario "$scenario" --users "$users" \
        --duration "${duration}s" --report-dir "$out/$scenario" | tee "$out/$scenario.txt" \
        || status=1
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
    echo "server peak resident memory: $((peak / 1024)) MiB" | tee -a "$out/$scenario.txt"
    stop_server
done
exit "$status"
