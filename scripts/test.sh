#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then checks format,
# lints and runs every test (unit, end-to-end, crash). Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust components the checks use (rustup is how this toolchain is installed).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
fi

# The reference OpenMetrics parser, used by the tests to read /metrics.
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
    python3 -m pip install --quiet prometheus-client
fi

echo "== format"
cargo fmt --check
echo "== lints"
cargo clippy --all-targets --locked -- -D warnings
echo "== tests"
cargo test --all-targets --locked
