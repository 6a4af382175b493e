#!/usr/bin/env bash
# Execute one chapter the way the test suite does, without building the book:
#   scripts/run_chapter.sh 03
# 1) jupytext -> ipynb under _build/chapter_runs/chapters/, executed once (timed);
# 2) nbval --nbval (strict) re-executes it and compares outputs, masking tests/nbval_sanitize.cfg.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh     # the kernels' environment, one thread each, as in the build
nn=$1
src=$(ls chapters/${nn}-*.md)
out=_build/chapter_runs/chapters
mkdir -p "$out"
nb="$out/$(basename "${src%.md}").ipynb"
jupytext --quiet --to ipynb --output "$nb" "$src"
start=$(date +%s.%N)
jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=900 "$nb" 2>&1 | grep -v '^\[NbConvertApp\]' || true
end=$(date +%s.%N)
python - "$nb" "$start" "$end" <<'PY'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
errs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
stderr = [o["text"][:300] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("name") == "stderr"]
print(f"executed {sys.argv[1]} in {float(sys.argv[3]) - float(sys.argv[2]):.1f} s; errors: {len(errs)}; stderr outputs: {len(stderr)}")
for s in stderr: print("  stderr:", s.replace("\n", " | "))
PY
if [ "${NBVAL:-1}" = 1 ]; then
  python -m pytest -q -p no:cacheprovider -p tests.nbval_plugin --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg "$nb"
fi
