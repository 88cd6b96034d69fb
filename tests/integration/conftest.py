"""The smoke build the integration tests read and rebuild: built once per session (smoke_build.py)."""
from __future__ import annotations

import os

import pytest

from smoke_build import private_copy, shared_build


@pytest.fixture(scope="session")
def smoke_master(tmp_path_factory):
    # Under pytest-xdist every worker's base temporary directory lies in one shared parent; without it, one process.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    return shared_build(shared)


@pytest.fixture(scope="module")
def smoke(smoke_master, tmp_path_factory):
    """This test file's own copy of the smoke build's outputs and cache; later tests rebuild into `out`."""
    return private_copy(smoke_master, tmp_path_factory.mktemp("smoke"))
