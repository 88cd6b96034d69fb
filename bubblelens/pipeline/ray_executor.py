"""The `ray` backend: every unit a Ray task, on a local Ray runtime or on a cluster (`--ray-address`).

Imported only for `--executor ray` (Ray is the optional extra `bubblelens[ray]`). What it guarantees:
- Same answers: a task runs `run_unit` with the unit's own thread count, the same function the other
  backends run, so the numbers are identical; it declares that many CPUs (or one GPU on `--device cuda`).
- Data once: every array (or dict of arrays) argument is put into the object store once per build and
  passed by reference, so the images travel once per node, not once per task.
- No shared filesystem: results come back to the driver, which stores them in its cache (`on_done`); a
  Ray unit gets no scratch checkpoint directory, so a unit whose worker or node dies is retried by Ray
  (`max_retries`) from step zero, on whichever node has room.
- Same code: each task first compares the worker's bubblelens version and the code version of the
  unit's stage (read from the worker's own source) with the driver's, and refuses to run otherwise; the
  driver turns that into a one-sentence usage error (exit 2).
"""
from __future__ import annotations

import socket
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from bubblelens import __version__
from bubblelens.core.errors import StageError, UsageError
from bubblelens.pipeline.work import POLL_S, RETRIES, Unit, UnitOutcome, run_reporting
from bubblelens.pipeline.unit_board import UnitBoard

CONNECT_TIMEOUT_S = 5.0     # a HOST:PORT that does not answer a TCP connect within this is unreachable


@ray.remote(num_cpus=0)
class EventChannel:
    """Workers' progress events, collected for the driver. Workers call `send.remote` without waiting
    for it: a task blocked in `ray.get` hands its CPUs back to the scheduler, which would then start
    more units than there are cores."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def send(self, event: tuple) -> None:
        self.events.append(event)

    def drain(self) -> list[tuple]:
        out, self.events = self.events, []
        return out


class WorkerMismatch(Exception):
    """A worker runs another bubblelens version or other code than the driver."""


@lru_cache(maxsize=None)
def worker_identity(entries: tuple[str, ...]) -> dict[str, str]:
    """This process's bubblelens version and the code version of a stage's entry modules (read once per
    process: a worker runs the modules it imported when it started, whatever the disk says later)."""
    from bubblelens.pipeline.cache import code_version

    return {"bubblelens": __version__, "code": code_version(entries)}


def check_identity(key: str, expected: dict[str, str] | None, entries: tuple[str, ...]) -> None:
    if expected is None:
        return
    found = dict(worker_identity(tuple(entries)))
    if found != expected:
        raise WorkerMismatch(f"the Ray worker on {socket.gethostname()} runs bubblelens {found['bubblelens']} "
                             f"(code {found['code']}) but the driver runs {expected['bubblelens']} (code "
                             f"{expected['code']}) for unit {key}; install the same bubblelens on every node")


def _writable(value: Any) -> Any:
    """Arrays from the object store are read-only views; units may write into their inputs."""
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        return value.copy()
    if isinstance(value, dict):
        return {k: _writable(v) for k, v in value.items()}
    return value


def _task(unit: Unit, expected: dict[str, str] | None, events, **kwargs: Any) -> tuple[Any, float, int, str]:
    """One unit on a Ray worker; `kwargs` are the unit's arguments, the object-store ones already fetched."""
    node = ray.get_runtime_context().get_node_id()
    check_identity(unit.key, expected, unit.code[0] if unit.code else ())
    value, seconds, pid = run_reporting(unit, f"node {node[:8]} ({socket.gethostname()})", events.send.remote,
                                        kwargs={k: _writable(v) for k, v in kwargs.items()})
    return value, seconds, pid, node


_remote_task = ray.remote(_task)


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            return True
    except (OSError, ValueError):
        return False


def check_address(address: str | None) -> None:
    """A HOST:PORT that does not answer is a usage error naming it (Ray itself would wait for minutes)."""
    if address not in (None, "auto", "local") and (":" not in address or not _reachable(address)):
        raise UsageError(f"--ray-address {address}: no Ray cluster answers there (expected HOST:PORT of a "
                         "running `ray start --head`, or 'auto')")


def connect(address: str | None, **init_kwargs: Any) -> None:
    """Join the cluster at `address` ('auto' or HOST:PORT) or, with none, start a local Ray runtime."""
    check_address(address)
    try:
        # With no address Ray itself would first try the cluster named in /tmp/ray/ray_current_cluster,
        # which a runtime that died leaves behind: a build then waited forever (seen in a CI run).
        # 'local' always starts a fresh local runtime.
        ray.init(address=address or "local", include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 **init_kwargs)
    except ConnectionError as err:
        raise UsageError(f"--ray-address {address}: {err}") from None


