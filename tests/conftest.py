"""Shared fixtures: every test gets its own cache directory, never the user's."""
import os

import pytest

pytest.register_assert_rewrite("run_records")   # tests/run_records.py: run-record checks shared by CPU and GPU tests


def pytest_configure(config):
    """Under pytest-xdist (README's test command: one worker per core) each worker trains on one torch
    thread: two workers with two threads each oversubscribe two cores, and torch's threads then collapse
    (a DCGAN step measured 11x slower). Tests that need a thread count set it themselves."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """Module- and session-scoped fixtures run before any per-test fixture: they get a private cache too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUBBLELENS_CACHE", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BUBBLELENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", os.environ.get("SOURCE_DATE_EPOCH", "1796515200"))  # 2026-12-06


def pytest_collection_modifyitems(config, items):
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small CPU models train faster on one thread when the two cores are shared; restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
