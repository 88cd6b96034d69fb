"""Draw a build's charts in several processes at once: matplotlib holds the GIL, so threads would not help.

A cold build draws its 23 charts one after another in one process (about 7 s of a 50 s smoke build on 2
cores) while the other core idles. `draw_all` forks one child per extra process after every chart has
been planned (charts/reuse.py queues the draws it could not take from the cache), so the children inherit
each draw with everything it closes over, with nothing pickled; each process draws every n-th chart and
writes its image file atomically, and the children leave with `os._exit`, running none of the build's
exit handlers. A child that fails costs only time: this process draws that child's charts again and
raises what they raise, with the usual traceback. Where there is no `os.fork` (Windows), or one process
is asked for (`--executor serial`, `--jobs 1`), the charts are drawn here in order.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable

LOGGER = logging.getLogger(__name__)

Draw = Callable[[], None]


def _run_child(draws: list[Draw]) -> None:
    """In a forked child: draw, then leave without the parent's exit handlers or buffered output."""
    code = 1
    try:
        for draw in draws:
            draw()
        code = 0
    except BaseException:  # noqa: BLE001 - reported by the parent, which draws these again
        pass
    finally:
        os._exit(code)


def draw_all(draws: list[Draw], processes: int) -> int:
    """Call every draw, across up to `processes` processes (this one included). Returns the number of
    processes that drew (1 where it drew alone or a child failed and its charts were drawn here)."""
    processes = min(processes, len(draws))
    if processes < 2 or not hasattr(os, "fork"):
        for draw in draws:
            draw()
        return 1
    stripes = [draws[i::processes] for i in range(processes)]
    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, list[Draw]] = {}
    try:
        for stripe in stripes[1:]:
            pid = os.fork()
            if pid == 0:
                _run_child(stripe)
            children[pid] = stripe
        for draw in stripes[0]:
            draw()
    finally:
        failed = [children[pid] for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    for stripe in failed:
        LOGGER.info("a chart-drawing process failed; drawing its %d chart(s) here", len(stripe))
        for draw in stripe:
            draw()
    return processes - len(failed)
