"""pipeline/lifeline.py: a worker exits once its build's lifeline pipe closes; a process whose parent is not
the expected one (it died before the death signal was armed) exits at once. The end-to-end check, a killed
smoke build, is tests/integration/test_killed_build.py."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest

from bubblelens.pipeline.lifeline import ORPHAN_EXIT, Lifeline, die_with_build, set_death_signal

LINUX = sys.platform.startswith("linux")


def _wait_forever(end) -> None:
    import time

    die_with_build(end)
    time.sleep(60)


def test_a_worker_exits_when_its_build_closes_the_lifeline():
    context = multiprocessing.get_context("spawn")
    lifeline = Lifeline(context)
    worker = context.Process(target=_wait_forever, args=(lifeline.end,), daemon=True)
    worker.start()
    try:
        worker.join(timeout=1)
        assert worker.is_alive()                 # holds on while the build's end is open
        lifeline.close()                         # as the kernel does when the build dies
        worker.join(timeout=20)
        assert worker.exitcode == ORPHAN_EXIT
    finally:
        if worker.is_alive():
            worker.kill()


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux only")
@pytest.mark.parametrize("expected, code", [("os.getppid()", 0), ("os.getppid() + 1", ORPHAN_EXIT)])
def test_die_with_parent_exits_unless_the_parent_is_the_expected_one(expected, code):
    script = f"import os; from bubblelens.pipeline.lifeline import die_with_parent; assert die_with_parent({expected})"
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == code


def test_no_death_signal_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert set_death_signal() is False
    assert os.getppid()                          # nothing happened to this process
