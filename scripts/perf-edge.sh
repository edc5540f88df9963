#!/usr/bin/env bash
# Tills at their pace through the edge (ADR 0025): a fresh local cluster (release build)
# behind HAProxy with TLS and its limits as shipped, and the load generator's till
# scenario over HTTPS, each simulated till from its own loopback address, waiting about
# WAIT_MS between transactions. A real till rings a sale every 30 s or more; the default,
# a transaction every 0.5 to 1.5 s, is some 30 times that, and HAProxy must refuse none of
# it. Fails when any request got 429, or when the load generator fails (an error, or
# stock, ledgers and sales that do not add up).
# Usage: scripts/perf-edge.sh [USERS] [SECONDS] [WAIT_MS]   (default 32 users, 20 s, 1000 ms)
# Reports go to target/perf-edge/.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-32}
seconds=${2:-20}
wait_ms=${3:-1000}

# shellcheck source=scripts/lib/perf.sh
. scripts/lib/perf.sh
perf_build

out=target/perf-edge
rm -rf "$out"
mkdir -p "$out"
trap perf_stop EXIT

perf_start_cluster 18380
echo "== till through HAProxy (HTTPS, shipped limits): $users tills, each from its own address, ${seconds} s, ~${wait_ms} ms between transactions"
status=0
target/release/loadtest --host "$perf_host" --ca-cert "$perf_ca" --source-addresses "$users" \
    --scenario till --users "$users" --duration "${seconds}s" --wait-ms "$wait_ms" \
    --no-ceiling --report-dir "$out" | tee "$out/till.txt" || status=$?
perf_stop

python3 - "$out/summary.json" <<'PY' || status=1
import json, sys
summary = json.load(open(sys.argv[1]))
total = summary["pass"]["total"]
refused = total["errors"].get("429", 0)
print(f"perf-edge: {total['requests']} requests, {total['throughput']:.1f} req/s, "
      f"{refused} refused with 429, errors {total['errors'] or 'none'}")
sys.exit(1 if refused else 0)
PY
exit "$status"