class RayExecutor:
    """Every unit a Ray task; at most as many at once as the cluster has CPUs (or GPUs) for them."""

    name = "ray"

    def __init__(self, reporter=None, address: str | None = None, device: str = "cpu",
                 init_kwargs: dict | None = None, expected: Callable[[Unit], dict | None] | None = None) -> None:
        check_address(address)            # before the build does anything else; joining waits for a unit
        self.reporter, self.address, self.device = reporter, address, device
        self.init_kwargs = init_kwargs or {}
        self._started = False                        # this executor called ray.init (and shuts it down)
        self.board: UnitBoard | None = None          # the running (or last) batch's progress
        # What a worker must run for each unit: the driver's version and the unit's stage code version.
        self._expected = expected or (lambda unit: {"bubblelens": __version__, "code": unit.code[1]}
                                      if unit.code else None)

    @property
    def label(self) -> str:
        where = f"the cluster at {self.address}" if self.address not in (None, "local") else "a local Ray runtime"
        return f"ray (tasks on {where}, as many at once as its free CPUs allow)"

    def _connect(self) -> None:
        if not ray.is_initialized():
            connect(self.address, **self.init_kwargs)
            self._started = True

    def prepare(self) -> None:
        """Nothing ahead: joining the cluster waits for the first unit (a build with every unit cached never
        starts a runtime)."""

    def close(self) -> None:
        """Leave the cluster (stopping the local runtime if this build started one)."""
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    def describe(self) -> dict:
        if not ray.is_initialized():
            return {"backend": self.name, "address": self.address or "local", "nodes": {}}
        nodes = {n["NodeID"]: {"host": n.get("NodeManagerHostname", ""), "cpus": n["Resources"].get("CPU", 0),
                               "gpus": n["Resources"].get("GPU", 0)} for n in ray.nodes() if n.get("Alive")}
        return {"backend": self.name, "address": self.address or "local", "nodes": nodes}

    def _submit(self, unit: Unit, refs: dict[int, Any], events):
        kwargs = {}
        for name, value in unit.kwargs.items():
            if name == "ckpt_dir":           # the driver's disk; a worker elsewhere cannot use it
                value = None
            elif isinstance(value, (np.ndarray, Mapping)):
                if id(value) not in refs:      # put once per object; a cache entry's LazyArrays as a dict
                    refs[id(value)] = ray.put(value if isinstance(value, (np.ndarray, dict)) else dict(value))
                value = refs[id(value)]
            kwargs[name] = value
        resources = {"num_gpus": 1, "num_cpus": 0} if self.device == "cuda" else {"num_cpus": unit.threads}
        task = _remote_task.options(max_retries=RETRIES, retry_exceptions=False, **resources)
        return task.remote(unit, self._expected(unit), events, **kwargs)

    def run(self, units: list[Unit], on_done: Callable[[UnitOutcome], None]) -> None:
        if not units:
            return
        self._connect()
        here = ray.get_runtime_context().get_node_id()
        # Pinned to the driver's node: a node that leaves mid-build must not take the progress channel along.
        events = EventChannel.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
        board = self.board = UnitBoard(self.reporter, [u.key for u in units])
        refs: dict[int, Any] = {}
        pending = {self._submit(u, refs, events): u for u in units}
        channel_up = True                    # once the progress actor is gone, finished units wait no more
        try:
            while pending:
                ready, rest = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                if ready and rest:           # everything else that is done as well, without waiting
                    ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
                self._drain(events, board)
                for ref in ready:
                    unit = pending.pop(ref)
                    value, seconds, pid, node = self._result(ref, unit)
                    if channel_up:
                        channel_up = board.wait_for_end(unit.key, lambda t: self._events(events, t))
                    board.finish(unit.key, seconds, f"node {node[:8]}")
                    on_done(UnitOutcome(unit.key, value, seconds, pid, board.units[unit.key].attempts or 1,
                                        node=node))
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            self._drain(events, board)
            board.close()
            ray.kill(events)
            refs.clear()

    @staticmethod
    def _result(ref, unit: Unit) -> tuple[Any, float, int, str]:
        try:
            return ray.get(ref)
        except RayTaskError as err:          # the unit raised: raise what it raised, as the other backends do
            cause = err.cause
            if isinstance(cause, WorkerMismatch):
                raise UsageError(str(cause)) from None
            raise cause from None
        except RayError as err:              # its worker or node died RETRIES + 1 times
            raise StageError(f"Ray could not run {unit.key} ({type(err).__name__}, {RETRIES + 1} attempts); "
                             "rerun with --executor serial to see why") from None

    @staticmethod
    def _events(events, timeout: float | None = None) -> list[tuple] | None:
        """The events sent since the last call, waiting at most `timeout`; None when the channel is gone
        (it went away with its node or the cluster: progress is best effort) or did not answer in time."""
        try:
            return list(ray.get(events.drain.remote(), timeout=timeout))
        except RayError:                     # GetTimeoutError is a RayError too
            return None

    @classmethod
    def _drain(cls, events, board: UnitBoard) -> None:
        for event in cls._events(events) or []:
            board.handle(event)
