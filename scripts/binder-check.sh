#!/usr/bin/env bash
# Run chapters the way mybinder.org does, on this machine:
#   scripts/binder-check.sh            # all chapters
#   scripts/binder-check.sh 05 07      # some
#   scripts/binder-check.sh --build-only
# 1) an environment built as repo2docker builds it from binder/ (runtime.txt: Python 3.11):
#    repo2docker's own base environment (JupyterLab 4, Notebook 7, jupyter_server 2, ipywidgets 8,
#    jupyter-resource-usage), then `pip install -r binder/requirements.txt` into the same
#    environment. One difference: PyTorch's index (the --extra-index-url line) may not be
#    reachable, so the same CPU wheel is installed from /opt/wheels first and the file is
#    installed without its index line and its torch line (scripts/binder_requirements.py);
#    pip here also sees this machine's pip.conf (local wheel folders, a torch cap), which
#    holds the same releases as PyPI. Not installed: jupyterhub-singleuser and
#    jupyter-offlinenotebook (of the base environment; nothing a chapter uses).
# 2) a copy of the working tree as HOME (/home/jovyan on Binder, where repo2docker puts the
#    repository), and binder/postBuild run there with the venv first on PATH, as repo2docker runs it;
# 3) the JupyterLab setting that opens .md chapters as notebooks, read back three ways
#    (jupytext-config, the overrides file in `jupyter --config-dir`, a JupyterLab server's
#    settings API); fails unless markdown maps to the "Jupytext Notebook" factory;
# 4) each committed chapters/NN-*.ipynb executed from the copy's chapters/ (where Binder opens
#    it) by nbclient in the venv's kernel (scripts/binder_run.py): a watchdog kills the kernel
#    when the resident set of the kernel and its children passes 2 GB (mybinder.org's limit),
#    and the kernel's own getrusage peak is printed from an extra last cell.
# Environment: BINDER_VENV (default /tmp/kexue-binder-venv, reused; BINDER_FRESH=1 recreates it),
# BINDER_RECORD=1 writes book/run_paths/binder.json (one chapter entry per run),
# BINDER_LIMIT_BYTES (default 2000000000), BINDER_THREADS (default 1: thread count of the
# kernel's math libraries; Binder sets none), BINDER_KEEP=1 keeps the work folder.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${BINDER_VENV:-/tmp/kexue-binder-venv}
limit=${BINDER_LIMIT_BYTES:-2000000000}
threads=${BINDER_THREADS:-1}
build_only=0
if [ "${1:-}" = --build-only ]; then build_only=1; shift; fi
if [ $# -gt 0 ]; then chapters=("$@"); else
  chapters=(); for f in "$repo"/chapters/[0-9][0-9]-*.ipynb; do n=$(basename "$f"); chapters+=("${n%%-*}"); done
fi
for nn in "${chapters[@]}"; do
  ls "$repo"/chapters/${nn}-*.ipynb >/dev/null 2>&1 || { echo "no chapters/${nn}-*.ipynb" >&2; exit 2; }
done
if [ -n "$(git -C "$repo" status --porcelain -- binder chapters src pyproject.toml)" ]; then
  echo "note: uncommitted changes in binder/, chapters/, src/ or pyproject.toml are included (Binder builds a commit)" >&2
fi

# ---- 1) the environment -------------------------------------------------------------------
runtime=$(tr -d '[:space:]' < "$repo/binder/runtime.txt")
pyver=${runtime#python-}
[ "$pyver" = 3.11 ] || { echo "binder/runtime.txt asks for $runtime; this script builds python3.11" >&2; exit 2; }
if [ "${BINDER_FRESH:-0}" = 1 ] && [ -d "$venv" ]; then
  [ -f "$venv/pyvenv.cfg" ] || { echo "$venv is not a venv; not removing it" >&2; exit 2; }
  echo "== removing $venv"; rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv (python$pyver)"
  "python$pyver" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
# pip install, without the warnings about this machine's empty local index folders
pipi() { "$venv/bin/pip" install "$@" 2>&1 | { grep -v 'is neither a file nor a directory' || true; }; }
tmp=$(mktemp -d /tmp/kexue-binder-XXXXXX)
[ "${BINDER_KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
echo "== repo2docker's base environment (JupyterLab 4, Notebook 7)"
pipi -q "jupyterlab==4.*" "notebook==7.*" "jupyter_server==2.*" "ipywidgets==8.*" \
  "jupyter-resource-usage==1.*"
torch_pin=$("$venv/bin/python" "$repo/scripts/binder_requirements.py" --torch "$repo/binder/requirements.txt")
wheel=$(ls /opt/wheels/torch-${torch_pin}-cp311-cp311-*.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || { echo "no wheel for torch==$torch_pin in /opt/wheels" >&2; exit 2; }
echo "== torch==$torch_pin from $(basename "$wheel") (in place of download.pytorch.org/whl/cpu)"
pipi -q "$wheel"
"$venv/bin/python" "$repo/scripts/binder_requirements.py" "$repo/binder/requirements.txt" "$tmp/requirements.txt"
echo "== pip install -r binder/requirements.txt (without the index and torch lines)"
pipi -q -r "$tmp/requirements.txt"
got=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("torch"))')
[ "$got" = "$torch_pin" ] || { echo "torch $got installed, binder/requirements.txt pins $torch_pin" >&2; exit 1; }

# ---- 2) the repository as Binder's HOME, and postBuild ---------------------------------------
home=$tmp/home/jovyan
mkdir -p "$home"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$home"
chmod +x "$home/binder/postBuild"
# a clean user environment: none of this machine's Jupyter, IPython, book or kernel settings
unset JUPYTER_CONFIG_DIR JUPYTER_DATA_DIR JUPYTER_PATH JUPYTER_CONFIG_PATH JUPYTER_RUNTIME_DIR \
  JUPYTER_PLATFORM_DIRS IPYTHONDIR PYTHONPATH VIRTUAL_ENV PYTHONHASHSEED KERAS_BACKEND MPLBACKEND \
  XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME HF_HUB_OFFLINE TF_CPP_MIN_LOG_LEVEL TF_ENABLE_ONEDNN_OPTS \
  KEXUE_PROGRESS KEXUE_HOME KEXUE_REPO KEXUE_REF PIP_USER
export HOME=$home USER=jovyan NB_USER=jovyan REPO_DIR=$home NB_PYTHON_PREFIX=$venv
export PATH=$venv/bin:$PATH
echo "== binder/postBuild (in $home)"
(cd "$home" && ./binder/postBuild) 2>&1 | { grep -v -E "is neither a file nor a directory|^ +━" || true; }

# ---- 3) JupyterLab opens .md as a notebook ---------------------------------------------------
echo "== default viewer for .md"
(cd "$home" && jupytext-config list-default-viewer) | sed 's/^/   jupytext-config: /'
cfg_dir=$(jupyter --config-dir)
"$venv/bin/python" "$repo/scripts/binder_lab.py" "$cfg_dir" "$home"

# ---- 4) the chapters ----------------------------------------------------------------------
"$venv/bin/python" - <<'PY'
import platform
from importlib.metadata import version
names = ["torch", "tensorflow-cpu", "keras", "numpy", "jupyterlab", "notebook", "jupytext", "kexue"]
print("== versions: python " + platform.python_version() + ", " + ", ".join(f"{n} {version(n)}" for n in names))
PY
[ "$build_only" = 1 ] && { echo "binder-check: environment built ($venv)"; exit 0; }
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
  TF_NUM_INTRAOP_THREADS=$threads TF_NUM_INTEROP_THREADS=$threads
mkdir -p "$tmp/out"
fails=0
summary=()
for nn in "${chapters[@]}"; do
  nb=$(ls "$home"/chapters/${nn}-*.ipynb | head -1)
  echo "== $nn: executing chapters/$(basename "$nb") in $home/chapters (limit $limit bytes)"
  rc=0
  (cd "$home/chapters" && "$venv/bin/python" "$repo/scripts/binder_run.py" "$nb" "$tmp/out/$(basename "$nb")" "$limit" \
    "$tmp/out/$nn.json") || rc=$?
  result=$(cat "$tmp/out/$nn.json" 2>/dev/null || true)
  [ -n "$result" ] || result='{"status": "failed", "seconds": null, "watchdog_peak_mb": null, "peak_rss_mb": null, "error": "no result"}'
  [ "$rc" = 0 ] || fails=$((fails + 1))
  summary+=("$nn $result")
  if [ "${BINDER_RECORD:-0}" = 1 ]; then
    "$venv/bin/python" - "$repo/book/run_paths/binder.json" "$nn" "$result" <<'PY'
import json, platform, sys
from importlib.metadata import version
from pathlib import Path
from kexue.results import run_info
path, nn, result = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
data = json.loads(path.read_text()) if path.exists() else {}
data["path"] = "binder"
data["label"] = "Binder (repo2docker, Python 3.11, 2 GB)"
data["versions"] = {"python": platform.python_version(), "torch": version("torch"),
                    "tensorflow": version("tensorflow-cpu"), "keras": version("keras"),
                    "numpy": version("numpy"), "scipy": version("scipy"),
                    "scikit-learn": version("scikit-learn"), "matplotlib": version("matplotlib"),
                    "jupyterlab": version("jupyterlab"), "notebook": version("notebook"),
                    "jupytext": version("jupytext"), "kexue": version("kexue")}
data["run_info"] = run_info("scripts/binder-check.sh", [nn], result["seconds"] or 0.0)
chapters = data.setdefault("chapters", {})
chapters[nn] = {"status": result["status"], "seconds": result["seconds"],
                "peak_rss_mb": result["peak_rss_mb"], "watchdog_peak_mb": result["watchdog_peak_mb"]}
data["chapters"] = dict(sorted(chapters.items()))
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
print(f"   recorded {nn} in {path}")
PY
  fi
done
echo "== binder-check summary (limit $limit bytes)"
"$venv/bin/python" - "${summary[@]}" <<'PY'
import json, sys
for item in sys.argv[1:]:
    nn, r = item.split(" ", 1)
    r = json.loads(r)
    line = (f"   {nn}: {r['status']}, {r['seconds']} s, watchdog peak {r['watchdog_peak_mb']} MB,"
            f" ru_maxrss {r['peak_rss_mb']} MB, Colab cell inert: {r.get('colab_cell_inert')}")
    print(line + (f" ({r['error']})" if r.get("error") else ""))
PY
[ "$fails" = 0 ] || { echo "binder-check: $fails chapter(s) failed" >&2; exit 1; }
echo "binder-check: passed"
