"""The shipped METR and Epoch series are exactly what the importers make of the publishers' files (kept in
tests/data/imports): a data copy without them, imported with the commands of docs/analyst-guide.md, has
byte-identical CSVs — except the one row the shipped v1.1 series has from another source (a later quote)."""
from __future__ import annotations

import csv
from pathlib import Path

from bubblelens.core.resources import DATA_DIR

from conftest import IMPORTED
from import_helpers import IMPORTS

COMMANDS = [("metr", "benchmark_results_1_1.yaml", "METR_TH11_MIRROR"),
            ("metr", "benchmark_results_1_0.yaml", "METR_TH10_MIRROR"),
            *(("epoch-benchmarks", f"epoch_{b}.csv", "EPOCH_BENCH_MIRROR")
              for b in ("gpqa_diamond", "math_level_5", "swe_bench_verified"))]
OTHER_SOURCES = {"METR_TH11_LATER_QUOTE"}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["source_id"] not in OTHER_SOURCES]


def test_shipped_series_equal_a_fresh_import(data_copy, cli):
    for importer, name, source in COMMANDS:
        code, _, err = cli("data", "import", importer, IMPORTS / name, "--data", data_copy,
                           "--accessed", "2026-12-06", "--source-id", source)
        assert code == 0, err
    for sid in IMPORTED:
        assert rows(data_copy / "market" / f"{sid}.csv") == rows(DATA_DIR / "market" / f"{sid}.csv"), sid
