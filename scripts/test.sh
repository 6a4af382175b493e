#!/usr/bin/env bash
# Run every test: unit tests, the book build (executes each chapter, warnings as errors),
# every chapter again under nbval in strict mode (outputs must match the build's), every
# chapter once more with the CPU kernels capped at a lower instruction set (it must run to the
# end with all its checks passing), the PDF beside one chapter run as on Colab, and checks on the
# built HTML. Chapters run two at a time,
# one thread each; the closing table (also in _build/timings.json) gives each one's times.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
. scripts/env.sh
t0=$(date +%s)
stage() { echo "== $* [at $(( $(date +%s) - t0 )) s]"; }   # each step with the time elapsed so far
stage "unit tests"
python -m pytest -q -p no:cacheprovider -n 2 tests --ignore=tests/book
stage "book build (executes every chapter whose code or inputs changed, two at a time)"
rm -rf _build/jupyter_execute
scripts/build-book.sh
stage "chapters under nbval (second execution, outputs compared with the build's)"
python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile -p tests.nbval_plugin --nbval \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900 $(ls -r _build/jupyter_execute/chapters/*.ipynb)   # longest (last) first
stage "chapters with the CPU kernels capped at a lower instruction set (third execution)"
python scripts/execute_chapters.py --pass isa
# the PDF (one core) and the Colab-style chapter (one core) side by side
pdf_pid=
if command -v xelatex >/dev/null; then
  stage "PDF (whole book, from the build's notebook cache; log in _build/pdf.log), in the background"
  bash scripts/build-pdf.sh > _build/pdf.log 2>&1 & pdf_pid=$!
  trap '[ -n "$pdf_pid" ] && kill "$pdf_pid" 2>/dev/null || true' EXIT
else echo "== PDF: skipped (no TeX Live; to build it: sudo apt-get install texlive-xetex texlive-fonts-recommended texlive-lang-chinese texlive-latex-extra latexmk fonts-noto-cjk fonts-freefont-otf fonts-dejavu-core poppler-utils)"; fi
stage "one chapter as Colab runs it (its hidden first cell installs the book from this clone; pinned frameworks)"
if why=$(python scripts/index_reachable.py); then
  COLAB_CHECK_PINNED=1 scripts/colab-check.sh 04
else
  echo "skipped: its set-up cell installs the data packages from the package index, and $why"
fi
if [ -n "$pdf_pid" ]; then
  stage "PDF: waiting for the background build"
  if ! wait "$pdf_pid"; then pdf_pid=; cat _build/pdf.log; echo "PDF build failed (log above)"; exit 1; fi
  pdf_pid=; tail -n 2 _build/pdf.log
fi
stage "built book"
python -m pytest -q -p no:cacheprovider tests/book
stage "per-chapter timings (seconds; peak resident memory in MB)"
python scripts/execute_chapters.py --table
echo "all tests passed in $(( $(date +%s) - t0 )) s (after installation)"
