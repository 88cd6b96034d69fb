"""Executors: serial and pool give the same numbers; a dead worker's unit is resubmitted; a failing unit
fails the build; each pool unit runs in a fresh process with the unit's own thread count."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bubblelens.core.config import MixtureParams
from bubblelens.core.errors import StageError, UsageError
from bubblelens.core.gc_tuning import GC_THRESHOLDS
from bubblelens.pipeline.executor import PoolExecutor, SerialExecutor, make_executor
from bubblelens.pipeline.work import Unit
from bubblelens.training import units as train_units

from executor_helpers import boom, die_once, gc_thresholds, threads_and_pid

TINY_MIX = MixtureParams(steps=40, batch_size=20, g_hidden=8, d_hidden=8, n_samples=30)


def collect(executor, units):
    out = {}
    executor.run(units, lambda o: out.__setitem__(o.key, o))
    return out


def mixture_units():
    return [Unit(f"{d}-{v}", train_units.train_mixture_unit,
                 {"params": TINY_MIX, "dataset": d, "variant": v, "seeds": (0, 1), "device": "cpu"}, threads=1)
            for d in ("ring8", "grid25") for v in ("vanilla", "pacgan")]


@pytest.mark.slow
def test_serial_and_pool_give_identical_results():
    serial = collect(SerialExecutor(), mixture_units())
    pool = collect(PoolExecutor(2), mixture_units())
    assert serial.keys() == pool.keys()
    for key in serial:
        (rec_s, arr_s), (rec_p, arr_p) = serial[key].value, pool[key].value
        assert [r["history"] for r in rec_s["runs"]] == [r["history"] for r in rec_p["runs"]]
        for name in arr_s:
            np.testing.assert_array_equal(arr_s[name], arr_p[name])


@pytest.mark.slow
def test_pool_runs_each_unit_in_a_fresh_process_with_its_thread_count():
    out = collect(PoolExecutor(2), [Unit(f"u{i}", threads_and_pid, {}, threads=1) for i in range(3)])
    assert {o.value[0] for o in out.values()} == {1}
    assert len({o.value[1] for o in out.values()}) == 3          # max_tasks_per_child=1: one process per unit



@pytest.mark.slow
def test_pool_workers_collect_garbage_as_the_command_does():
    """A forked worker starts with CPython's default collector (the forkserver is a fresh interpreter);
    `run_unit` gives it core/gc_tuning.py's, which the mixture GANs' small-tensor steps gain from."""
    out = collect(PoolExecutor(2), [Unit(f"u{i}", gc_thresholds, {}) for i in range(2)])
    assert {o.value for o in out.values()} == {GC_THRESHOLDS}


PREPARE_THEN_RUN = """
import os, sys
from multiprocessing import forkserver
from bubblelens.pipeline.executor import PoolExecutor
from bubblelens.pipeline.work import Unit
sys.path.insert(0, sys.argv[1])
from executor_helpers import parent_pid

state = forkserver._forkserver                   # CPython's forkserver singleton (private: test-only)
assert state._forkserver_pid is None
executor = PoolExecutor(2)
executor.prepare()
server = state._forkserver_pid
assert server is not None
os.kill(server, 0)                                # alive before any unit was submitted
out = []
executor.run([Unit(f"u{i}", parent_pid, {}) for i in range(2)], out.append)
assert {o.value for o in out} == {server}, (server, [o.value for o in out])
assert state._forkserver_pid == server
print("ok")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forkserver is started ahead on Linux")
def test_prepare_starts_the_forkserver_the_units_are_then_forked_from():
    """`prepare` (called as a first build starts) starts the forkserver before any unit exists; the pool's
    workers are then its children, not those of a second server. In a fresh interpreter, where no other
    test's pool can have started one."""
    here = Path(__file__).resolve().parent
    proc = subprocess.run([sys.executable, "-c", PREPARE_THEN_RUN, str(here)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.parametrize("force, only, frozen, trained, bundle, expected", [
    (False, None, False, False, None, True),          # a first build: it will train
    (False, None, False, True, None, False),          # may find every unit cached (a CSV edited)
    (True, None, False, True, None, True),            # --force recomputes every unit
    (True, "train", False, True, None, True),
    (True, "claims", False, True, None, False),       # --force --only claims: claims in this process
    (True, "render", False, True, None, False),
    (False, "claims", False, False, None, True),      # needs the models, and none is trained
    (False, "features", False, False, None, False),   # trains nothing: no trained unit would ever appear
    (False, None, True, False, None, False),          # --frozen never trains
    (True, None, False, False, "bundle", False),      # a results bundle trains nothing
])
def test_the_workers_start_ahead_only_when_units_will_run(tmp_path, force, only, frozen, trained, bundle,
                                                           expected):
    from types import SimpleNamespace

    from bubblelens.pipeline.build import _certain_to_compute
    from bubblelens.pipeline.cache import Cache
    from bubblelens.pipeline.context import needed_stages

    cache = Cache(tmp_path)
    if trained:
        cache.store("train", "abc", {"x": 1})
    opts = SimpleNamespace(force=force, only=only, frozen=frozen, results_bundle=bundle)
    assert _certain_to_compute(SimpleNamespace(opts=opts, cache=cache), needed_stages(only)) is expected


@pytest.mark.slow
def test_dead_worker_is_replaced_and_its_unit_resubmitted(tmp_path):
    out = collect(PoolExecutor(2), [Unit("dies", die_once, {"marker": str(tmp_path / "m"), "value": 21}),
                                    Unit("fine", threads_and_pid, {})])
    assert out["dies"].value == 42 and out["dies"].attempts == 2
    assert "fine" in out


def test_serial_units_end_with_an_end_event_after_their_last_step():
    from executor_helpers import sleepy

    executor = SerialExecutor()
    collect(executor, [Unit("s", sleepy, {"seconds": 0.0, "value": 1}, progress=True)])
    unit = executor.board.units["s"]
    assert unit.ended and unit.done and unit.step == unit.total == 10


def test_a_failing_unit_fails_the_run():
    with pytest.raises(RuntimeError, match="on purpose"):
        collect(SerialExecutor(), [Unit("boom", boom, {})])


@pytest.mark.slow
def test_a_failing_unit_fails_the_pool_run():
    with pytest.raises(RuntimeError, match="on purpose"):
        collect(PoolExecutor(2), [Unit("boom", boom, {})])


@pytest.mark.slow
def test_a_unit_that_always_kills_its_worker_is_a_stage_error(tmp_path, monkeypatch):
    import bubblelens.pipeline.executor as ex

    monkeypatch.setattr(ex, "RETRIES", 0)
    with pytest.raises(StageError, match="died"):
        collect(PoolExecutor(1), [Unit("dies", die_once, {"marker": str(tmp_path / "m"), "value": 1})])


def test_unknown_backend_and_bad_jobs_are_usage_errors():
    with pytest.raises(UsageError, match="--executor"):
        make_executor("ray-ish", 2)
    with pytest.raises(UsageError, match="--jobs"):
        make_executor("pool", 0)


@pytest.mark.slow
def test_pool_workers_report_where_they_run_and_their_steps():
    from executor_helpers import sleepy

    executor = PoolExecutor(2)
    out = collect(executor, [Unit(f"s{i}", sleepy, {"seconds": 0.3, "value": i}, progress=True) for i in range(2)])
    assert {k: o.value for k, o in out.items()} == {"s0": 0, "s1": 1}
    for key, unit in executor.board.units.items():
        assert unit.done and unit.step == unit.total == 10
        assert unit.where == f"worker {out[key].pid}" == out[key].node
