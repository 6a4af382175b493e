#!/usr/bin/env bash
# Build the HTML book into _build/html (warnings are errors): the chapters execute first, two at a
# time, into the notebook cache the build reads; unchanged chapters are served from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
. scripts/env.sh
# MathJax is served from the book itself: copy it out of the pinned django-static-mathjax package.
mj=$(python -c 'import importlib.util, pathlib; s = importlib.util.find_spec("mathjax"); print(pathlib.Path(list(s.submodule_search_locations)[0], "static", "mathjax", "es5"))')
[ -f "$mj/tex-chtml.js" ] || { echo "MathJax not found at $mj: run scripts/setup-venv.sh" >&2; exit 1; }
rm -rf _build/html book/_static/mathjax && mkdir -p book/_static && cp -r "$mj" book/_static/mathjax
# execute the chapters two at a time into the notebook cache the build reads (scripts/execute_chapters.py)
python scripts/execute_chapters.py
# tables generated from the executed chapters and the recorded runs (see scripts/pages/README.md)
rm -rf book/_generated && mkdir -p book/_generated
for g in scripts/pages/*.py; do [ -e "$g" ] && python "$g" book/_generated; done
jupyter-book build . --builder html -W --keep-going "$@"
# the executed notebooks (with their outputs) for nbval's second execution to compare against
python scripts/execute_chapters.py --export _build/jupyter_execute/chapters
echo "book: $(pwd)/_build/html/index.html"
