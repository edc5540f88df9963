#!/usr/bin/env bash
# Throughput through HAProxy against one instance directly (docs/performance.md): for each
# scenario, the load generator runs once against a single fresh release instance, then
# against HAProxy in front of a fresh local cluster (scripts/cluster-local.sh), with the
# same users and duration, and the check after each pass. Prints the ratio of the totals.
# HAProxy's side is HTTPS (TLS ends there, ADR 0025), with its limits per client address
# lifted: every user here sends from one address, as fast as it can, which measures the
# proxy, not a chain's pace (scripts/perf-edge.sh runs the tills at theirs, limits on).
# Usage: scripts/perf-cluster.sh [USERS] [SECONDS] [SCENARIOS...]
#   default: 64 users, 30 s, till and mixed; INSTANCES (default 3) instances.
# Reports go to target/perf-cluster/<scenario>-{direct,haproxy}/.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-64}
seconds=${2:-30}
shift $(($# > 2 ? 2 : $#))
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(till mixed)
instances=${INSTANCES:-3}

# shellcheck source=scripts/lib/perf.sh
. scripts/lib/perf.sh
perf_build

out=target/perf-cluster
rm -rf "$out"
mkdir -p "$out"
trap perf_stop EXIT

# Prints the total throughput of a pass from its summary.json.
throughput() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pass"]["total"]["throughput"])' "$1"
}

status=0
# One pass of the load generator: pass SCENARIO HOST REPORT-NAME [LOADTEST-OPTION...].
pass() {
    target/release/loadtest --host "$2" --scenario "$1" --users "$users" \
        --duration "${seconds}s" --no-ceiling --report-dir "$out/$3" "${@:4}" |
        tee "$out/$3.txt" || status=1
}

for scenario in "${scenarios[@]}"; do
    perf_start_server
    echo "== $scenario, one instance directly: $users users, ${seconds} s"
    pass "$scenario" "$perf_host" "$scenario-direct"
    perf_stop

    INSTANCES=$instances HAPROXY_RATE_LOGINS=1000000 HAPROXY_RATE_WRITES=1000000 \
        HAPROXY_RATE_READS=1000000 perf_start_cluster 18280
    echo "== $scenario, HAProxy (HTTPS) in front of $instances instances: $users users, ${seconds} s"
    pass "$scenario" "$perf_host" "$scenario-haproxy" --ca-cert "$perf_ca"
    perf_stop

    direct=$(throughput "$out/$scenario-direct/summary.json")
    proxied=$(throughput "$out/$scenario-haproxy/summary.json")
    python3 -c 'import sys; d, p = map(float, sys.argv[2:]); print(f"{sys.argv[1]}: direct {d:.0f} req/s, through HAProxy {p:.0f} req/s: {p / d:.3f} of direct")' \
        "$scenario" "$direct" "$proxied" | tee -a "$out/ratios.txt"
done
exit "$status"
