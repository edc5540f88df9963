# Shared by scripts/perf-run.sh, scripts/perf-cluster.sh and scripts/perf-edge.sh (sourced,
# not run): the release build, a fresh server on a free port or a fresh local cluster, and
# stopping it with its data.
#
# After `perf_start_server` or `perf_start_cluster`: $perf_host is its base URL, $perf_pid
# its pid (the server's, or the cluster script's), $perf_work its temporary directory
# (data and log), all cleared by `perf_stop`; after `perf_start_cluster`, $perf_ca is the
# CA its HTTPS certificate was signed with.

perf_pid=""
perf_work=""
perf_host=""
perf_ca=""

perf_build() {
    cargo build --locked --release -p magasin --bin magasin -p magasin-loadtest --bin loadtest
}

# Stops what was started (a server, or the local cluster's script) and removes its data.
perf_stop() {
    if [[ -n "$perf_pid" ]] && kill -0 "$perf_pid" 2>/dev/null; then
        kill -TERM "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    perf_pid=""
    [[ -n "$perf_work" ]] && rm -rf "$perf_work"
    perf_work=""
}

# Waits until $1/health/ready answers 200 (two minutes at most); $2, if given, is the CA
# of an https:// server.
perf_wait_ready() {
    for _ in $(seq 600); do
        curl -fsS ${2:+--cacert "$2"} "$1/health/ready" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "$(basename "$0"): $1 did not get ready" >&2
    exit 2
}

# A fresh release server (empty data directory, demo chain) on a free port.
perf_start_server() {
    perf_work=$(mktemp -d)
    target/release/magasin --bind 127.0.0.1:0 --data-dir "$perf_work/data" >"$perf_work/server.log" 2>&1 &
    perf_pid=$!
    perf_host=""
    for _ in $(seq 300); do
        perf_host=$(sed -n 's|^magasin listening on \(http://[0-9.:]*\)$|\1|p' "$perf_work/server.log" | head -n 1)
        [[ -n "$perf_host" ]] && break
        kill -0 "$perf_pid" 2>/dev/null || break
        sleep 0.2
    done
    [[ -n "$perf_host" ]] || { cat "$perf_work/server.log" >&2; echo "$(basename "$0"): the server did not start" >&2; exit 2; }
    perf_wait_ready "$perf_host"
}

# A fresh local cluster (scripts/cluster-local.sh: INSTANCES release instances, HAProxy
# with TLS on port $1, a self-signed certificate) in the background. The environment of
# the call reaches the script: HAPROXY_RATE_* set the edge's limits.
perf_start_cluster() {
    perf_work=$(mktemp -d)
    PORT=$1 DATA_DIR="$perf_work/cluster" MAGASIN_BIN=target/release/magasin \
        scripts/cluster-local.sh >"$perf_work/cluster.log" 2>&1 &
    perf_pid=$!
    for _ in $(seq 600); do
        grep -q '^cluster: .* instances behind' "$perf_work/cluster.log" && break
        kill -0 "$perf_pid" 2>/dev/null || { cat "$perf_work/cluster.log" >&2; exit 2; }
        sleep 0.2
    done
    perf_host="https://127.0.0.1:$1"
    perf_ca="$perf_work/cluster/tls/ca.pem"
    perf_wait_ready "$perf_host" "$perf_ca"
}
