"""Executors for independent work units: `serial` (in this process), `pool` (local worker processes) or
`ray` (a Ray runtime or cluster: pipeline/ray_executor.py, imported only when asked for).

A unit (pipeline/work.py) is a top-level function with plain, picklable keyword arguments
(training/units.py, evaluation/units.py) and a fixed torch thread count. The thread count is part of every unit's cache
fingerprint because results differ between thread counts after a few steps; it never depends on the
backend, so every backend gives the same numbers. The pool runs one unit per fresh worker process
(`max_tasks_per_child=1`, forkserver start): a unit's peak memory is its own, and a worker that dies is
replaced and its unit resubmitted (up to `RETRIES` times) while the other workers carry on. Workers (and
the forkserver) die with the build, even one killed by SIGKILL (pipeline/lifeline.py). Every backend
reports to a UnitBoard (pipeline/unit_board.py): done / running / queued, per-unit ETA, where each runs.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from bubblelens.core.errors import StageError, UsageError
from bubblelens.pipeline.lifeline import Lifeline, die_with_build, start_forkserver
from bubblelens.pipeline.unit_board import UnitBoard
from bubblelens.pipeline.work import POLL_S, RETRIES, Unit, UnitOutcome, run_reporting

EXECUTORS = ("serial", "pool", "ray")
# Decided by benchmarks/executors.py on the project's 2-core machines (see docs/architecture.md).
DEFAULT_EXECUTOR = "pool"
DEFAULT_JOBS = os.cpu_count() or 1
# What the pool's units import, imported once by the forkserver: every fresh worker is forked with them
# loaded instead of importing torch and the unit modules itself (about 2 s a unit on 2 cores; a smoke
# build runs 18 units, issue 25). Importing them runs no torch or CUDA operation and compiles nothing (numba
# compiles the BSADF kernel at its first call, from its on-disk cache); the one thread they
# start (scipy's OpenBLAS) is one OpenBLAS itself resets in a forked child. A module that fails to import
# with ImportError is skipped by the forkserver, and the unit that needs it reports the error itself.
# model_stages holds the loaders a unit's function is named by (work.py: UnitFunction).
WORKER_PRELOAD = ("torch", "bubblelens.training.units", "bubblelens.evaluation.units", "bubblelens.claims.engine",
                  "bubblelens.analysis.bsadf_kernel", "bubblelens.pipeline.model_stages")


class SerialExecutor:
    name = "serial"
    jobs = 1
    label = "serial (one unit at a time in this process)"

    def __init__(self, reporter=None) -> None:
        self.reporter = reporter
        self.board: UnitBoard | None = None          # the running (or last) batch's progress

    def describe(self) -> dict:
        return {"backend": self.name, "jobs": self.jobs}

    def prepare(self) -> None:
        """Nothing to start ahead: units run in this process."""

    def close(self) -> None:
        pass

    def run(self, units: list[Unit], on_done: Callable[[UnitOutcome], None]) -> None:
        if not units:
            return
        board = self.board = UnitBoard(self.reporter, [u.key for u in units])
        try:
            for unit in units:
                value, seconds, pid = run_reporting(unit, "this process", board.handle)
                board.finish(unit.key, seconds)
                on_done(UnitOutcome(unit.key, value, seconds, pid, node="this process"))
        finally:
            board.close()


_EVENTS: Any = None     # a pool worker's event queue, set by the pool's initializer


def _pool_init(events, lifeline_end) -> None:
    global _EVENTS
    die_with_build(lifeline_end)
    _EVENTS = events


def _pool_task(unit: Unit) -> tuple[Any, float, int]:
    return run_reporting(unit, f"worker {os.getpid()}", _EVENTS.put)


class PoolExecutor:
    """Up to `jobs` units at once, each in a fresh worker process."""

    name = "pool"

    def __init__(self, jobs: int, reporter=None) -> None:
        if jobs < 1:
            raise UsageError(f"--jobs must be at least 1, not {jobs}")
        self.jobs, self.reporter = jobs, reporter
        self.board: UnitBoard | None = None

    @property
    def label(self) -> str:
        return f"pool ({self.jobs} worker processes at a time, a fresh one per unit)"

    def describe(self) -> dict:
        return {"backend": self.name, "jobs": self.jobs}

    def prepare(self) -> None:
        """Start the forkserver now, before the build reads its inputs: it imports WORKER_PRELOAD (about
        3 s on 2 cores) on the other core while this process loads data and looks units up in the cache,
        instead of after (issue 25: smoke cold). Returns at once; the first fork waits for the preload."""
        if self._method() == "forkserver":
            start_forkserver(multiprocessing.get_context("forkserver"), WORKER_PRELOAD)

    def close(self) -> None:
        pass

    @staticmethod
    def _method() -> str:
        return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"

    def _pool(self) -> tuple[ProcessPoolExecutor, Any, Lifeline]:
        method = self._method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            start_forkserver(context, WORKER_PRELOAD)    # dies with this process (Linux); units preloaded
        events, lifeline = context.Queue(), Lifeline(context)
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=context, max_tasks_per_child=1,
                                   initializer=_pool_init, initargs=(events, lifeline.end)), events, lifeline

    def run(self, units: list[Unit], on_done: Callable[[UnitOutcome], None]) -> None:
        if not units:
            return
        todo = list(units)
        attempts = {u.key: 0 for u in units}
        board = self.board = UnitBoard(self.reporter, [u.key for u in units])
        try:
            while todo:
                pool, events, lifeline = self._pool()
                try:
                    self._run_pool(pool, events, todo, attempts, board, on_done)
                except BrokenProcessPool:
                    dead = [u.key for u in todo if attempts[u.key] > RETRIES]
                    if dead:
                        raise StageError(f"a worker process died running {', '.join(dead)} {RETRIES + 1} times; "
                                         "rerun with --executor serial to see why") from None
                    if self.reporter is not None:
                        self.reporter.info(f"  a worker process died; resubmitting {len(todo)} unfinished unit(s)")
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
                    events.close()
                    lifeline.close()         # after shutdown: every worker has been joined
        finally:
            board.close()

    @staticmethod
    def _drain(events, board: UnitBoard) -> None:
        while True:
            try:
                board.handle(events.get_nowait())
            except (queue_module.Empty, OSError, ValueError):
                return

    @staticmethod
    def _take(events, timeout: float) -> list[tuple] | None:
        """At most one event within `timeout`; None when the queue is closed or broken."""
        try:
            return [events.get(timeout=timeout)]
        except queue_module.Empty:
            return []
        except (OSError, ValueError):
            return None

    def _run_pool(self, pool, events, todo: list[Unit], attempts: dict[str, int], board: UnitBoard,
                  on_done: Callable[[UnitOutcome], None]) -> None:
        futures = {}
        for u in todo:
            attempts[u.key] += 1
            futures[pool.submit(_pool_task, u)] = u
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            self._drain(events, board)
            failed = [f for f in finished if f.exception() is not None]
            for fut in (f for f in finished if f not in failed):
                unit = futures[fut]
                value, seconds, pid = fut.result()
                todo.remove(unit)
                board.wait_for_end(unit.key, lambda t: self._take(events, t))
                board.finish(unit.key, seconds, f"worker {pid}")
                on_done(UnitOutcome(unit.key, value, seconds, pid, attempts[unit.key], node=f"worker {pid}"))
            if failed:                   # a unit that raises fails the build (finished ones are kept)
                failed[0].result()


def make_executor(name: str, jobs: int, reporter=None, ray_address: str | None = None, device: str = "cpu"):
    if name == "serial":
        return SerialExecutor(reporter)
    if name == "pool":
        return PoolExecutor(jobs, reporter)
    if name == "ray":
        try:
            from bubblelens.pipeline.ray_executor import RayExecutor
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] != "ray":
                raise
            raise UsageError("--executor ray needs Ray, an optional extra: pip install 'bubblelens[ray]'") from None
        return RayExecutor(reporter, address=ray_address, device=device)
    raise UsageError(f"--executor: unknown backend '{name}'; choose one of: {', '.join(EXECUTORS)}")
