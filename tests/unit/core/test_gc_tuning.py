"""The collector settings every bubblelens process runs with (core/gc_tuning.py)."""
from __future__ import annotations

import gc

import pytest

from bubblelens.core.gc_tuning import GC_THRESHOLDS


@pytest.fixture
def restored_thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_command_collects_less_before_it_runs_any_subcommand(monkeypatch, restored_thresholds):
    from bubblelens.cli import main as cli

    gc.set_threshold(700, 10, 10)          # CPython's defaults, whatever an earlier test left
    seen = []
    monkeypatch.setattr(cli, "app", lambda: seen.append(gc.get_threshold()))
    cli.main()
    assert seen == [GC_THRESHOLDS]


def test_the_thresholds_only_ever_collect_less_often_than_the_defaults():
    """A threshold below CPython's default would collect more often: the opposite of the module's purpose."""
    assert all(mine >= default for mine, default in zip(GC_THRESHOLDS, (700, 10, 10)))
