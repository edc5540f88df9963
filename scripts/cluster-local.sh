#!/usr/bin/env bash
# A local magasin cluster without Docker: HAProxy in front of INSTANCES magasin processes on
# loopback, in the foreground. Ctrl-C or SIGTERM stops them all; started again on the same
# DATA_DIR, every instance recovers its journal.
#
#   INSTANCES  how many instances (default 3), named magasin-1, magasin-2, …
#   PORT       where HAProxy listens (default 8080); instance i listens on PORT+i, the
#              HAProxy stats page on PORT+100
#   DATA_DIR   data of every instance and the pid files (default data/cluster):
#              DATA_DIR/magasin-i/ (journal), DATA_DIR/magasin-i.pid, DATA_DIR/haproxy.pid
#   MAGASIN_BIN  the server binary (default: built with `cargo build --release`)
#
# The instances share the demo chain: one owns the reference data (catalog, stores, users)
# and the others follow its change feed (ADR 0015); each owns the stores and the central
# stock of the products the routing function gives it (ADR 0014). They sign tokens with
# the same key (DATA_DIR/jwt-secret, or MAGASIN_JWT_SECRET if set) and their calls to each
# other with another (DATA_DIR/cluster-secret, or MAGASIN_CLUSTER_SECRET). HAProxy
# (haproxy/haproxy.cfg, haproxy/magasin.lua) sends each store's requests to its owner.
set -euo pipefail
cd "$(dirname "$0")/.."

instances=${INSTANCES:-3}
port=${PORT:-8080}
data_dir=${DATA_DIR:-data/cluster}
[[ "$instances" =~ ^[1-9][0-9]?$ ]] || { echo "INSTANCES must be 1 to 99" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "haproxy is not installed (apt-get install haproxy)" >&2; exit 2; }

if [[ -z "${MAGASIN_BIN:-}" ]]; then
    cargo build --release --locked --bin magasin
    MAGASIN_BIN=target/release/magasin
fi
mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)

# The secrets are readable by their owner only.
umask 077
if [[ -z "${MAGASIN_JWT_SECRET:-}" ]]; then
    [[ -s "$data_dir/jwt-secret" ]] || head -c 48 /dev/urandom | base64 >"$data_dir/jwt-secret"
    MAGASIN_JWT_SECRET=$(cat "$data_dir/jwt-secret")
fi
export MAGASIN_JWT_SECRET
if [[ -z "${MAGASIN_CLUSTER_SECRET:-}" ]]; then
    [[ -s "$data_dir/cluster-secret" ]] || head -c 48 /dev/urandom | base64 >"$data_dir/cluster-secret"
    MAGASIN_CLUSTER_SECRET=$(cat "$data_dir/cluster-secret")
fi
export MAGASIN_CLUSTER_SECRET
umask 022

names=()
for i in $(seq "$instances"); do names+=("magasin-$i"); done
list=$(printf '"%s",' "${names[@]}")
export MAGASIN_CLUSTER__INSTANCES="[${list%,}]"
addresses=$(for i in $(seq "$instances"); do printf 'magasin-%s="http://127.0.0.1:%s",' "$i" "$((port + i))"; done)
export MAGASIN_CLUSTER__ADDRESSES="{${addresses%,}}"
export MAGASIN_INSTANCES
MAGASIN_INSTANCES=$(IFS=,; echo "${names[*]}")

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo "cluster: stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -f "$data_dir"/*.pid
}
trap stop_all INT TERM EXIT

for i in $(seq "$instances"); do
    name="magasin-$i"
    MAGASIN_CLUSTER__INSTANCE="$name" "$MAGASIN_BIN" serve \
        --bind "127.0.0.1:$((port + i))" --data-dir "$data_dir/$name" &
    pids+=($!)
    echo $! >"$data_dir/$name.pid"
    export "MAGASIN_${i}_ADDR=127.0.0.1:$((port + i))"
done

# HAProxy starts once every instance is ready, so that its first health checks do not
# mark an instance still recovering as down (it would then wait for two good checks).
for _ in $(seq 600); do
    ready=0
    for i in $(seq "$instances"); do
        curl -fsS "http://127.0.0.1:$((port + i))/health/ready" >/dev/null 2>&1 && ready=$((ready + 1))
    done
    ((ready == instances)) && break
    sleep 0.1
done

# haproxy.cfg as shipped, its per-instance backends written for INSTANCES.
config="$data_dir/haproxy.cfg"
sed '/^backend any$/,$d' haproxy/haproxy.cfg >"$config"
{
    echo "backend any"
    echo "    balance roundrobin"
    echo "    option httpchk GET /health/ready"
    echo "    http-check expect status 200"
    for i in $(seq "$instances"); do
        echo "    server magasin-$i \"\$MAGASIN_${i}_ADDR\" check"
    done
    for i in $(seq "$instances"); do
        echo
        echo "backend magasin-$i"
        echo "    option httpchk GET /health/ready"
        echo "    http-check expect status 200"
        echo "    server magasin-$i \"\$MAGASIN_${i}_ADDR\" check"
    done
} >>"$config"

HAPROXY_CONFIG_DIR="$PWD/haproxy" HAPROXY_BIND="127.0.0.1:$port" \
    HAPROXY_STATS_BIND="127.0.0.1:$((port + 100))" \
    haproxy -db -f "$config" &
pids+=($!)
echo $! >"$data_dir/haproxy.pid"

# Ready when HAProxy answers and sees an instance up.
for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "cluster: ${instances} instances behind http://127.0.0.1:${port} (stats on http://127.0.0.1:$((port + 100))), data in ${data_dir}"
wait "${pids[@]}" || true
echo "cluster: every process exited" >&2
