"""Fewer cyclic garbage collections in every bubblelens process.

CPython starts a collection of the youngest generation every 700 net allocations and, whenever the
long-lived objects have grown by a quarter, a full collection that walks every tracked object. A build
holds millions of them at once (the imported torch, pandas and matplotlib modules; WeasyPrint's boxes for
an 80-page layout), so the full collections that a growing layout keeps triggering cost a fifth of a
CSV-edit rebuild (benchmarks/README.md: GC thresholds). Nothing here depends on when a cycle is freed, so
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
