#!/usr/bin/env bash
# Fails when the code breaks the layering (a module uses one it may not: the import rules
# below, the dependency rows of ARCHITECTURE.md), or when the architecture documents name a
# file, a type or a route that no longer exists in the code, so neither can drift.
#
# Usage: scripts/check-architecture.sh [--self-test]
#   --self-test  also plants an upward import in a copy of the sources (persistence used
#                from reports, then from domain) and fails unless each is caught.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - "$@" <<'PY'
import pathlib, re, shutil, sys, tempfile

# Which module of ours each module may `use`: DESIGN.md section 2, and ARCHITECTURE.md's
# "depends on" column, which must say the same. A path `module::item` allows that item only.
# The composition root (lib.rs, main.rs, wiring.rs, config.rs — the settings of every
# layer —, bootstrap.rs, demo.rs, compaction.rs, recovery.rs) may use anything; nothing may use it.
MAY_USE = {
    "domain": set(),
    "persistence": {"domain"},
    "auth": {"domain"},
    "reports": {"domain"},
    "actors": {"domain", "persistence"},
    "cluster": {"domain", "actors", "reports", "request_id",
                "persistence::codec"},
    "http": {"domain", "actors", "reports", "auth", "cluster", "metrics", "request_id",
             "webhooks"},
    "metrics": {"domain", "persistence"},
    "request_id": set(),
    # TLS material: certificates read or made, for the composition root to serve with.
    "tls": set(),
    "webhooks": {"domain", "persistence", "reports", "actors"},
}
ROOT = {"lib", "main", "wiring", "config", "bootstrap", "demo", "compaction", "recovery"}

def module_of(path, src):
    rel = path.relative_to(src)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem

def uses(text):
    """Every `crate::a::b` path of the code (comments left out), grouped imports expanded."""
    code = "\n".join(line.split("//")[0] for line in text.split("\n"))
    for m in re.finditer(r"\bcrate::(\{[^}]*\}|[a-z_]+(?:::[A-Za-z_]+)?)", code):
        target = m.group(1)
        if target.startswith("{"):
            for part in target.strip("{}").split(","):
                part = part.strip()
                if part:
                    yield "::".join(part.split("::")[:2])
        else:
            yield target

def layering(src):
    problems = []
    for path in sorted(src.rglob("*.rs")):
        module = module_of(path, src)
        if module in ROOT:
            continue
        allowed = MAY_USE.get(module)
        if allowed is None:
            problems.append(f"{path}: module {module} has no row in the import rules")
            continue
        for target in sorted(set(uses(path.read_text()))):
            top = target.split("::")[0]
            if top == module or top in ("self", "super"):
                continue
            if top in allowed or target in allowed:
                continue
            problems.append(f"{path}: {module} may not use crate::{target}")
    return problems

def self_test():
    for victim in ("reports", "domain"):
        with tempfile.TemporaryDirectory() as tmp:
            copy = pathlib.Path(tmp) / "src"
            shutil.copytree("src", copy)
            planted = copy / victim / "mod.rs"
            planted.write_text("use crate::persistence::Journal;\n" + planted.read_text())
            caught = layering(copy)
            if not any(f"{victim} may not use crate::persistence" in c for c in caught):
                sys.exit(f"self-test: a `use crate::persistence` planted in src/{victim}/ was not caught")
            print(f"self-test: a `use crate::persistence` planted in src/{victim}/ is caught:")
            for c in caught:
                print("  " + c.replace(str(copy), "src"))

problems = layering(pathlib.Path("src"))
if problems:
    sys.exit("layering broken (scripts/check-architecture.sh):\n  " + "\n  ".join(problems))
print("layering: every `use crate::…` follows the import rules")
if "--self-test" in sys.argv[1:]:
    self_test()
PY

python3 - <<'PY'
import pathlib, re, sys

docs = [pathlib.Path("ARCHITECTURE.md"), *sorted(pathlib.Path("docs/architecture").glob("*.md"))]
source = "\n".join(p.read_text() for p in pathlib.Path("src").rglob("*.rs"))

routes = set()
for path in pathlib.Path("src/http").glob("*.rs"):
    prefix = "" if path.name in ("ops.rs", "openapi.rs", "ui.rs") else "/api/v1"
    for m in re.finditer(r'#\[(?:get|post|put|patch|delete)\("([^"]+)"', path.read_text()):
        routes.add(prefix + m.group(1))

problems = []
checked = 0
for doc in docs:
    text = doc.read_text()
    # Every `src/...`, `tests/...`, `deploy/...`, `config/...` path named in the text.
    for path in set(re.findall(r"(?<![\w/.])((?:src|tests|deploy|config|scripts)/[\w./-]+)", text)):
        checked += 1
        if not pathlib.Path(path.rstrip(".")).exists():
            problems.append(f"{doc}: {path} does not exist")
    # Every backticked CamelCase name: a type, trait or enum of the code.
    for name in set(re.findall(r"`([A-Z][A-Za-z0-9]+)(?:::[a-z_]+)?`", text)):
        checked += 1
        if not re.search(rf"\b(?:struct|enum|trait|type)\s+{name}\b", source):
            problems.append(f"{doc}: type {name} is not defined in src/")
    # Every route written out.
    for route in set(re.findall(r"(/api/v1/[\w{}/-]+|/health/\w+|/metrics)\b", text)):
        checked += 1
        patterns = [re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(r)) for r in routes]
        served = any(re.fullmatch(p, route) for p in patterns) or any(r.startswith(route + "/") for r in routes)
        if not served:
            problems.append(f"{doc}: route {route} is not served")

if problems:
    sys.exit("architecture documents out of date:\n  " + "\n  ".join(sorted(problems)))
print(f"architecture documents: {checked} references checked, all present")
PY
