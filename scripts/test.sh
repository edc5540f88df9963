#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then checks format,
# lints and runs every test (unit, end-to-end, crash).
#
# Usage: scripts/test.sh [STEP...]   with no step, every step, in this order:
#   lint    format, clippy, the monitoring and deployment kits, HAProxy's configuration,
#           the architecture documents
#   tests   every test, and each benchmark run once
#   smoke   the load generator's smoke run
# (GitLab CI runs one step per stage; .ci/run runs them all.)
set -euo pipefail
cd "$(dirname "$0")/.."

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
    steps=(lint tests smoke)
fi
for step in "${steps[@]}"; do
    case "$step" in
        lint | tests | smoke) ;;
        *)
            echo "scripts/test.sh: unknown step '$step' (lint, tests, smoke)" >&2
            exit 2
            ;;
    esac
done
wants() {
    local step
    for step in "${steps[@]}"; do
        [ "$step" = "$1" ] && return 0
    done
    return 1
}

# What each step needs, installed when missing. Rust components for the lints (rustup is
# how this toolchain is installed).
if wants lint && { ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; }; then
    rustup component add rustfmt clippy
fi

# The reference OpenMetrics parser, used by the tests to read /metrics.
# ...and a validator of the OpenAPI contract.
if wants tests && ! python3 -c "import prometheus_client, openapi_spec_validator" >/dev/null 2>&1; then
    python3 -m pip install --quiet prometheus-client openapi-spec-validator
fi

# promtool, to check the Prometheus configuration of the monitoring kit.
if wants lint && ! command -v promtool >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# A real browser for the web application's tests: Debian's Chromium and its WebDriver.
if wants tests && { ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; }; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# HAProxy (Debian's package, with Lua) for the cluster's routing tests and config check.
if { wants lint || wants tests; } && ! command -v haproxy >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
fi

# sslscan, which the edge's test runs against HAProxy's TLS (tests/api/edge.rs); openssl
# makes the throwaway certificate of HAProxy's configuration check.
if { wants tests && ! command -v sslscan >/dev/null 2>&1; } ||
    { wants lint && ! command -v openssl >/dev/null 2>&1; }; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sslscan openssl >/dev/null
fi

if wants lint; then
    echo "== format"
    cargo fmt --check
    echo "== lints"
    cargo clippy --workspace --all-targets --locked -- -D warnings
    echo "== monitoring kit"
    scripts/check-monitoring.sh
    echo "== haproxy configuration"
    # HAProxy reads the certificate while it checks: a throwaway self-signed one.
    haproxy_check=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=localhost -keyout "$haproxy_check/key.pem" -out "$haproxy_check/cert.pem" 2>/dev/null
    cat "$haproxy_check/cert.pem" "$haproxy_check/key.pem" >"$haproxy_check/haproxy.pem"
    for https_port in "" 8443; do
        env HAPROXY_CONFIG_DIR="$PWD/haproxy" MAGASIN_INSTANCES=magasin-1,magasin-2,magasin-3 \
            MAGASIN_1_ADDR=127.0.0.1:8081 MAGASIN_2_ADDR=127.0.0.1:8082 MAGASIN_3_ADDR=127.0.0.1:8083 \
            HAPROXY_BIND=127.0.0.1:8443 HAPROXY_HTTP_BIND=127.0.0.1:8080 \
            HAPROXY_TLS_CERT="$haproxy_check/haproxy.pem" HAPROXY_STATS_BIND=127.0.0.1:8404 \
            ${https_port:+HAPROXY_HTTPS_PORT=$https_port} \
            haproxy -c -f haproxy/haproxy.cfg
    done
    rm -rf "$haproxy_check"
    echo "== deployment kit (compose, GitLab CI, Dockerfile, Kubernetes)"
    scripts/check-deploy.sh
    echo "== architecture documents"
    scripts/check-architecture.sh --self-test
fi
if wants tests; then
    echo "== tests"
    # --all-targets runs each criterion benchmark once as a test (criterion's test mode):
    # they build and work. An optimized build of them (`cargo bench --no-run`) would add
    # ten minutes on a 2-core runner and check nothing more.
    cargo test --workspace --all-targets --locked
fi
if wants smoke; then
    echo "== load generator smoke"
    scripts/loadtest-smoke.sh
fi
