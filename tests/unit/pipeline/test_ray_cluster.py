"""The ray backend on a two-node cluster on this machine (`ray.cluster_utils.Cluster`): units spread over
both nodes, and a node removed mid-unit still gives a complete build with the same numbers (Ray retries
the lost unit from step zero on the node that is left)."""
from __future__ import annotations

import threading
import time

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from bubblelens.core.config import MixtureParams  # noqa: E402
from bubblelens.pipeline.executor import SerialExecutor  # noqa: E402
from bubblelens.pipeline.work import Unit  # noqa: E402
from bubblelens.pipeline.ray_executor import RayExecutor  # noqa: E402

import executor_helpers  # noqa: E402
from ray_helpers import assert_same_values, collect, mixture_units  # noqa: E402

NODE_ARGS = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024, "include_dashboard": False}


@pytest.fixture
def two_nodes():
    ray.cloudpickle.register_pickle_by_value(executor_helpers)
    cluster = Cluster(initialize_head=True, head_node_args=NODE_ARGS)
    second = cluster.add_node(**NODE_ARGS)
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster, second
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.slow
def test_units_spread_over_both_nodes(two_nodes):
    cluster, second = two_nodes
    executor = RayExecutor()
    out = collect(executor, [Unit(f"u{i}", executor_helpers.sleepy, {"seconds": 1.0, "value": i}, progress=True)
                             for i in range(4)])
    assert {k: o.value for k, o in out.items()} == {f"u{i}": i for i in range(4)}
    assert {o.node for o in out.values()} == {cluster.head_node.node_id, second.node_id}
    assert set(executor.describe()["nodes"]) == {cluster.head_node.node_id, second.node_id}


def _remove_when_running(executor: RayExecutor, cluster: Cluster, node, removed: list[str]) -> None:
    """Kill `node` (no graceful shutdown) as soon as a unit reports it started there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        board = executor.board
        running = [u.key for u in (board.units.values() if board else ())
                   if not u.done and u.started is not None and node.node_id[:8] in u.where and u.step > 0]
        if running:
            cluster.remove_node(node, allow_graceful=False)
            removed.extend(running)
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_node_removed_mid_unit_still_completes_with_the_same_numbers(two_nodes):
    cluster, second = two_nodes
    params = mixture_units()[0].kwargs["params"]
    longer = [u for u in mixture_units(MixtureParams(**{**params.__dict__, "steps": 600}))]
    serial = collect(SerialExecutor(), longer)
    executor = RayExecutor()
    removed: list[str] = []
    killer = threading.Thread(target=_remove_when_running, args=(executor, cluster, second, removed))
    killer.start()
    ran = collect(executor, longer)
    killer.join()
    assert removed, "no unit was seen running on the second node"
    assert_same_values(serial, ran)
    for key in removed:                                  # retried from zero on the head node
        assert executor.board.units[key].attempts >= 2
        assert ran[key].node == cluster.head_node.node_id
