"""Draw a build's charts in several processes at once: matplotlib holds the GIL, so threads would not help.

A cold build drew its 23 charts one after another in one process (about 7 s of a 50 s smoke build on 2
cores) while the other core idled. `draw_all` forks one child per extra process after every chart has
been planned (charts/reuse.py queues the draws it could not take from the cache), so the children inherit
each draw with everything it closes over, with nothing pickled; each process draws every n-th chart and
writes its image file atomically, and the children leave with `os._exit`, running none of the build's
exit handlers.

A child touches nothing the build's other threads may hold locked at the fork: its logging is off and it
writes to the process's original stdout and stderr, not to the progress display's console (the caller
also stops that display first). Whatever goes wrong in a child costs only time: a child that fails, or
is still drawing `deadline_s` after it was forked (then killed), has its charts drawn again here, which
raises what they raise with the usual traceback; a fork that fails leaves its charts to this process.
Where there is no `os.fork` (Windows), or one process is asked for (`--executor serial`, `--jobs 1`), the
charts are drawn here in order.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Callable

LOGGER = logging.getLogger(__name__)

Draw = Callable[[], None]
DEADLINE_S = 600.0        # a chart takes seconds; a child still drawing after this is taken to be stuck


def _run_child(draws: list[Draw]) -> None:
    """In a forked child: draw, then leave without the parent's exit handlers or buffered output."""
    code = 1
    try:
        logging.disable(logging.CRITICAL)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        for draw in draws:
            draw()
        code = 0
    except BaseException:  # noqa: BLE001 - the parent draws these again and raises what they raise
        pass
    finally:
        os._exit(code)


def _succeeded(pid: int, deadline: float) -> bool:
    """Reap child `pid`: whether it exited cleanly by `deadline` (time.monotonic); killed if still running."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return False
        time.sleep(0.01)


def draw_all(draws: list[Draw], processes: int, deadline_s: float = DEADLINE_S) -> int:
    """Call every draw, across up to `processes` processes (this one included). Returns the number of
    processes whose charts were drawn by them (1 where this process drew all of them)."""
    processes = min(processes, len(draws))
    if processes < 2 or not hasattr(os, "fork"):
        for draw in draws:
            draw()
        return 1
    stripes = [draws[i::processes] for i in range(processes)]
    mine, children = list(stripes[0]), {}
    sys.stdout.flush()
    sys.stderr.flush()
    deadline = time.monotonic() + deadline_s
    try:
        for stripe in stripes[1:]:
            try:
                pid = os.fork()
            except OSError as error:                 # no memory or no process slot: draw them here
                LOGGER.info("charts drawn in this process: fork failed (%s)", error)
                mine += stripe
                continue
            if pid == 0:
                _run_child(stripe)
            children[pid] = stripe
        for draw in mine:
            draw()
    finally:
        failed = [stripe for pid, stripe in children.items() if not _succeeded(pid, deadline)]
    for stripe in failed:
        LOGGER.info("a chart-drawing process failed or was stopped; drawing its %d chart(s) here", len(stripe))
        for draw in stripe:
            draw()
    return 1 + len(children) - len(failed)
