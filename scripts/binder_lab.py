"""Check that JupyterLab in the Binder environment opens ``.md`` chapters as notebooks.

Run by scripts/binder-check.sh with the Binder venv's Python, after binder/postBuild:

    python binder_lab.py CONFIG_DIR HOME

Three readings must agree that the ``markdown`` file type (``.md``) opens with the
"Jupytext Notebook" factory:
1. the overrides file that ``jupytext-config set-default-viewer`` writes,
   CONFIG_DIR/labconfig/default_setting_overrides.json;
2. a JupyterLab server started in HOME, asked for the document manager's settings through its
   REST API (the defaults it serves include the overrides from every Jupyter config path);
3. the jupytext lab extension is installed and defines that factory, and jupytext's server
   extension (which opens text files as notebooks) is enabled.
"""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PLUGIN = "@jupyterlab/docmanager-extension:plugin"
FACTORY = "Jupytext Notebook"
FILE_TYPE = "markdown"  # JupyterLab's file type for .md


def overrides_file(config_dir: str) -> dict:
    path = Path(config_dir) / "labconfig" / "default_setting_overrides.json"
    if not path.exists():
        raise SystemExit(f"binder-check: no {path} (binder/postBuild's jupytext-config did not write it)")
    viewers = json.loads(path.read_text()).get(PLUGIN, {}).get("defaultViewers", {})
    print(f"   {path}: defaultViewers = {json.dumps(viewers)}")
    return viewers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_setting(home: str) -> dict:
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:  # Binder runs as jovyan; a root shell needs this
        cmd.append("--allow-root")
    log = open(Path(home).parent / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                req = urllib.request.Request(f"{base}/lab/api/settings/{PLUGIN}",
                                             headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=5) as r:
                    data = json.load(r)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"binder-check: jupyter lab exited ({log.name})")
                time.sleep(0.5)
        else:
            raise SystemExit(f"binder-check: jupyter lab did not answer ({log.name})")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    viewers = data["schema"]["properties"]["defaultViewers"].get("default", {})
    user = json.loads(data.get("raw") or "{}") if isinstance(data.get("raw"), str) else {}
    print(f"   JupyterLab {base}/lab/api/settings/{PLUGIN}: defaultViewers default = {json.dumps(viewers)}"
          + (f", user setting = {json.dumps(user.get('defaultViewers'))}" if user.get("defaultViewers") else ""))
    # a user setting would win over the default; there must be none that says otherwise
    return {**viewers, **(user.get("defaultViewers") or {})}


def extensions() -> list[str]:
    problems = []
    lab = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"], capture_output=True, text=True)
    lab_text = lab.stdout + lab.stderr
    lab_text = re.sub(r"\x1b\[[0-9;]*m", "", lab_text)  # colour codes
    line = next((l.strip() for l in lab_text.splitlines() if l.strip().startswith("jupyterlab-jupytext")), None)
    print(f"   jupyter labextension list: {line}")
    if not line or "enabled" not in line or "OK" not in line:
        problems.append("the jupytext lab extension is not installed and enabled")
    static = Path(sys.prefix, "share", "jupyter", "labextensions", "jupyterlab-jupytext", "static")
    if not any(FACTORY in p.read_text(errors="ignore") for p in static.glob("*.js")):
        problems.append(f"no {FACTORY!r} factory in {static}")
    srv = subprocess.run([sys.executable, "-m", "jupyter_server.extension.serverextension", "list"],
                         capture_output=True, text=True)
    srv_text = re.sub(r"\x1b\[[0-9;]*m", "", srv.stdout + srv.stderr)
    line = next((l.strip() for l in srv_text.splitlines() if "jupytext" in l), None)
    print(f"   jupyter server extension list: {line}")
    if not line or "enabled" not in line:
        problems.append("jupytext's server extension is not enabled")
    return problems


def main(config_dir: str, home: str) -> int:
    problems = []
    for where, viewers in (("overrides file", overrides_file(config_dir)), ("JupyterLab server", served_setting(home))):
        if viewers.get(FILE_TYPE) != FACTORY:
            problems.append(f"{where}: {FILE_TYPE} opens with {viewers.get(FILE_TYPE)!r}, not {FACTORY!r}")
    problems += extensions()
    for p in problems:
        print(f"binder-check: {p}", file=sys.stderr)
    if not problems:
        print(f"   .md ({FILE_TYPE}) opens as {FACTORY!r}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
