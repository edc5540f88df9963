#!/usr/bin/env bash
# Checks the deployment kit without Docker or a cluster: docker-compose.yml and
# .gitlab-ci.yml against their published schemas, the Dockerfile's last stage, every
# Kubernetes manifest of deploy/k8s/ against the API schemas, and that every deployment
# says the same as scripts/cluster-local.sh and haproxy/haproxy.cfg (one HAProxy
# configuration, the same instance names and variables, readiness on /health/ready, a
# certificate where HAPROXY_TLS_CERT points, instances that trust HAProxy's address).
# One line per check; exits 1 when any fails. Usage: scripts/check-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The Kubernetes version the manifests are checked against: StatefulSet start ordinals
# are stable from 1.31 (beta, on by default, from 1.27).
k8s_version=1.31.0

# Tools from PyPI. Debian's Python refuses pip outside a virtual environment (PEP 668);
# this script runs in throwaway CI containers and on developers' machines alike.
missing=()
python3 -c "import check_jsonschema" >/dev/null 2>&1 || missing+=(check-jsonschema)
python3 -c "import kubernetes_validate" >/dev/null 2>&1 || missing+=(kubernetes-validate)
python3 -c "import dockerfile_parse" >/dev/null 2>&1 || missing+=(dockerfile-parse)
if ((${#missing[@]} > 0)); then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    python3 -m pip install --quiet "${missing[@]}" 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages "${missing[@]}"
fi

failures=0
ok() { echo "check-deploy: ok    $*"; }
failed() {
    echo "check-deploy: FAIL  $*" >&2
    failures=$((failures + 1))
}
# Runs a command quietly; on failure prints its output after the FAIL line.
run_check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok "$what"
    else
        failed "$what"
        while IFS= read -r line; do echo "    $line"; done <<<"$out" >&2
    fi
}

run_check "docker-compose.yml matches the Compose specification" \
    python3 -m check_jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
run_check ".gitlab-ci.yml matches GitLab's CI schema" \
    python3 -m check_jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml

# Every Kubernetes manifest, strictly (unknown fields fail). kustomization.yaml is
# kustomize's input, not a resource; the ConfigMap it generates is checked below.
manifests=()
for file in deploy/k8s/*.yaml; do
    [[ "$(basename "$file")" == kustomization.yaml ]] || manifests+=("$file")
done
for file in "${manifests[@]}"; do
    run_check "$file is valid Kubernetes $k8s_version" \
        python3 -m kubernetes_validate --strict --quiet -k "$k8s_version" "$file"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The rest reads the files themselves. Each check prints its own line.
python3 - "$work" <<'PY' || failures=$((failures + $?))
import fnmatch, glob, json, os, re, sys
import yaml
from dockerfile_parse import DockerfileParser

work = sys.argv[1]
failures = 0


def check(what, problems):
    """One line per check; `problems` lists what is wrong (empty: ok)."""
    global failures
    if problems:
        failures += 1
        print(f"check-deploy: FAIL  {what}", file=sys.stderr)
        for problem in problems:
            print(f"    {problem}", file=sys.stderr)
    else:
        print(f"check-deploy: ok    {what}")


def env_of(environment):
    """A Compose `environment`, as a mapping or as a list of NAME=value."""
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return dict(environment or {})


def k8s_env(container):
    return {e["name"]: e for e in container.get("env", [])}


def addresses_keys(value):
    """Instance names of a MAGASIN_CLUSTER__ADDRESSES value, `{name="url",...}`."""
    return re.findall(r'([A-Za-z0-9_.-]+)\s*=\s*"', value or "")


def differ(what, expected, found):
    return [] if expected == found else [f"{what}: expected {expected}, found {found}"]


# --- what the other deployments must agree with ------------------------------------------
haproxy_cfg = open("haproxy/haproxy.cfg").read()
# The instances' backends: those with servers (the `limit_*` backends hold stick tables).
sections = re.split(r"^(?=\S)", haproxy_cfg, flags=re.M)
backends = sorted(m.group(1) for part in sections
                  if (m := re.match(r"backend\s+(\S+)", part))
                  and m.group(1) != "any" and re.search(r"^\s+server\s", part, re.M))
addr_vars = sorted(set(re.findall(r"\$\{?(MAGASIN_\d+_ADDR)", haproxy_cfg)))
# Every variable haproxy.cfg reads, but those it gives a default (`presetenv`) or reads
# only when set (`.if defined(...)`): each deployment must set the others.
optional_vars = set(re.findall(r"^\s*presetenv\s+(\w+)", haproxy_cfg, re.M))
optional_vars |= set(re.findall(r"defined\((\w+)\)", haproxy_cfg))
haproxy_vars = sorted(set(re.findall(r"\$\{?(HAPROXY_[A-Z_]+|MAGASIN_[A-Z0-9_]+)", haproxy_cfg))
                      - optional_vars)
haproxy_vars += ["MAGASIN_INSTANCES"]  # read by magasin.lua
# The variables scripts/cluster-local.sh gives its instances: every MAGASIN_* it sets, but
# HAProxy's and MAGASIN_BIN (the script's own input). Every deployment gives the same.
cluster_local = open("scripts/cluster-local.sh").read()
cluster_keys = sorted(set(re.findall(r"(?:^|[\s\"'(])(MAGASIN_[A-Z0-9_]+)=", cluster_local, re.M))
                      - set(haproxy_vars) - {"MAGASIN_BIN"})
# The settings config/default.toml documents, as MAGASIN_SECTION__KEY.
settings, section = set(), None
for line in open("config/default.toml"):
    if m := re.match(r"^\[(\w+)\]", line):
        section = m.group(1)
    elif (m := re.match(r"^(\w+)\s*=", line)) and section:
        settings.add(f"MAGASIN_{section.upper()}__{m.group(1).upper()}")

expected = ["MAGASIN_CLUSTER_SECRET", "MAGASIN_CLUSTER__ADDRESSES", "MAGASIN_CLUSTER__INSTANCE",
            "MAGASIN_CLUSTER__INSTANCES", "MAGASIN_JWT_SECRET", "MAGASIN_SERVER__TRUSTED_PROXIES",
            "MAGASIN_AUDIT_KEY"]
check("scripts/cluster-local.sh gives its instances " + ", ".join(cluster_keys),
      [f"{key} is not set there" for key in expected if key not in cluster_keys])

# --- Dockerfile ----------------------------------------------------------------------------
parser = DockerfileParser(path="Dockerfile")
instructions = parser.structure
froms = [i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM"]
last_stage = instructions[froms[-1]:] if froms else []
users = [ins["value"].strip() for ins in last_stage if ins["instruction"] == "USER"]
user = users[-1].split(":")[0] if users else None
check(f"Dockerfile: the image runs as an unprivileged user (USER {users[-1] if users else '-'})",
      ["no USER in the last stage: the server would run as root"] if user is None else
      [f"USER {users[-1]} is root"] if user in ("root", "0") else [])
healthchecks = [ins["value"] for ins in last_stage if ins["instruction"] == "HEALTHCHECK"]
check("Dockerfile: the image has a HEALTHCHECK on /health/ready",
      ["no HEALTHCHECK in the last stage"] if not healthchecks else
      [] if "/health/ready" in healthchecks[-1] else
      [f"the HEALTHCHECK does not ask /health/ready: {healthchecks[-1]}"])

# What the build reads must be in the build context: .dockerignore leaves it out otherwise,
# and the image fails to build (or, for a bench's file, Cargo refuses the manifest).
ignored = [p.strip().rstrip("/") for p in open(".dockerignore")
           if p.strip() and not p.startswith("#")]


def in_context(path):
    parts = path.split("/")
    for pattern in ignored:
        if pattern.startswith("**/"):
            if fnmatch.fnmatch(parts[-1], pattern[3:]):
                return False
        elif any(fnmatch.fnmatch("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1)):
            return False
    return True


read = ["Cargo.toml", "Cargo.lock"]
read += [f"{m}/Cargo.toml" for m in re.findall(r'"([^"]+)"', re.search(
    r"members\s*=\s*\[([^]]*)\]", open("Cargo.toml").read()).group(1)) if m != "."]
read += [f"benches/{n}.rs" for n in re.findall(
    r'\[\[bench\]\]\s*name\s*=\s*"([^"]+)"', open("Cargo.toml").read())]
for source in glob.glob("src/**/*.rs", recursive=True) + glob.glob("loadtest/src/**/*.rs", recursive=True):
    read.append(source)
    text = open(source).read()
    read += [os.path.normpath(os.path.join(os.path.dirname(source), f))
             for f in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', text)]
    read += [os.path.normpath(f) for f in re.findall(r'#\[folder\s*=\s*"([^"]+)"\]', text)]
check(f"Dockerfile: the build context holds the {len(read)} files and folders the build reads "
      "(sources, embedded config/ and web/, bench targets)",
      [f"{f} is missing" for f in read if not os.path.exists(f)]
      + [f"{f} is left out by .dockerignore" for f in read if not in_context(f)])

# --- .gitlab-ci.yml ------------------------------------------------------------------------
ci = yaml.safe_load(open(".gitlab-ci.yml"))
named, problems = [], []
for job, body in ci.items():
    if not isinstance(body, dict):
        continue
    for key in ("before_script", "script", "after_script"):
        lines = body.get(key) or []
        for line in lines if isinstance(lines, list) else [lines]:
            for line in line if isinstance(line, list) else [line]:
                for script in re.findall(r"(?:^|[\s;&|(])(?:\./)?(scripts/[\w./-]+)", str(line)):
                    named.append(script)
                    if not os.path.isfile(script):
                        problems.append(f"{job}: {script} does not exist")
                    elif not os.access(script, os.X_OK):
                        problems.append(f"{job}: {script} is not executable")
check(f".gitlab-ci.yml: every script it runs exists and is executable ({', '.join(sorted(set(named))) or 'none'})",
      problems or ([] if named else ["no job runs a script of scripts/"]))

# --- docker-compose.yml --------------------------------------------------------------------
compose = yaml.safe_load(open("docker-compose.yml"))
services = compose.get("services", {})
instances = {name: s for name, s in services.items() if re.fullmatch(r"magasin-\d+", name)}
haproxy = services.get("haproxy", {})
haproxy_env = env_of(haproxy.get("environment"))

def mounts_of(service):
    """Target → source of a service's volumes (a source may be `${VAR:-default}`)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            m = re.match(r"^(.*?):(/[^:]*)(?::(?:ro|rw))?$", volume)
            source, target = (m.group(1), m.group(2)) if m else (volume, None)
        else:
            source, target = volume.get("source"), volume.get("target")
        mounts[target] = os.path.normpath(source) if source.startswith(".") else source
    return mounts


def interpolated(value):
    """A Compose value with each `${VAR:-default}` read as its default."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(value or ""))


problems = []
config_dir = haproxy_env.get("HAPROXY_CONFIG_DIR")
mounts = mounts_of(haproxy)
if mounts.get(config_dir) != "haproxy":
    problems.append(f"HAPROXY_CONFIG_DIR ({config_dir}) is not where ./haproxy is mounted ({mounts})")
command = haproxy.get("command") or []
command = command.split() if isinstance(command, str) else command
if f"{config_dir}/haproxy.cfg" not in command:
    problems.append(f"the command does not load {config_dir}/haproxy.cfg: {command}")
check("compose: HAProxy runs the shipped haproxy/haproxy.cfg and magasin.lua", problems)

# The certificate: HAPROXY_TLS_CERT in a directory mounted from what the `tls` service
# fills (or an operator's directory, MAGASIN_TLS_DIR, the same source).
problems = []
cert = haproxy_env.get("HAPROXY_TLS_CERT") or ""
cert_source = mounts.get(os.path.dirname(cert))
tls_service = services.get("tls", {})
tls_command = tls_service.get("command") or []
tls_mounts = mounts_of(tls_service)
if cert_source is None:
    problems.append(f"HAPROXY_TLS_CERT ({cert or '-'}) is not in a directory mounted into HAProxy")
elif cert_source not in tls_mounts.values():
    problems.append(f"the service tls does not fill {cert_source}, HAProxy's certificate directory")
else:
    tls_dir = next(t for t, s in tls_mounts.items() if s == cert_source)
    if tls_command[:2] != ["tls", "self-signed"] or tls_command[tls_command.index("--dir") + 1:][:1] != [tls_dir]:
        problems.append(f"the service tls does not run `tls self-signed --dir {tls_dir}`: {tls_command}")
    if os.path.basename(cert) != "haproxy.pem":
        problems.append(f"HAPROXY_TLS_CERT is not the haproxy.pem `magasin tls` writes: {cert}")
condition = ((haproxy.get("depends_on") or {}).get("tls") or {}).get("condition")
problems += differ("HAProxy waits for the service tls", "service_completed_successfully", condition)
check("compose: HAProxy's certificate comes from the one-shot service tls "
      "(or the directory MAGASIN_TLS_DIR gives)", problems)

check("compose: HAProxy gets every variable haproxy.cfg and magasin.lua read "
      f"({', '.join(haproxy_vars)})",
      [f"{var} is not set" for var in haproxy_vars if not haproxy_env.get(var)])

names = sorted(instances)
problems = differ("the instance services, against haproxy.cfg's backends", backends, names)
problems += differ("HAProxy's MAGASIN_INSTANCES", names,
                   sorted((haproxy_env.get("MAGASIN_INSTANCES") or "").split(",")))
problems += differ("the MAGASIN_N_ADDR of haproxy.cfg",
                   {f"MAGASIN_{i}_ADDR": f"magasin-{i}:8080" for i in range(1, len(names) + 1)},
                   {var: haproxy_env.get(var) for var in addr_vars})
for name, service in instances.items():
    env = env_of(service.get("environment"))
    problems += [f"{name}: {key} is not set" for key in cluster_keys if not env.get(key)]
    problems += differ(f"{name}: MAGASIN_CLUSTER__INSTANCE", name, env.get("MAGASIN_CLUSTER__INSTANCE"))
    try:
        listed = sorted(json.loads(env.get("MAGASIN_CLUSTER__INSTANCES") or "null") or [])
    except json.JSONDecodeError as e:
        listed = [f"unreadable: {e}"]
    problems += differ(f"{name}: MAGASIN_CLUSTER__INSTANCES", names, listed)
    problems += differ(f"{name}: the names of MAGASIN_CLUSTER__ADDRESSES", names,
                       sorted(addresses_keys(env.get("MAGASIN_CLUSTER__ADDRESSES"))))
    problems += [f"{name}: {key} is not a setting of config/default.toml" for key in env
                 if "__" in key and key not in settings]
check(f"compose: the instances ({', '.join(names)}) are named as HAProxy's backends and get "
      "the variables scripts/cluster-local.sh sets", problems)

problems = []
for name, service in instances.items():
    test = (service.get("healthcheck") or {}).get("test") or []
    test = " ".join(test) if isinstance(test, list) else test
    if "/health/ready" not in test:
        problems.append(f"{name}: the healthcheck does not ask /health/ready: {test!r}")
    if not any(str(v).endswith(":/var/lib/magasin") for v in service.get("volumes", [])):
        problems.append(f"{name}: no volume on /var/lib/magasin")
check("compose: every instance is checked on /health/ready and keeps its data in a volume",
      problems)

problems = []
networks = haproxy.get("networks") or {}
haproxy_address = interpolated(((networks.get("default") or {}) if isinstance(networks, dict) else {})
                               .get("ipv4_address"))
if not haproxy_address:
    problems.append("HAProxy has no fixed ipv4_address on the default network")
for name, service in instances.items():
    trusted = interpolated(env_of(service.get("environment")).get("MAGASIN_SERVER__TRUSTED_PROXIES"))
    try:
        trusted = json.loads(trusted or "null") or []
    except json.JSONDecodeError as e:
        trusted = [f"unreadable: {e}"]
    problems += differ(f"{name}: MAGASIN_SERVER__TRUSTED_PROXIES", [haproxy_address], trusted)
check(f"compose: the instances believe X-Forwarded-For from HAProxy's address alone "
      f"({haproxy_address or '-'})", problems)

# --- deploy/k8s ----------------------------------------------------------------------------
kustomization = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
docs = {}
for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    if os.path.basename(path) != "kustomization.yaml":
        for doc in yaml.safe_load_all(open(path)):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = (path, doc)

listed = kustomization.get("resources", [])
problems = [f"{r} does not exist" for r in listed if not os.path.isfile(f"deploy/k8s/{r}")]
problems += [f"{os.path.basename(p)} is not listed" for p in {p for p, _ in docs.values()}
             if os.path.basename(p) not in listed and not p.endswith(".example.yaml")]
check("k8s: kustomization.yaml lists every manifest (templates *.example.yaml apart)", problems)

# The ConfigMap kustomize generates, built the same way and checked as the others.
problems, generated = [], []
for generator in kustomization.get("configMapGenerator", []):
    data = {}
    for source in generator.get("files", []):
        key, _, path = source.rpartition("=")
        path = os.path.normpath(os.path.join("deploy/k8s", path))
        if not os.path.isfile(path):
            problems.append(f"{generator['name']}: {path} does not exist")
            continue
        data[key or os.path.basename(path)] = open(path).read()
    generated.append({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": generator["name"],
                                   "namespace": kustomization.get("namespace", "default")},
                      "data": data})
haproxy_sources = {os.path.normpath(os.path.join("deploy/k8s", f.rpartition("=")[2]))
                   for g in kustomization.get("configMapGenerator", []) if g["name"] == "haproxy"
                   for f in g.get("files", [])}
problems += differ("the files of ConfigMap haproxy",
                   {"haproxy/haproxy.cfg", "haproxy/magasin.lua"}, haproxy_sources)
check("k8s: the haproxy ConfigMap is generated from haproxy/haproxy.cfg and haproxy/magasin.lua",
      problems)
with open(os.path.join(work, "generated-configmaps.yaml"), "w") as out:
    yaml.safe_dump_all(generated, out)

sts = docs.get(("StatefulSet", "magasin"), (None, None))[1]
deployment = docs.get(("Deployment", "haproxy"), (None, None))[1]
if sts is None or deployment is None:
    check("k8s: the StatefulSet magasin and the Deployment haproxy exist",
          ["StatefulSet magasin missing"] * (sts is None) + ["Deployment haproxy missing"] * (deployment is None))
    sys.exit(failures)

pod = deployment["spec"]["template"]["spec"]
container = pod["containers"][0]
env = {k: e.get("value") for k, e in k8s_env(container).items()}
config_dir = env.get("HAPROXY_CONFIG_DIR")
volumes = {v["name"]: v for v in pod.get("volumes", [])}
mounted = {m["mountPath"]: volumes.get(m["name"], {}).get("configMap", {}).get("name")
           for m in container.get("volumeMounts", [])}
problems = []
if mounted.get(config_dir) != "haproxy":
    problems.append(f"HAPROXY_CONFIG_DIR ({config_dir}) does not hold ConfigMap haproxy ({mounted})")
if f"{config_dir}/haproxy.cfg" not in container.get("args", []) + container.get("command", []):
    problems.append(f"HAProxy is not started on {config_dir}/haproxy.cfg")
problems += [f"{var} is not set" for var in haproxy_vars if not env.get(var)]
check("k8s: HAProxy runs the generated ConfigMap with every variable it reads", problems)

# The certificate: a kubernetes.io/tls Secret, its chain where HAPROXY_TLS_CERT points and
# its key beside it (HAPROXY_TLS_CERT.key), readable by HAProxy's group.
problems = []
cert = env.get("HAPROXY_TLS_CERT") or ""
secret = next((volumes.get(m["name"], {}).get("secret") for m in container.get("volumeMounts", [])
               if m["mountPath"] == os.path.dirname(cert)), None)
if not secret:
    problems.append(f"HAPROXY_TLS_CERT ({cert or '-'}) is not in a directory mounted from a Secret")
else:
    items = {i["key"]: i["path"] for i in secret.get("items", [])}
    name = os.path.basename(cert)
    problems += differ("the Secret's files", {"tls.crt": name, "tls.key": f"{name}.key"}, items)
    if pod.get("securityContext", {}).get("fsGroup") is None:
        problems.append("no fsGroup: HAProxy's user cannot read the Secret's key")
check("k8s: HAProxy's certificate is a kubernetes.io/tls Secret mounted where "
      "HAPROXY_TLS_CERT points", problems)

spec = sts["spec"]
start = spec.get("ordinals", {}).get("start", 0)
pods = [f"{sts['metadata']['name']}-{i}" for i in range(start, start + spec["replicas"])]
magasin = spec["template"]["spec"]["containers"][0]
menv = k8s_env(magasin)
problems = differ("the StatefulSet's pod names, against haproxy.cfg's backends", backends, pods)
problems += differ("HAProxy's MAGASIN_INSTANCES", pods, sorted((env.get("MAGASIN_INSTANCES") or "").split(",")))
problems += differ("the MAGASIN_N_ADDR of haproxy.cfg",
                   {f"MAGASIN_{i}_ADDR": f"{name}:8080" for i, name in enumerate(pods, 1)},
                   {var: env.get(var) for var in addr_vars})
problems += [f"no Service {name} for HAProxy's server" for name in pods if ("Service", name) not in docs]
problems += [f"{key} is not set" for key in cluster_keys if key not in menv]
field = menv.get("MAGASIN_CLUSTER__INSTANCE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
problems += differ("MAGASIN_CLUSTER__INSTANCE comes from", "metadata.name", field)
problems += differ("MAGASIN_CLUSTER__INSTANCES", pods,
                   sorted(json.loads(menv.get("MAGASIN_CLUSTER__INSTANCES", {}).get("value") or "[]")))
problems += differ("the names of MAGASIN_CLUSTER__ADDRESSES", pods,
                   sorted(addresses_keys(menv.get("MAGASIN_CLUSTER__ADDRESSES", {}).get("value"))))
problems += [f"{key} is not a setting of config/default.toml" for key in menv
             if "__" in key and key not in settings]
check(f"k8s: pods, instances and HAProxy's backends share the names {', '.join(pods)}; the "
      "instances get the variables scripts/cluster-local.sh sets", problems)

ready = (magasin.get("readinessProbe") or {}).get("httpGet", {}).get("path")
problems = differ("readinessProbe path", "/health/ready", ready)
context = spec["template"]["spec"].get("securityContext", {})
problems += [] if context.get("runAsNonRoot") else ["runAsNonRoot is not set"]
problems += differ("terminationGracePeriodSeconds", 30,
                   spec["template"]["spec"].get("terminationGracePeriodSeconds"))
check("k8s: the instances are ready on /health/ready, run as non-root, stop within 30 s",
      problems)
sys.exit(min(failures, 100))
PY

run_check "the ConfigMaps kustomization.yaml generates are valid Kubernetes $k8s_version" \
    python3 -m kubernetes_validate --strict --quiet -k "$k8s_version" "$work/generated-configmaps.yaml"

if ((failures > 0)); then
    echo "check-deploy: $failures check(s) failed" >&2
    exit 1
fi
echo "check-deploy: every check passed"
