#!/usr/bin/env bash
# Run every test: unit tests, the book build (executes each chapter, warnings as errors),
# every chapter again under nbval in strict mode (outputs must match the build's),
# and checks on the built HTML.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
. scripts/env.sh
t0=$(date +%s)
echo "== unit tests"
python -m pytest -q -p no:cacheprovider tests --ignore=tests/book
echo "== book build (executes every chapter)"
rm -rf _build/results _build/jupyter_execute
scripts/build-book.sh
echo "== chapters under nbval (second execution, outputs compared)"
python -m pytest -q -p no:cacheprovider -p kexue.nbval_plugin --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --nbval-cell-timeout=900 _build/jupyter_execute/chapters/*.ipynb
echo "== built book"
python -m pytest -q -p no:cacheprovider tests/book
echo "all tests passed in $(( $(date +%s) - t0 )) s (after installation)"
