#!/usr/bin/env bash
# Peak memory of one chapter, measured the same way each time:
#   scripts/peak-memory.sh 06
# The chapter is converted with jupytext and executed once by nbclient in chapters/ (as the
# book build does), with one extra last cell that prints the kernel's own peak resident set
# size (getrusage ru_maxrss, the high-water mark of the process that runs the chapter).
# Prints "peak-memory NN: X.XX GB (kernel peak RSS), T s"; GB here = 10^6 kB of ru_maxrss
# (Linux's kB, i.e. KiB), the unit /usr/bin/time -f %M reports, divided by 10^6.
# PEAK_MEMORY_LIMIT_GB (default 1.5): exit 1 above it.
# PEAK_MEMORY_TRACE=1: also print the kernel's RSS and peak after every cell (to find the cell).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
nn=${1:?usage: scripts/peak-memory.sh NN}
src=$(ls chapters/${nn}-*.md)
out=_build/peak_memory
mkdir -p "$out"
python - "$src" "$out/${nn}.ipynb" "$nn" "${PEAK_MEMORY_LIMIT_GB:-1.5}" <<'PY'
import os, sys, time
import jupytext, nbformat
from nbclient import NotebookClient

src, dst, nn, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
nb = jupytext.read(src)
nb.cells.append(nbformat.v4.new_code_cell(
    "import resource\nprint('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"))
# a failing cell does not stop the measurement (the rest of the chapter still runs), but
# it is reported and makes the script fail
client = NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=True,
                        resources={"metadata": {"path": "chapters"}})
if os.environ.get("PEAK_MEMORY_TRACE") == "1":
    def trace(cell, cell_index, **_):
        status = open(f"/proc/{client.km.provisioner.process.pid}/status").read()
        kb = {k: int(v.split()[0]) for k, v in (l.split(":", 1) for l in status.splitlines()) if k in ("VmRSS", "VmHWM")}
        first = cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""
        print(f"  cell {cell_index:3d}: rss {kb['VmRSS'] / 1e6:.2f} GB, peak {kb['VmHWM'] / 1e6:.2f} GB  {first}", flush=True)
    client.on_cell_executed = trace
start = time.perf_counter()
try:
    client.execute()
finally:
    nbformat.write(nb, dst)
seconds = time.perf_counter() - start
text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
kb = int(text.split("PEAK_RSS_KB")[1].split()[0])
gb = kb / 1e6
errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
          and "raises-exception" not in c.metadata.get("tags", [])  # errors the chapter shows
          and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
for i in errors:
    err = next(o for o in nb.cells[i].outputs if o.get("output_type") == "error")
    print(f"  error in cell {i}: {err['ename']}: {err['evalue'][:200]}")
print(f"peak-memory {nn}: {gb:.2f} GB (kernel peak RSS), {seconds:.0f} s"
      + (f"; {len(errors)} cell(s) failed" if errors else ""))
sys.exit(0 if gb <= limit and not errors else 1)
PY
