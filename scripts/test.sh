#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: creates .venv, installs the project with its
# test extras, installs PostgreSQL and Chromium from Debian packages when missing, starts a throw-away
# PostgreSQL server for the storage and API tests, runs pytest, stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
need_pkgs=()
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || need_pkgs+=(postgresql)
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# A throw-away PostgreSQL on a free loopback port.
PG_DIR=$(mktemp -d)
PG_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = "0" ]; then chown postgres "$PG_DIR"; fi
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" \
  -l "$PG_DIR/log" -w start >/dev/null
stop_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
trap stop_pg EXIT
export LEADML_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"

# Dependency audit of the installed set. pip-audit asks the package index's JSON API about each
# installed version; where only a simple-index mirror is reachable, every package comes back
# "not found" and nothing is audited: then say so and go on; a found vulnerability fails the run.
audit_json=$(mktemp)
if .venv/bin/pip-audit --progress-spinner off --local --skip-editable --format json --output "$audit_json" 2>/dev/null; then
  audit_rc=0
else
  audit_rc=$?
fi
.venv/bin/python - "$audit_json" "$audit_rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    report = json.load(open(path))
except (OSError, ValueError):
    print("pip-audit: no report (the vulnerability service could not be reached); dependency audit skipped")
    sys.exit(0)
deps = report.get("dependencies", [])
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if d.get("skip_reason")]
for dep in vulnerable:
    print(f"pip-audit: {dep['name']} {dep['version']}: " + ", ".join(v["id"] for v in dep["vulns"]))
if vulnerable:
    sys.exit(1)
if deps and len(skipped) == len(deps):
    print(f"pip-audit: none of the {len(deps)} installed packages could be looked up (index without a JSON API); "
          "dependency audit skipped")
else:
    print(f"pip-audit: {len(deps) - len(skipped)} packages audited, no known vulnerabilities")
PY
rm -f "$audit_json"

# The browser tests save their screenshots here (git-ignored).
export LEADML_TEST_ARTIFACTS="${LEADML_TEST_ARTIFACTS:-$PWD/artifacts}"

.venv/bin/python -m pytest "$@"
