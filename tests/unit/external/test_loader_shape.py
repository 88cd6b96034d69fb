"""The one loader shape (core/curated_load.py) that data/market and data/external share: the steps run in
order, nothing is built from data with an error, and both folders fail through the same error type.

Here because external/ is the layer that sees both folders; the rules of each folder are tested in
tests/unit/market and test_external.py.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from bubblelens.core.curated_load import CuratedDataError, CuratedFolder, Scan
from bubblelens.core.errors import EXIT_INVALID_DATA
from bubblelens.core.resources import DATA_DIR
from bubblelens.external.load import ExternalDataError, load_external
from bubblelens.market.load import MarketDataError, load_market

TODAY = date(2026, 12, 6)


@dataclass
class _ToyScan(Scan):
    steps: list[str] = field(default_factory=list)
    rows: dict[str, list] = field(default_factory=dict)


class _Toy(CuratedFolder[_ToyScan, dict]):
    """A folder of CSVs with one `value` column each, in the shape a third curated folder would take."""

    subdir = "costs"
    scan_type = _ToyScan

    def read(self, scan: _ToyScan) -> None:
        scan.steps.append("read")
        for name in scan.csv_names():
            _, records, _ = scan.read_csv(name, ("value",))
            scan.rows[name] = [cells.get("value") for _, cells in records]

    def cross_check(self, scan: _ToyScan) -> None:
        scan.steps.append("cross_check")
        for name, values in scan.rows.items():
            if not values:
                scan.error(scan.shown(name), None, None, "has no rows")

    def build(self, scan: _ToyScan, data_dir: Path, issues: list) -> dict:
        return {"steps": scan.steps, "rows": scan.rows, "issues": issues}


def test_steps_run_in_order_and_overrides_stand_in_for_files(tmp_path):
    (tmp_path / "costs").mkdir()
    (tmp_path / "costs" / "a.csv").write_text("value\n1\n")
    (tmp_path / "costs" / ".a.csv.tmp.csv").write_text("value\n")      # an atomic write's temp file: skipped
    assert _Toy().load(tmp_path, today=TODAY) == {"steps": ["read", "cross_check"], "rows": {"a.csv": ["1"]},
                                                  "issues": []}
    scan = _Toy().scan(tmp_path, today=TODAY, overrides={"b.csv": b"value\n2\n", "a.csv": b"value\n"})
    assert scan.rows == {"a.csv": [], "b.csv": ["2"]}
    assert (tmp_path / "costs" / "a.csv").read_text() == "value\n1\n"    # judged, never written


def test_nothing_is_built_from_data_with_an_error(tmp_path):
    (tmp_path / "costs").mkdir()
    (tmp_path / "costs" / "a.csv").write_text("value\n")
    (tmp_path / "costs" / "b.csv").write_text("price\n3\n")
    with pytest.raises(CuratedDataError) as exc:
        _Toy().load(tmp_path, today=TODAY)
    assert exc.value.exit_code == EXIT_INVALID_DATA
    b, a = (tmp_path / "costs" / "b.csv").resolve().as_posix(), (tmp_path / "costs" / "a.csv").resolve().as_posix()
    # errors in the order found: each file as read, then the cross-check
    assert [str(i) for i in exc.value.issues] == [f"{b}:1: missing column 'value' (header must have value)",
                                                  f"{b}:1: unexpected column 'price' (allowed: value)",
                                                  f"{a}: has no rows"]
    assert str(exc.value) == (f"{b}:1: missing column 'value' (header must have value) "
                              "(and 2 more errors; run `bubblelens data check`)")
    missing = str(_Toy().validate(tmp_path / "none")[0])
    assert missing.endswith("none/costs: curated-data directory has no costs/ folder")


@pytest.fixture
def broken(tmp_path) -> Path:
    """The shipped market and external folders, each with one error."""
    for sub in ("market", "external"):
        shutil.copytree(DATA_DIR / sub, tmp_path / sub)
    shutil.move(tmp_path / "market" / "sources.csv", tmp_path / "sources.csv")
    shutil.move(tmp_path / "external" / "datasets.toml", tmp_path / "datasets.toml")
    return tmp_path


def test_both_folders_fail_through_one_error_type(broken):
    with pytest.raises(MarketDataError) as market:
        load_market(broken, today=TODAY)
    with pytest.raises(ExternalDataError) as external:
        load_external(broken, today=TODAY)
    for exc, sub, missing in ((market, "market", "sources.csv"), (external, "external", "datasets.toml")):
        assert isinstance(exc.value, CuratedDataError) and exc.value.exit_code == EXIT_INVALID_DATA
        assert str(exc.value).startswith(f"{(broken / sub / missing).resolve().as_posix()}: {missing} is missing")
