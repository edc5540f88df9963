#!/usr/bin/env bash
# A local magasin cluster without Docker: HAProxy in front of INSTANCES magasin processes on
# loopback, in the foreground. Ctrl-C or SIGTERM stops them all; started again on the same
# DATA_DIR, every instance recovers its journal.
#
#   INSTANCES  how many instances (default 3), named magasin-1, magasin-2, …
#   PORT       where HAProxy serves HTTPS (default 8443); instance i listens on PORT+i
#              (plain HTTP, loopback only), the HAProxy stats page on PORT+100, and plain
#              HTTP on PORT+101 answers with a redirect to HTTPS
#   DATA_DIR   data of every instance and the pid files (default data/cluster):
#              DATA_DIR/magasin-i/ (journal), DATA_DIR/magasin-i.pid, DATA_DIR/haproxy.pid
#   TLS_CERT   HAProxy's certificate: a PEM file with the chain and the key. Without it, a
#              self-signed one is made once in DATA_DIR/tls (`magasin tls self-signed`) and
#              kept; clients trust DATA_DIR/tls/ca.pem (curl --cacert …)
#   HAPROXY_RATE_LOGINS, HAPROXY_RATE_WRITES, HAPROXY_RATE_READS
#              the edge's request rates per client address (logins a minute, writes and
#              reads per 10 s; defaults in haproxy/haproxy.cfg)
#   MAGASIN_BIN  the server binary (default: built with `cargo build --release`)
#
# The instances share the demo chain: one owns the reference data (catalog, stores, users)
# and the others follow its change feed (ADR 0015); each owns the stores and the central
# stock of the products the routing function gives it (ADR 0014). They sign tokens with
# the same key (DATA_DIR/jwt-secret, or MAGASIN_JWT_SECRET if set) and their calls to each
# other with another (DATA_DIR/cluster-secret, or MAGASIN_CLUSTER_SECRET). HAProxy
# (haproxy/haproxy.cfg, haproxy/magasin.lua) ends TLS, limits each client address and
# sends each store's requests to its owner; it connects to the instances from 127.0.0.1,
# the one proxy they believe about the client's address (ADR 0025, 0026).
set -euo pipefail
cd "$(dirname "$0")/.."

instances=${INSTANCES:-3}
port=${PORT:-8443}
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
# The Z reports' signing key (ADR 0027): every instance signs with the same one.
if [[ -z "${MAGASIN_AUDIT_KEY:-}" ]]; then
    [[ -s "$data_dir/audit-key" ]] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$data_dir/audit-key"
    MAGASIN_AUDIT_KEY=$(cat "$data_dir/audit-key")
fi
export MAGASIN_AUDIT_KEY
if [[ -z "${MAGASIN_CLUSTER_SECRET:-}" ]]; then
    [[ -s "$data_dir/cluster-secret" ]] || head -c 48 /dev/urandom | base64 >"$data_dir/cluster-secret"
    MAGASIN_CLUSTER_SECRET=$(cat "$data_dir/cluster-secret")
fi
export MAGASIN_CLUSTER_SECRET
umask 022

# HAProxy's certificate: the one given, or a self-signed one made once and kept.
if [[ -n "${TLS_CERT:-}" ]]; then
    [[ -r "$TLS_CERT" ]] || { echo "TLS_CERT=$TLS_CERT is not a readable file" >&2; exit 2; }
    tls_cert=$(cd "$(dirname "$TLS_CERT")" && pwd)/$(basename "$TLS_CERT")
else
    "$MAGASIN_BIN" tls self-signed --dir "$data_dir/tls" >/dev/null
    tls_cert="$data_dir/tls/haproxy.pem"
    echo "cluster: no TLS_CERT given: HAProxy serves the self-signed certificate of $data_dir/tls; clients trust $data_dir/tls/ca.pem"
fi

# The instances believe X-Forwarded-For from HAProxy alone, which reaches them from here.
export MAGASIN_SERVER__TRUSTED_PROXIES='["127.0.0.1"]'

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
    HAPROXY_HTTP_BIND="127.0.0.1:$((port + 101))" HAPROXY_HTTPS_PORT="$port" \
    HAPROXY_TLS_CERT="$tls_cert" HAPROXY_STATS_BIND="127.0.0.1:$((port + 100))" \
    haproxy -db -f "$config" &
pids+=($!)
echo $! >"$data_dir/haproxy.pid"

# Ready when HAProxy answers and sees an instance up (the certificate is not checked
# here: a given one need not name 127.0.0.1).
for _ in $(seq 300); do
    curl -fsSk "https://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "cluster: ${instances} instances behind https://127.0.0.1:${port} (plain HTTP on http://127.0.0.1:$((port + 101)) redirects there; stats on http://127.0.0.1:$((port + 100))), data in ${data_dir}"
wait "${pids[@]}" || true
echo "cluster: every process exited" >&2
