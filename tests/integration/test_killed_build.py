"""Issue 23: a build killed outright mid-training (SIGKILL, as the OOM killer does) leaves nothing behind:
no pool worker, no forkserver, no resource tracker. Reads the process tree from /proc (Linux)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process tree from /proc")]

WORKERS_WITHIN_S = 45      # the smoke build starts its first training units after a few seconds
GONE_WITHIN_S = 15


def processes() -> dict[tuple[int, int], tuple[int, str]]:
    """Every process now: (pid, start time) -> (parent pid, state). The start time tells a reused pid apart."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue                                  # ended while we looked
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
        out[(int(entry.name), int(fields[19]))] = (int(fields[1]), fields[0])
    return out


def descendants(root: int) -> set[tuple[int, int]]:
    procs = processes()
    children: dict[int, list[tuple[int, int]]] = {}
    for key, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(key)
    found, todo = set(), [root]
    while todo:
        for key in children.get(todo.pop(), []):
            found.add(key)
            todo.append(key[0])
    return found


def alive(keys: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Those still running: a zombie (Z) or dead (X) process has ended, it only waits to be reaped."""
    procs = processes()
    return {k for k in keys if k in procs and procs[k][1] not in ("Z", "X")}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def test_a_killed_build_leaves_no_process_behind(tmp_path):
    env = {**os.environ, "BUBBLELENS_CACHE": str(tmp_path / "cache"), "SOURCE_DATE_EPOCH": "1796515200"}
    log = tmp_path / "build.log"
    seen: set[tuple[int, int]] = set()
    with open(log, "wb") as out:
        build = subprocess.Popen([sys.executable, "-m", "bubblelens", "build", "--profile", "smoke",
                                  "--out", str(tmp_path / "out"), "--device", "cpu", "--executor", "pool",
                                  "--jobs", "2"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WORKERS_WITHIN_S
        while True:                       # until a pool worker (a process the build's child started) runs
            assert build.poll() is None, f"the build ended (exit {build.returncode}) before any worker ran:\n" \
                                         f"{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no worker within {WORKERS_WITHIN_S} s:\n{log.read_text()[-3000:]}"
            seen |= descendants(build.pid)
            procs = processes()
            if any(procs.get(k, (build.pid,))[0] != build.pid for k in seen):
                break
            time.sleep(0.2)
        time.sleep(2)                     # let the workers get into their units (torch imported, training)
        seen |= descendants(build.pid)
        workers = [k for k in seen if processes().get(k, (build.pid,))[0] != build.pid]
        assert workers, "the pool workers ended before the build could be killed"

        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=10)

        deadline = time.monotonic() + GONE_WITHIN_S
        while (left := alive(seen)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, (f"{len(left)} of the killed build's {len(seen)} processes still run "
                          f"{GONE_WITHIN_S} s later:\n" + "\n".join(f"  {pid}: {cmdline(pid)}" for pid, _ in left))
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        for pid, _ in alive(seen):        # never leave the processes of a failed run behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
