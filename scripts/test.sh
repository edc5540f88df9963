#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then checks format,
# lints and runs every test (unit, end-to-end, crash). Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust components the checks use (rustup is how this toolchain is installed).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
fi

echo "== format"
cargo fmt --check
echo "== lints"
cargo clippy --all-targets --locked -- -D warnings
echo "== tests"
cargo test --all-targets --locked
