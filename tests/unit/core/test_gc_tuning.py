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


def test_a_unit_run_in_a_process_that_goes_on_gives_the_collector_back(restored_thresholds):
    """`run_unit` (also the serial executor's, in the build's or a test's process) sets the collector for
    the unit and restores the caller's afterwards, as it does torch's thread count."""
    from bubblelens.pipeline.work import run_unit

    gc.set_threshold(700, 10, 10)
    value, _, _ = run_unit(gc.get_threshold, {}, threads=1)
    assert value == GC_THRESHOLDS and gc.get_threshold() == (700, 10, 10)


# Runs `python -m bubblelens --version` in-process and reports, from an exit handler (which runs before
# CPython's finalisation), how many objects were exempted from collection.
FROZEN_AT_EXIT = """
import atexit, gc, runpy, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count()))
sys.argv = ["bubblelens", "--version"]
runpy.run_module("bubblelens", run_name="__main__")
"""


def test_the_command_leaves_what_is_alive_to_the_exit_without_collecting_it():
    """`python -m bubblelens` (and the script, pyproject.toml) go through `run_command`, which freezes the
    heap on the way out, also when the command exits through SystemExit as every Typer command does."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", FROZEN_AT_EXIT], capture_output=True, text=True, check=True)
    frozen = int(out.stdout.strip().splitlines()[-1].split()[1])
    assert frozen > 10_000          # the imported modules' objects at least; 0 without leave_to_exit


def test_the_installed_script_is_the_process_entry():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["bubblelens"] == "bubblelens.cli.main:run_command"
