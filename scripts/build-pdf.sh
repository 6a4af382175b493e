#!/usr/bin/env bash
# Build the whole book as one PDF, _build/latex/kexue-book.pdf (XeLaTeX; the Chinese text with
# xeCJK and Noto CJK SC), from the notebook cache that `make book` filled: no chapter is executed
# here. The PDF is also copied to _build/html/kexue-book.pdf, where the HTML pages link it.
# Needs TeX Live with XeLaTeX and the fonts (scripts/install-tex.sh installs them; as root this
# script runs it when XeLaTeX is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
APT="apt-get install texlive-xetex texlive-fonts-recommended texlive-lang-chinese texlive-latex-extra latexmk fonts-noto-cjk fonts-freefont-otf fonts-dejavu-core poppler-utils"
if [ ! -d _build/.jupyter_cache ] || [ ! -x .venv/bin/jupyter-book ]; then
  echo "build-pdf: no executed book (_build/.jupyter_cache): run make book first" >&2
  exit 2
fi
have_tex() {
  command -v xelatex >/dev/null && command -v latexmk >/dev/null &&
    fc-list -q "Noto Serif CJK SC" && fc-list -q "Noto Sans Mono CJK SC" && fc-list -q FreeSerif && fc-list -q "DejaVu Sans Mono"
}
if ! have_tex; then
  if [ "$(id -u)" = 0 ]; then
    scripts/install-tex.sh
  else
    echo "build-pdf: XeLaTeX or its fonts are missing; install them with: sudo $APT" >&2
    exit 2
  fi
fi
. scripts/env.sh
# every chapter must be served from the cache (the build must not execute one): the cache holds an
# execution of each chapter's current code, made with the current src/kexue and requirements
python - <<'EOF' || { echo "build-pdf: the notebook cache does not match the chapters or src/kexue: run make book first" >&2; exit 2; }
import sys
sys.path.insert(0, "scripts")
import execute_chapters as E
from jupyter_cache import get_cache

stamp = E.CACHE / "kexue-inputs.key"
stale = [] if stamp.is_file() and stamp.read_text() == E.inputs_key() else ["src/kexue, recorded results or requirements"]
cache = get_cache(str(E.CACHE))
for p in E.chapters([]):
    try:
        cache.match_cache_notebook(E.read_notebook(p))
    except KeyError:
        stale.append(p.name)
if stale:
    print("build-pdf: not in the notebook cache: " + ", ".join(stale), file=sys.stderr)
    sys.exit(1)
EOF
t0=$(date +%s)
# the generated tables, as scripts/build-book.sh makes them (they read the same cache)
rm -rf book/_generated && mkdir -p book/_generated
for g in scripts/pages/*.py; do [ -e "$g" ] && python "$g" book/_generated; done
rm -rf _build/latex
log=_build/pdf-build.log
# LaTeX stops at the first error instead of waiting for input
export LATEXMKOPTS="-silent -interaction=nonstopmode -halt-on-error"
set +e
jupyter-book build . --builder pdflatex -W --keep-going 2>&1 | tee "$log"   # warnings are errors, as for the HTML
rc=${PIPESTATUS[0]}
set -e
if grep -q "Executed notebook\|Executing notebook" "$log"; then
  echo "build-pdf: a chapter was executed during the PDF build (see $log)" >&2
  exit 1
fi
pdf=_build/latex/kexue-book.pdf
if [ "$rc" != 0 ] || [ ! -s "$pdf" ]; then
  echo "build-pdf: failed (see $log and _build/latex/kexue-book.log)" >&2
  exit 1
fi
[ -d _build/html ] && cp "$pdf" _build/html/kexue-book.pdf
pages=$(pdfinfo "$pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
echo "pdf: $(pwd)/$pdf (${pages:-?} pages, $(( $(date +%s) - t0 )) s)"
