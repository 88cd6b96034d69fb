"""One cold smoke build for every integration test file, built once per test session, and the helpers the
files share (running the CLI as a user does, reading a PDF's text).

Why once: the cold build takes about two minutes, and pytest-xdist (README's test command, `--dist
loadfile`) runs each test file whole on one worker. The build-and-rebuild tests are split over two files so
that the two workers share them (issue 25: CI time); with a module fixture each, both workers would build
the same thing. The first file to need it builds it under a lock in the directory every worker's
temporary paths share; each file then works on its own copy of the outputs and the cache, because its tests
rebuild into them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock
from pypdf import PdfReader

SOURCE_DATE_EPOCH = "1796515200"          # 2026-12-06, as tests/conftest.py
DONE = "build-finished.json"              # written last: a build that failed leaves no copy to trust


def run_cli(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "bubblelens", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def shared_build(shared_root: Path) -> Path:
    """The session's cold smoke build under `shared_root` (built by whichever worker asks first; the others
    wait on the lock and then find it). Returns its directory, holding `out/`, `cache/` and DONE."""
    master = shared_root / "smoke-master"
    with FileLock(str(shared_root / "smoke-master.lock")):
        if not (master / DONE).is_file():
            shutil.rmtree(master, ignore_errors=True)          # what a failed attempt left
            env = {"BUBBLELENS_CACHE": str(master / "cache"), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
            proc = run_cli("build", "--profile", "smoke", "--out", str(master / "out"), "--device", "cpu",
                           env=env, check=True)
            (master / DONE).write_text(proc.stdout)
    return master


def private_copy(master: Path, root: Path) -> dict:
    """A copy of the shared build's outputs and cache under `root`, for one test file to rebuild into.
    The build key (pipeline/unchanged.py) names neither the output nor the cache directory, so an unchanged
    rebuild of the copy stops at once as it would in the original."""
    shutil.copytree(master / "out", root / "out")
    shutil.copytree(master / "cache", root / "cache")
    env = {"BUBBLELENS_CACHE": str(root / "cache"), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    summary = json.loads((master / DONE).read_text())
    return {"root": root, "env": env, "out": root / "out", "summary": summary,
            "manifest": json.loads((root / "out" / "manifest.json").read_text())}
