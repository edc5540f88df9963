#!/usr/bin/env bash
# The worst case of a store's write path: 64 connections selling into ONE store with wrk,
# long enough that every snapshot of that store falls inside the run. Measures, on a fresh
# release server (empty data directory, demo chain): the no-op ceiling (`GET /health/live`,
# same connections and duration), then the sales; prints both, the share of the ceiling
# and the latency percentiles, and the server's peak resident memory.
# Usage: scripts/perf-one-store.sh [CONNECTIONS] [SECONDS]   (default 64, 60)
# Needs wrk (Debian's package: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

connections=${1:-64}
seconds=${2:-60}
command -v wrk >/dev/null || { echo "perf-one-store: wrk is missing (apt-get install wrk)" >&2; exit 2; }

# shellcheck source=scripts/lib/perf.sh
. scripts/lib/perf.sh
cargo build --locked --release -p magasin --bin magasin
trap perf_stop EXIT
perf_start_server
host=$perf_host
token=$(curl -fsS -X POST "$host/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"demo"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Enough stock for every sale of the run (1,000,000 units is the bound of one count).
curl -fsS -X POST "$host/api/v1/stores/1/adjustments" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' \
    -d '{"reason":"inventaire de test","lines":[{"sku":"EPI-0001","counted":1000000},{"sku":"EPI-0002","counted":1000000},{"sku":"EPI-0004","counted":1000000},{"sku":"EPI-0005","counted":1000000},{"sku":"EPI-0006","counted":1000000}]}' >/dev/null

echo "== ceiling: GET /health/live, $connections connections, ${seconds} s"
wrk -t2 -c"$connections" -d"${seconds}s" --latency "$host/health/live" | tee "$perf_work/ceiling.txt"
echo "== sales into store 1: $connections connections, ${seconds} s"
MAGASIN_TOKEN=$token MAGASIN_STORE=1 wrk -t2 -c"$connections" -d"${seconds}s" --latency \
    -s scripts/wrk/sale.lua "$host" | tee "$perf_work/sales.txt"
peak=$(awk '/VmHWM/ {print $2}' "/proc/$perf_pid/status")
ceiling=$(awk '/^Requests\/sec/ {print $2}' "$perf_work/ceiling.txt")
sales=$(awk '/^Requests\/sec/ {print $2}' "$perf_work/sales.txt")
p99=$(awk '$1 == "99%" {print $2}' "$perf_work/sales.txt")
listed=$(curl -fsS "$host/api/v1/stores/1/sales?per_page=1" -H "authorization: Bearer $token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "== summary"
echo "ceiling $ceiling req/s; sales $sales req/s, $(python3 -c "print(f'{$sales / $ceiling:.3f}')") of the ceiling; sale p99 $p99"
echo "sales in the store after the run: $listed; server peak resident memory: $((peak / 1024)) MiB"
