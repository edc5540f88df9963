#!/usr/bin/env bash
# Checks the monitoring kit: the Prometheus configuration with promtool, the Grafana
# dashboard as JSON, and that every metric the dashboard queries is one the code exports.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool is missing: scripts/test.sh installs Debian's prometheus package" >&2
    exit 1
fi
promtool check config deploy/prometheus/prometheus.yml

python3 - <<'PY'
import json, re, sys
dashboard = json.load(open("deploy/grafana/dashboards/magasin.json"))
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
used = {m for e in exprs for m in re.findall(r"magasin_[a-z_]+", e)}
source = open("src/metrics.rs").read()
exported = set()
for name, unit in re.findall(r'register(?:_with_unit)?\(\s*"([a-z_]+)",\s*"[^"]*",\s*(Unit::Seconds)?', source):
    base = "magasin_" + name + ("_seconds" if unit else "")
    exported |= {base, base + "_total", base + "_bucket", base + "_sum", base + "_count"}
missing = sorted(used - exported)
if missing:
    sys.exit(f"the dashboard queries metrics the code does not export: {missing}")
print(f"dashboard: {len(dashboard['panels'])} panels, {len(used)} metrics, all exported")
PY
