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

# shellcheck source=scripts/lib/perf.sh
. scripts/lib/perf.sh
perf_build

out=target/perf-run
rm -rf "$out"
mkdir -p "$out"
trap perf_stop EXIT

status=0
for scenario in "${scenarios[@]}"; do
    duration=${seconds:-$([[ $scenario == mixed ]] && echo 60 || echo 30)}
    perf_start_server
    host=$perf_host
    echo "== $scenario: $users users, ${duration} s (server on $host)"
    target/release/loadtest --host "$host" --scenario "$scenario" --users "$users" \
        --duration "${duration}s" --report-dir "$out/$scenario" | tee "$out/$scenario.txt" \
        || status=1
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$perf_pid/status")
    echo "server peak resident memory: $((peak / 1024)) MiB" | tee -a "$out/$scenario.txt"
    perf_stop
done
exit "$status"
