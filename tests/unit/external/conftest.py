"""Fixtures of the `bubblelens data import` tests: a fresh curated-data copy, the CLI's entry point."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bubblelens.cli.main import main
from bubblelens.core.resources import copy_curated

from import_helpers import ACCESSED


# The series the shipped data got from these importers: a copy starts without them, as the data did before
# the first import, so every test can import from scratch (re-imports are tested by importing twice).
IMPORTED = ("metr_time_horizon_p50_v1_1", "metr_time_horizon_p50_v1_0", "metr_published_doubling_time",
            "epoch_gpqa_diamond_frontier", "epoch_math_level5_frontier", "epoch_swe_bench_verified_frontier")


def without_imported(data: Path) -> Path:
    market = data / "market"
    tables = (market / "series.toml").read_text(encoding="utf-8").split("\n[")
    kept = [t for t in tables if not any(t.startswith(f"{sid}]") for sid in IMPORTED)]
    (market / "series.toml").write_text("\n[".join(kept), encoding="utf-8")
    for sid in IMPORTED:
        (market / f"{sid}.csv").unlink()
    return data


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped curated data (what `bubblelens data init` makes) as it was before the
    importers wrote their series into it."""
    return without_imported(copy_curated(tmp_path / "data")[0].parent)


@pytest.fixture
def cli(monkeypatch, capfd):
    """Run `bubblelens ARGS` through the real entry point, its error mapping included: (code, out, err).
    An import is judged as on the day the staged files were read (`--today`), whatever the clock says."""
    def run(*args: object) -> tuple[int, str, str]:
        capfd.readouterr()
        today = ["--today", ACCESSED] if list(map(str, args[:2])) == ["data", "import"] else []
        monkeypatch.setattr(sys, "argv", ["bubblelens", *map(str, args), *today])
        with pytest.raises(SystemExit) as exc:
            main()
        captured = capfd.readouterr()
        return exc.value.code or 0, captured.out, captured.err
    return run
