#!/usr/bin/env bash
# Fails when the architecture documents name a file, a type or a route that no longer
# exists in the code, so the documents cannot silently drift from it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import pathlib, re, sys

docs = [pathlib.Path("ARCHITECTURE.md"), *sorted(pathlib.Path("docs/architecture").glob("*.md"))]
source = "\n".join(p.read_text() for p in pathlib.Path("src").rglob("*.rs"))

routes = set()
for path in pathlib.Path("src/http").glob("*.rs"):
    prefix = "" if path.name in ("ops.rs", "openapi.rs", "ui.rs") else "/api/v1"
    for m in re.finditer(r'#\[(?:get|post|put|delete)\("([^"]+)"\)\]', path.read_text()):
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
