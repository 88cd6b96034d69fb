"""Executors for independent work units: `serial` (in this process) or `pool` (local worker processes).

A unit is a top-level function with plain, picklable keyword arguments (training/units.py,
evaluation/units.py) and a fixed torch thread count. The thread count is part of every unit's cache
fingerprint because results differ between thread counts after a few steps; it never depends on the
backend, so every backend gives the same numbers. The pool runs one unit per fresh worker process
(`max_tasks_per_child=1`, forkserver start): a unit's peak memory is its own, and a worker that dies is
replaced and its unit resubmitted (up to `RETRIES` times) while the other workers carry on.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable

from bubblelens.core.errors import StageError, UsageError

EXECUTORS = ("serial", "pool")
# Decided by benchmarks/executors.py on the project's 2-core machines (see docs/architecture.md).
DEFAULT_EXECUTOR = "pool"
DEFAULT_JOBS = os.cpu_count() or 1
RETRIES = 2            # resubmissions of a unit whose worker process died


@dataclass
class Unit:
    """One independent piece of work: `fn(**kwargs)` with torch limited to `threads` threads."""

    key: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    threads: int = 1
    progress: bool = False        # fn takes a `progress` callback (serial runs show per-step progress)


@dataclass
class UnitOutcome:
    key: str
    value: Any
    seconds: float
    pid: int
    attempts: int = 1
    extra: dict = field(default_factory=dict)


def run_unit(fn: Callable[..., Any], kwargs: dict[str, Any], threads: int) -> tuple[Any, float, int]:
    """What a worker runs (also in-process for `serial`): the unit under its own thread count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        return fn(**kwargs), time.perf_counter() - start, os.getpid()
    finally:
        torch.set_num_threads(before)


class SerialExecutor:
    name = "serial"
    jobs = 1

    def __init__(self, reporter=None) -> None:
        self.reporter = reporter

    def run(self, units: list[Unit], on_done: Callable[[UnitOutcome], None]) -> None:
        for unit in units:
            kwargs = dict(unit.kwargs)
            if unit.progress and self.reporter is not None:
                with self.reporter.task(unit.key, 1) as cb:
                    kwargs["progress"] = cb
                    value, seconds, pid = run_unit(unit.fn, kwargs, unit.threads)
            else:
                value, seconds, pid = run_unit(unit.fn, kwargs, unit.threads)
            on_done(UnitOutcome(unit.key, value, seconds, pid))


class PoolExecutor:
    """Up to `jobs` units at once, each in a fresh worker process."""

    name = "pool"

    def __init__(self, jobs: int, reporter=None) -> None:
        if jobs < 1:
            raise UsageError(f"--jobs must be at least 1, not {jobs}")
        self.jobs, self.reporter = jobs, reporter

    def _pool(self) -> ProcessPoolExecutor:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context(method),
                                   max_tasks_per_child=1)

    def _say(self, outcome: UnitOutcome, done: int, total: int) -> None:
        if self.reporter is not None:
            self.reporter.info(f"  units: {done}/{total} done ({outcome.key}: {outcome.seconds:.1f} s in worker "
                               f"{outcome.pid}{', attempt ' + str(outcome.attempts) if outcome.attempts > 1 else ''})")

    def run(self, units: list[Unit], on_done: Callable[[UnitOutcome], None]) -> None:
        if not units:
            return
        todo = list(units)
        attempts = {u.key: 0 for u in units}
        done = 0
        while todo:
            pool = self._pool()
            futures = {}
            try:
                for u in todo:
                    attempts[u.key] += 1
                    futures[pool.submit(run_unit, u.fn, u.kwargs, u.threads)] = u
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    failed = [f for f in finished if f.exception() is not None]
                    for fut in (f for f in finished if f not in failed):
                        unit = futures[fut]
                        value, seconds, pid = fut.result()
                        todo.remove(unit)
                        done += 1
                        outcome = UnitOutcome(unit.key, value, seconds, pid, attempts[unit.key])
                        on_done(outcome)
                        self._say(outcome, done, len(units))
                    if failed:                   # a unit that raises fails the build (finished ones are kept)
                        failed[0].result()
            except BrokenProcessPool:
                dead = [u.key for u in todo if attempts[u.key] > RETRIES]
                if dead:
                    raise StageError(f"a worker process died running {', '.join(dead)} {RETRIES + 1} times; "
                                     "rerun with --executor serial to see why") from None
                if self.reporter is not None:
                    self.reporter.info(f"  a worker process died; resubmitting {len(todo)} unfinished unit(s)")
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def make_executor(name: str, jobs: int, reporter=None):
    if name == "serial":
        return SerialExecutor(reporter)
    if name == "pool":
        return PoolExecutor(jobs, reporter)
    raise UsageError(f"--executor: unknown backend '{name}'; choose one of: {', '.join(EXECUTORS)}")
