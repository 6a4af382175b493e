#!/usr/bin/env bash
# Create (or reuse) .venv with the book's pinned environment and the kexue package.
# Re-installs only when requirements*.txt or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then PY=$cand; break; fi
  done
fi
[ -n "$PY" ] || { echo "setup-venv: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.kexue-installed
want=$(cat requirements.txt requirements-nodeps.txt requirements-lock.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup-venv: installing the pinned environment into .venv (a few minutes the first time)"
  links=(); [ -d /opt/wheels ] && links=(--find-links /opt/wheels)
  .venv/bin/python -m pip install -q --disable-pip-version-check "${links[@]}" -r requirements.txt -c requirements-lock.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi
