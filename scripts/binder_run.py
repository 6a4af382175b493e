"""Execute one committed chapter notebook as Binder would, under Binder's memory limit.

Run by scripts/binder-check.sh with the Binder venv's Python, from the copy's ``chapters/``:

    python binder_run.py NOTEBOOK OUT_NOTEBOOK LIMIT_BYTES [RESULT_JSON]

A watchdog thread samples the resident set of the kernel process and all its descendants every
0.2 s and kills the kernel above LIMIT_BYTES (mybinder.org's limit is 2 GB). Prints one line
``BINDER_RESULT {json}`` with status, seconds, the watchdog's peak and the kernel's own
getrusage ru_maxrss (from one extra last cell, as scripts/peak-memory.sh measures it), and
writes the same JSON to RESULT_JSON when given.
"""
import json
import os
import signal
import sys
import threading
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

try:
    import psutil
except ImportError:  # pragma: no cover - the Binder venv has it (jupyter-resource-usage)
    psutil = None

INTERVAL = 0.2
LAST_CELL = ("import os, resource, sys\n"
             "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
             "print('COLAB_MODULE', 'google.colab' in sys.modules)\n"
             "print('CWD', os.getcwd())\n"
             "print('EXECUTABLE', sys.executable)")


def _proc_rss(pid: int) -> int:
    """VmRSS of one process in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _proc_children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _proc_rss(p)
        todo += _proc_children(p)
    return total


class Watchdog(threading.Thread):
    def __init__(self, pid: int, limit: int):
        super().__init__(daemon=True)
        self.pid, self.limit = pid, limit
        self.peak, self.killed = 0, False
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            rss = tree_rss(self.pid)
            self.peak = max(self.peak, rss)
            if rss > self.limit:
                self.killed = True
                # the whole kernel process group, as the container's OOM kill would end it
                try:
                    pgid = os.getpgid(self.pid)
                    if pgid != os.getpgid(0):  # never our own group
                        os.killpg(pgid, signal.SIGKILL)
                    else:
                        os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
                return
            self.done.wait(INTERVAL)


def main(src: str, dst: str, limit: int, result_path: str | None = None) -> int:
    nb = nbformat.read(src, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(LAST_CELL))
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": os.getcwd()}})
    dog = {}

    def start_watchdog(**_):
        pid = client.km.provisioner.process.pid
        dog["w"] = Watchdog(pid, limit)
        dog["w"].start()

    client.on_notebook_start = start_watchdog
    status, error = "passed", None
    start = time.perf_counter()
    try:
        client.execute()
    except DeadKernelError as e:
        status, error = "failed", f"kernel died: {e}"[:300]
    except CellExecutionError as e:
        status, error = "failed", str(e).strip().splitlines()[-1][:300] if str(e).strip() else "cell error"
    except Exception as e:  # a timeout or a start-up failure
        status, error = "failed", f"{type(e).__name__}: {e}"[:300]
    finally:
        seconds = time.perf_counter() - start
        if "w" in dog:
            dog["w"].done.set()
            dog["w"].join(2)
        nbformat.write(nb, dst)
    w = dog.get("w")
    if w is not None and w.killed:
        status, error = "killed", f"kernel resident set above {limit / 1e9:.1f} GB"
    text = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []) if o.get("output_type") == "stream")
    fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    # the hidden Colab set-up cell (first code cell) must do nothing here: no output, no
    # google.colab, no change of folder
    first = next(c for c in nb.cells if c.cell_type == "code")
    colab_cell_inert = (not first.get("outputs") and fields.get("COLAB_MODULE") == "False"
                        and fields.get("CWD") == os.getcwd()) if "PEAK_RSS_KB" in fields else None
    if status == "passed" and colab_cell_inert is not True:
        status, error = "failed", "the hidden Colab set-up cell acted (output, google.colab or a change of folder)"
    if status == "passed" and fields.get("EXECUTABLE") != sys.executable:
        status, error = "failed", f"the kernel ran {fields.get('EXECUTABLE')}, not {sys.executable}"
    result = {
        "status": status,
        "seconds": round(seconds, 1),
        "watchdog_peak_mb": round(w.peak / 1e6, 1) if w else None,
        "peak_rss_mb": round(int(fields["PEAK_RSS_KB"]) / 1000, 1) if "PEAK_RSS_KB" in fields else None,
        "colab_cell_inert": colab_cell_inert,
        "kernel_python": fields.get("EXECUTABLE"),
        "rss_sampler": "psutil" if psutil is not None else "/proc",
        "error": error,
    }
    print("BINDER_RESULT " + json.dumps(result), flush=True)
    if result_path:
        with open(result_path, "w") as f:
            json.dump(result, f)
    return 0 if status == "passed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(float(sys.argv[3])), *sys.argv[4:5]))
