#!/usr/bin/env bash
# `make bench`: runs scripts/bench.py with the oracle venv's Python.
set -euo pipefail
VENV=${VENV:-$HOME/.cache/mlmf/venv}
exec "$VENV/bin/python" scripts/bench.py "$@"
