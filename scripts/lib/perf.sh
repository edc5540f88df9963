# Shared by scripts/perf-run.sh and scripts/perf-cluster.sh (sourced, not run): the release
# build, a fresh server on a free port, and stopping it with its data.
#
# After `perf_start_server`: $perf_host is its base URL, $perf_pid its pid, $perf_work its
# temporary directory (data and log), all cleared by `perf_stop`.

perf_pid=""
perf_work=""
perf_host=""

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

# Waits until $1/health/ready answers 200 (two minutes at most).
perf_wait_ready() {
    for _ in $(seq 600); do
        curl -fsS "$1/health/ready" >/dev/null 2>&1 && return 0
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
