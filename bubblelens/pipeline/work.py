"""A unit of work, what it reports back, and how a worker of any backend runs it.

A unit is a top-level function with plain, picklable keyword arguments (training/units.py,
evaluation/units.py) and a fixed torch thread count; every backend (pipeline/executor.py,
pipeline/ray_executor.py) runs it through `run_unit`, so every backend computes the same numbers.
"""
from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from bubblelens.core.gc_tuning import collect_less
from bubblelens.pipeline.unit_board import END, START, ThrottledSender

RETRIES = 2            # resubmissions of a unit whose worker process (or node) died
POLL_S = 0.5           # how often a driver drains worker events while it waits


@dataclass
class Unit:
    """One independent piece of work: `fn(**kwargs)` with torch limited to `threads` threads.

    `code` is (entry modules, code version) of the stage the unit belongs to: a backend whose workers
    may run other code (Ray) checks it there before running the unit."""

    key: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    threads: int = 1
    progress: bool = False        # fn takes a `progress(step, total, values)` callback
    code: tuple[tuple[str, ...], str] | None = None
    uses_torch: bool = True       # False: a report-side unit, which never imports torch (run_unit)


@dataclass(frozen=True)
class UnitFunction:
    """A unit function by its module's loader and its name, imported where the unit runs: the build's own
    process then imports a trainer (and torch) only when it computes one, not to look its units up in the
    cache. `module` is a top-level function that imports the module with a plain import statement (so the
    import graph, pipeline/code_graph.py, still sees the edge) and returns it; both pickle by name, for any
    backend's workers."""

    module: Callable[[], ModuleType]
    name: str

    def __call__(self, **kwargs: Any) -> Any:
        return getattr(self.module(), self.name)(**kwargs)


@dataclass
class UnitOutcome:
    key: str
    value: Any
    seconds: float
    pid: int
    attempts: int = 1
    node: str = ""                # where it ran: "this process", "worker PID", a Ray node


def run_unit(fn: Callable[..., Any], kwargs: dict[str, Any], threads: int,
             uses_torch: bool = True) -> tuple[Any, float, int]:
    """What a worker runs (also in-process for `serial`): the unit under its own torch thread count, with
    the collector of every bubblelens process (a fresh pool or Ray worker has CPython's default one). A
    unit that never uses torch (`uses_torch` False: the claims, the render) does not import it; where
    torch is already loaded it runs under the same thread count as any other unit."""
    if uses_torch:
        import torch
    else:
        torch = sys.modules.get("torch")
    before, collector = (torch.get_num_threads() if torch else None), gc.get_threshold()
    if torch:
        torch.set_num_threads(threads)
    collect_less()
    start = time.perf_counter()
    try:
        return fn(**kwargs), time.perf_counter() - start, os.getpid()
    finally:
        if torch:
            torch.set_num_threads(before)
        gc.set_threshold(*collector)


def run_reporting(unit: Unit, where: str, send: Callable[[tuple], None],
                  kwargs: dict[str, Any] | None = None) -> tuple[Any, float, int]:
    """`run_unit` that first sends (START, key, where), for a unit that reports progress its steps, and,
    once it has returned, (END, key, where): a driver whose channel may deliver events after the result (a
    multiprocessing queue has its own feeder thread) waits for END before it marks the unit finished."""
    kwargs = dict(unit.kwargs if kwargs is None else kwargs)
    send((START, unit.key, where))
    if unit.progress:
        kwargs["progress"] = ThrottledSender(send, unit.key)
    outcome = run_unit(unit.fn, kwargs, unit.threads, unit.uses_torch)
    send((END, unit.key, where))
    return outcome
