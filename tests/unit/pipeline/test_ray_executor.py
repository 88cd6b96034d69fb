"""The ray backend on a local runtime of 2 CPUs: the serial backend's numbers, data put once, a failing
unit's own error, a worker running other code refused (exit 2), progress from the workers, and an
unreachable cluster as a usage error."""
from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from bubblelens.core.errors import UsageError  # noqa: E402
from bubblelens.pipeline import ray_executor  # noqa: E402
from bubblelens.pipeline.executor import SerialExecutor  # noqa: E402
from bubblelens.pipeline.work import Unit  # noqa: E402
from bubblelens.pipeline.ray_executor import RayExecutor, check_identity, connect, worker_identity  # noqa: E402

import executor_helpers  # noqa: E402
from ray_helpers import TRAIN_ENTRY, assert_same_values, collect, mixture_units  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    # Workers import test helpers by value: they are not on the workers' path.
    ray.cloudpickle.register_pickle_by_value(executor_helpers)
    ray.init(address="local", num_cpus=2, object_store_memory=80 * 1024 * 1024, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_serial_results_and_reports_where_units_ran(local_ray):
    serial = collect(SerialExecutor(), mixture_units())
    executor = RayExecutor()
    ran = collect(executor, mixture_units())
    assert_same_values(serial, ran)
    here = ray.get_runtime_context().get_node_id()
    assert {o.node for o in ran.values()} == {here}
    board = executor.board
    assert all(u.done and u.where.startswith("node ") for u in board.units.values())
    assert all(u.step == u.total == 40 for u in board.units.values())   # progress came back from the workers
    assert executor.describe()["nodes"][here]["cpus"] == 2
    executor.close()
    assert ray.is_initialized()          # the executor did not start this runtime, so it leaves it running


@pytest.mark.slow
def test_arrays_travel_once_and_no_unit_gets_the_drivers_scratch_dir(local_ray, monkeypatch, tmp_path):
    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray_executor.ray, "put", lambda value: puts.append(value) or real_put(value))
    images = np.arange(12, dtype=np.uint8).reshape(3, 4)
    units = [Unit(f"u{i}", executor_helpers.shape_and_scratch, {"images": images, "ckpt_dir": tmp_path})
             for i in range(3)]
    out = collect(RayExecutor(), units)
    assert len(puts) == 1
    assert {o.value for o in out.values()} == {((3, 4), None)}


@pytest.mark.slow
def test_a_failing_unit_raises_its_own_error(local_ray):
    with pytest.raises(RuntimeError, match="on purpose"):
        collect(RayExecutor(), [Unit("boom", executor_helpers.boom, {})])


@pytest.mark.slow
def test_a_worker_with_other_code_is_refused(local_ray):
    other = {"bubblelens": "0.0.0", "code": "0" * 16}
    executor = RayExecutor(expected=lambda unit: other)
    with pytest.raises(UsageError, match="install the same bubblelens on every node"):
        collect(executor, mixture_units()[:1])


def test_identity_check_names_both_versions():
    mine = worker_identity(TRAIN_ENTRY)
    check_identity("u", mine, TRAIN_ENTRY)
    check_identity("u", None, TRAIN_ENTRY)
    with pytest.raises(ray_executor.WorkerMismatch, match=r"0\.0\.0.*for unit u"):
        check_identity("u", {"bubblelens": "0.0.0", "code": mine["code"]}, TRAIN_ENTRY)


@pytest.mark.parametrize("address", ["127.0.0.1:1", "no-port-here", "[::1]:1"])
def test_an_unreachable_cluster_is_a_usage_error_naming_it(address):
    with pytest.raises(UsageError, match=f"--ray-address {address.replace('[', '.').replace(']', '.')}"):
        connect(address)


def test_no_address_always_starts_a_local_runtime(monkeypatch):
    """Ray's own default (address None) would join the cluster named in /tmp/ray/ray_current_cluster, which
    a dead runtime leaves behind, and wait forever; the backend asks for a fresh local one instead."""
    seen = {}
    monkeypatch.setattr(ray, "init", lambda **kw: seen.update(kw))
    connect(None)
    assert seen["address"] == "local"
    connect("auto")
    assert seen["address"] == "auto"
