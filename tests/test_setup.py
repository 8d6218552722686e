"""The README's setup works as written: `make lab` as root and headless, commands that run outside the venv."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "jupyter").exists(), reason="needs the .venv that make creates")
def test_make_lab_starts_headless_with_args_even_as_root(tmp_path):
    """`make lab ARGS=...` passes the options on and starts as root (Jupyter refuses root without --allow-root)."""
    port = _free_port()
    args = f"--no-browser --port={port} --ServerApp.port_retries=0 --ServerApp.token=dmlibtest"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    # -o: do not rebuild the venv from inside a test (the stamp may be older than an edited pyproject.toml).
    proc = subprocess.Popen(["make", "-s", "-o", ".venv/.installed", "lab", f"ARGS={args}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if f":{port}/lab" in line:
                break
        assert proc.poll() is None, "make lab exited:\n" + "".join(seen[-20:])
        assert any(f":{port}/lab" in line for line in seen), "JupyterLab did not start:\n" + "".join(seen[-20:])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _shell_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_commands_work_outside_the_venv():
    """A bare `python -m dmlib` only works inside an activated venv; the README says `.venv/bin/python`."""
    bare = [line for line in _shell_lines() if re.search(r"(^|[\s;&|])python3? -m dmlib", line)]
    assert not bare, f"README commands that need an activated venv: {bare}"
    assert any(".venv/bin/python -m dmlib" in line for line in _shell_lines())


def test_readme_conda_path_activates_the_environment():
    conda = [line for line in README.splitlines() if "conda env create" in line]
    assert conda and all("conda activate dmlib" in line for line in conda), conda


def test_readme_warns_that_make_run_rewrites_the_committed_files():
    text = " ".join(README.split())
    assert re.search(r"`make run`[^.]*rewrites[^.]*notebooks[^.]*results/", text), (
        "the README must say, where it introduces `make run`, that it rewrites notebooks and results/")


def test_makefile_passes_lab_args():
    out = subprocess.run(["make", "-n", "-o", ".venv/.installed", "lab", "ARGS=--no-browser --port 8890"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--no-browser --port 8890" in out
    assert ("--allow-root" in out) == (os.geteuid() == 0)
