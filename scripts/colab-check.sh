#!/usr/bin/env bash
# Run one chapter the way Colab does, on this machine:
#   scripts/colab-check.sh 05
# 1) an environment like Colab's: a venv under /tmp with torch 2.13 (CPU), and TensorFlow and
#    Keras at versions other than the book's pins (Colab's own lag the newest releases);
#    a stand-in `google.colab` module that every kernel imports at start, as on Colab;
# 2) the committed notebook chapters/NN-*.ipynb (what the Colab button opens), copied to a
#    folder outside the repository and executed there; its first cell fetches the book from
#    this clone (KEXUE_REPO, at KEXUE_REF = the current branch, so commit first), installs
#    the package and the data packages, and changes into the chapter's folder.
# COLAB_CHECK_PINNED=1 (CI): the book's pinned .venv instead of a new venv, so that an upstream
# release cannot break CI; the cell's pip installs go to a throwaway layer, never into .venv.
# COLAB_VENV (default /tmp/kexue-colab-venv) is reused when it exists; remove it for a fresh one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
nn=${1:?usage: scripts/colab-check.sh NN}
nb_src=$(ls "$repo"/chapters/${nn}-*.ipynb 2>/dev/null | head -1)
[ -n "$nb_src" ] || { echo "no chapters/${nn}-*.ipynb: run scripts/sync-notebooks.sh" >&2; exit 2; }
COLAB_TF=${COLAB_TF:-2.20.0}
COLAB_KERAS=${COLAB_KERAS:-3.11.3}
work=$(mktemp -d /tmp/kexue-colab-XXXXXX)
export KEXUE_REPO=$repo
export KEXUE_REF=${KEXUE_REF:-$(git -C "$repo" rev-parse --abbrev-ref HEAD)}
export KEXUE_HOME=$work/content/kexue-book
export IPYTHONDIR=$work/ipython
export MPLBACKEND=agg
unset PYTHONPATH KEXUE_PROGRESS PYTHONHASHSEED
if [ -n "$(git -C "$repo" status --porcelain -- src chapters experiments/results pyproject.toml)" ]; then
  echo "note: uncommitted changes in src/, chapters/ or experiments/results are not seen (the notebook fetches $KEXUE_REF)" >&2
fi

# the stand-in google.colab: a package on the kernel's path, imported at kernel start-up
mkdir -p "$work/colab_stub/google/colab" "$IPYTHONDIR/profile_default/startup"
echo '"""Stand-in for Colab'"'"'s google.colab (scripts/colab-check.sh)."""' > "$work/colab_stub/google/colab/__init__.py"
cat > "$IPYTHONDIR/profile_default/startup/00-colab.py" <<PY
import sys
sys.path.append("$work/colab_stub")
import google.colab  # noqa: F401  (as on Colab, where the runtime imports it)
PY

if [ "${COLAB_CHECK_PINNED:-0}" = 1 ]; then
  # a throwaway venv layered over .venv: it sees every pinned package, and pip inside the
  # kernel installs into the throwaway layer (found first), never into .venv
  "$repo/.venv/bin/python" -m venv --without-pip "$work/venv"
  book_site=$("$repo/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  layer_site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "import site; site.addsitedir('$book_site')" > "$layer_site/zz_book_venv.pth"
  py=$work/venv/bin/python
else
  venv=${COLAB_VENV:-/tmp/kexue-colab-venv}
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv (torch 2.13 CPU, tensorflow $COLAB_TF, keras $COLAB_KERAS)"
    python3.11 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
    "$venv/bin/pip" install -q "tensorflow==$COLAB_TF" "keras==$COLAB_KERAS" \
      scipy scikit-learn matplotlib tqdm pandas ipykernel nbclient
  fi
  py=$venv/bin/python
fi
"$py" - <<'PY'
from importlib.metadata import PackageNotFoundError, version
def v(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None
tf = v("tensorflow") or v("tensorflow-cpu")
print(f"== frameworks: torch {v('torch')}, tensorflow {tf}, keras {v('keras')}, numpy {v('numpy')}")
PY

mkdir -p "$work/content"
nb=$work/content/$(basename "$nb_src")
cp "$nb_src" "$nb"
echo "== executing $(basename "$nb") in $work/content (book fetched from $KEXUE_REPO at $KEXUE_REF)"
cd "$work/content"
start=$(date +%s)
"$py" - "$nb" <<'PY'
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
# one extra last cell: the kernel's peak resident set (as scripts/peak-memory.sh measures it)
nb.cells.append(nbformat.v4.new_code_cell(
    "import resource\nprint('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"))
client = NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": "."}})
try:
    client.execute()
finally:
    nbformat.write(nb, path)
kb = int("".join(o.get("text", "") for o in nb.cells[-1].outputs).split("PEAK_RSS_KB")[1].split()[0])
print(f"kernel peak RSS {kb / 1e6:.2f} GB")
PY
echo "colab-check $nn: passed in $(( $(date +%s) - start )) s (notebook: $nb)"
