#!/usr/bin/env bash
# Runs the demo on a fresh Debian machine: creates .venv, installs leadml, creates ./var/leadml.db
# with a demo tenant (its API key is printed), a scoring config and 5,000 synthetic leads, trains
# the models, then serves the API and the ML Insights page on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/leadml demo "$@"
