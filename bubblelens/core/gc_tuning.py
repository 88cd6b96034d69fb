"""Fewer cyclic garbage collections in every bubblelens process, and none at its exit.

CPython starts a collection of the youngest generation every 700 net allocations and, whenever the
long-lived objects have grown by a quarter, a full collection that walks every tracked object. A build
holds millions of them at once (the imported torch, pandas and matplotlib modules; WeasyPrint's boxes for
an 80-page layout), so the full collections that a growing layout keeps triggering cost a fifth of a
CSV-edit rebuild (benchmarks/README.md, "Fewer garbage collections"). Nothing here depends on when a cycle is freed, so
collecting less often changes no result, only when memory held by garbage cycles comes back; reference
counting still frees everything else at once. mypy (build.py) sets its collector so for the same reason.
"""
from __future__ import annotations

import gc

# (youngest, middle, oldest): a young collection every 100,000 net allocations instead of 700; the middle
# and oldest generations after 50 and 100 collections of the one below (10 and 10 by default).
GC_THRESHOLDS = (100_000, 50, 100)


def collect_less() -> None:
    """Set this process's collector to GC_THRESHOLDS (child processes forked from it inherit them)."""
    gc.set_threshold(*GC_THRESHOLDS)


def leave_to_exit() -> None:
    """Exempt every object alive now from collection, for a process about to exit: CPython's finalisation
    runs full collections over everything still alive, 1.5-2 s after a report build has typeset its PDF,
    to free memory the operating system takes back anyway. Exit handlers (atexit, logging's flush, temporary
    directories' cleanup) still run, and the standard streams are still flushed; only finalisers of objects
    in reference cycles do not (bubblelens closes its files and renames its outputs before it returns).
    Never call it in a process that goes on working: frozen objects are never collected."""
    gc.freeze()
