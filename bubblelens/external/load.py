"""External public data sets (Epoch's Notable AI Models, Shiller's S&P 500): validate, load, fingerprint.

Why they are kept apart from data/market: the market series are hand-curated values with one quoted
source per row; these are whole tables copied unchanged from public mirrors, so provenance is per data set
(`datasets.toml`: producer, citation, licence, mirror and commit, access day, caveats) and the checks
are about shape (columns, dates, gaps, where a value may be missing) rather than about quotes. The loader
has the shape of the market one (core/curated_load.py: `read` each file, `cross_check`, `build`), so
`load_external` refuses data with any error exactly as `load_market` does, and a broken copy never reaches
a trend fit or a bubble test; warnings stay on `External.issues`.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bubblelens.core.curated_files import Issue
from bubblelens.core.curated_load import CuratedDataError, CuratedFolder, Scan
from bubblelens.core.io import tree_digest
from bubblelens.core.resources import curated
from bubblelens.external.schema import (
    DATASETS_FILE,
    EPOCH_COLUMNS,
    EPOCH_ID,
    EPOCH_OPTIONAL,
    EXTERNAL_SUBDIR,
    LEADING_OR_TRAILING_MISSING,
    SHILLER_COLUMNS,
    SHILLER_ID,
    SHILLER_OPTIONAL,
    TRAILING_MISSING,
    DatasetModel,
    EpochRowModel,
    ShillerRowModel,
    missing_run_issues,
    month_sequence_issues,
)
from bubblelens.market.schema import STALE_AFTER_DAYS

log = logging.getLogger(__name__)

# Which schema reads which data set; a CSV not named here has provenance checked but no rows read.
_SCHEMAS = {EPOCH_ID: (EPOCH_COLUMNS, EPOCH_OPTIONAL, EpochRowModel),
            SHILLER_ID: (SHILLER_COLUMNS, SHILLER_OPTIONAL, ShillerRowModel)}


class DatasetInfo(DatasetModel):
    """The provenance of one data set, as datasets.toml states it (what a report's appendix cites): the
    validated table plus its id and file."""

    dataset_id: str
    file: str                  # path relative to data_dir, e.g. "external/shiller_ie_data.csv"


@dataclass
class External:
    epoch: pd.DataFrame        # model, organization, date, domain, compute_flop, cost_usd_2023, frontier, ...
    shiller: pd.DataFrame      # date (month end), price, dividend, earnings, cpi, long_rate, cape; NaN = missing
    datasets: dict[str, DatasetInfo]
    data_dir: Path
    issues: list[Issue] = field(default_factory=list)   # warnings kept after load

    def fingerprint(self) -> str:
        return external_fingerprint(self.data_dir)


class ExternalDataError(CuratedDataError):
    """Invalid external data (exit 3); carries every `Issue` so a CLI can list them all."""


def external_fingerprint(data_dir: Path) -> str:
    """sha256 over (relative name, bytes) of every non-hidden file under data_dir/external, sorted."""
    return tree_digest(curated(data_dir, EXTERNAL_SUBDIR))


@dataclass
class _ExternalScan(Scan):
    """What the external files held, kept from `read` to `cross_check` and `build`."""

    csv_ids: list[str] = field(default_factory=list)           # data sets with a CSV in the folder
    tables: dict[str, tuple[int | None, DatasetModel | None]] = field(default_factory=dict)
    key_lines: dict[tuple[str, str], int] = field(default_factory=dict)
    rows: dict[str, list[tuple[int, EpochRowModel | ShillerRowModel]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)      # data rows of a cleanly read CSV


def _read_datasets(scan: _ExternalScan) -> None:
    described = scan.read_toml(DATASETS_FILE, " (it states each data set's provenance)")
    scan.key_lines, shown = described.key_lines, scan.shown(DATASETS_FILE)
    for dataset_id, table in described.tables.items():
        line = described.lines.get(dataset_id)
        if not isinstance(table, dict):
            scan.error(shown, line, None, f"{dataset_id!r} must be a table ([{dataset_id}])")
            scan.tables[dataset_id] = (line, None)
            continue

        def restate(i: Issue, ds: str = dataset_id, at: int | None = line) -> Issue:
            # A fault names its table and points at its key's own line: the tables are long, their
            # caveats span many lines, and the header may be far above the bad value.
            return dataclasses.replace(i, line=scan.key_lines.get((ds, i.column), at) if i.column else at,
                                       message=f"[{ds}] {i.message}")

        model, _ = scan.check(DatasetModel, table, shown, line, restate=restate)
        scan.tables[dataset_id] = (line, model)


def _read_csv(scan: _ExternalScan, dataset_id: str) -> None:
    name = f"{dataset_id}.csv"
    shown = scan.shown(name)
    if dataset_id not in _SCHEMAS:
        scan.warning(shown, None, None, f"bubblelens reads no data set {dataset_id!r} "
                     f"(known: {', '.join(_SCHEMAS)}); its rows are not checked")
        return
    required, optional, model = _SCHEMAS[dataset_id]
    header, records, clean = scan.read_csv(name, required, optional)
    if clean:
        scan.counts[dataset_id] = len(records)
    if any(column not in header for column in required):
        return                       # the header error says it all; no need for one per row
    rows, checked = [], []
    for line, cells in records:
        row, found = scan.check(model, cells, shown, line, context={"today": scan.today})
        if row is not None:
            rows.append((line, row))
        # The columns of this row that broke a rule by themselves (the rules across rows skip them).
        checked.append((line, cells, {i.column for i in found if i.column is not None}))
    if not records:
        scan.error(shown, None, None, "data set has no data rows")
    if model is ShillerRowModel:
        _check_months(checked, shown, scan)
        _check_staleness(checked, shown, scan)
    scan.rows[dataset_id] = rows


def _check_months(checked: list[tuple[int, dict[str, str], set[str]]], shown: str, scan: _ExternalScan) -> None:
    """The rules across Shiller rows, on every cell that is valid by itself: a row with one bad cell still
    counts as its month (so it does not also show up as a gap), and a bad date restarts the sequence."""
    months = [(line, None if "date" in failed else cells["date"]) for line, cells, failed in checked]
    scan.issues.extend(month_sequence_issues(months, shown, column="date"))
    for column in TRAILING_MISSING + LEADING_OR_TRAILING_MISSING:
        present = [(line, None if column in failed else cells[column] != "") for line, cells, failed in checked]
        scan.issues.extend(missing_run_issues(present, shown, column,
                                              leading=column in LEADING_OR_TRAILING_MISSING))


def _check_staleness(checked: list[tuple[int, dict[str, str], set[str]]], shown: str,
                     scan: _ExternalScan) -> None:
    """The valuation ratios end with the newest month that has both dividends and earnings: warn, as for a
    monthly curated series, when that month is older than a month's cadence allows."""
    full = [(line, cells["date"]) for line, cells, failed in checked
            if not failed and cells.get("dividend") and cells.get("earnings")]
    if not full:
        return
    line, month = full[-1]
    end = (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date()
    age, allowed = (scan.today - end).days, STALE_AFTER_DAYS["monthly"]
    if age > allowed:
        scan.warning(shown, line, None, f"stale: the newest month with dividends and earnings ({month[:7]}) is "
                     f"{age} days old; monthly series are stale after {allowed} days (one period plus the "
                     "usual publication lag)")


def _float(text: str) -> float:
    return float(text) if text else np.nan


def _epoch_frame(rows: list[tuple[int, EpochRowModel]]) -> pd.DataFrame:
    """Epoch rows, oldest first (the file lists newest first); empty estimates become NaN."""
    frame = pd.DataFrame({
        "model": [r.model for _, r in rows],
        "organization": [r.organization for _, r in rows],
        "date": pd.to_datetime(pd.Series([r.date for _, r in rows], dtype="object")).astype("datetime64[ns]"),
        "domain": [r.domain for _, r in rows],
        "compute_flop": np.asarray([_float(r.compute_flop) for _, r in rows], dtype=float),
        "cost_usd_2023": np.asarray([_float(r.cost_usd_2023) for _, r in rows], dtype=float),
        "frontier": np.asarray([r.frontier == "True" for _, r in rows], dtype=bool),
        "confidence": [r.confidence for _, r in rows],
        "accessibility": [r.accessibility for _, r in rows],
    })
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def _shiller_frame(rows: list[tuple[int, ShillerRowModel]]) -> pd.DataFrame:
    """Shiller months dated at month end (as data/market dates a whole month); empty (missing) -> NaN."""
    start = pd.to_datetime(pd.Series([r.date for _, r in rows], dtype="object")).astype("datetime64[ns]")

    def column(name: str) -> np.ndarray:
        return np.asarray([_float(getattr(r, name)) for _, r in rows], dtype=float)

    return pd.DataFrame({
        "date": start + pd.offsets.MonthEnd(0),
        "price": column("sp500"),
        "dividend": column("dividend"),
        "earnings": column("earnings"),
        "cpi": column("cpi"),
        "long_rate": column("gs10"),
        "cape": column("cape"),
    })


class ExternalFolder(CuratedFolder[_ExternalScan, External]):
    """data/external: the provenance table first, then each data set's CSV against its schema."""

    subdir = EXTERNAL_SUBDIR
    scan_type = _ExternalScan
    error_type = ExternalDataError
    folder_hint = " (the shipped data has one: `bubblelens data init DIR` copies it)"

    def read(self, scan: _ExternalScan) -> None:
        _read_datasets(scan)
        # Ordered by data-set id (the name datasets.toml uses), not by file name: 'a' before 'a-b'.
        scan.csv_ids = sorted(Path(name).stem for name in scan.csv_names())
        for dataset_id in scan.csv_ids:
            _read_csv(scan, dataset_id)

    def cross_check(self, scan: _ExternalScan) -> None:
        """datasets.toml against the files: one table per CSV, one CSV per table, the row counts agree."""
        toml_shown = scan.shown(DATASETS_FILE)
        for dataset_id in scan.csv_ids:
            if dataset_id not in scan.tables and scan.has(DATASETS_FILE):
                scan.error(scan.shown(f"{dataset_id}.csv"), None, None,
                           f"data set {dataset_id!r} has no [{dataset_id}] table in {DATASETS_FILE}")
        for dataset_id, (line, model) in scan.tables.items():
            if dataset_id not in scan.csv_ids:
                scan.error(toml_shown, line, None, f"[{dataset_id}] describes a data set with no file "
                           f"{EXTERNAL_SUBDIR}/{dataset_id}.csv")
            elif model is not None and dataset_id in scan.counts and model.rows != scan.counts[dataset_id]:
                scan.error(toml_shown, scan.key_lines.get((dataset_id, "rows"), line), "rows",
                           f"[{dataset_id}] says {model.rows} rows; {EXTERNAL_SUBDIR}/{dataset_id}.csv has "
                           f"{scan.counts[dataset_id]}")
        for dataset_id in _SCHEMAS:
            if dataset_id not in scan.csv_ids:
                scan.error(scan.shown(f"{dataset_id}.csv"), None, None,
                           "is missing (bubblelens reads this data set; copy it from the shipped data/external)")

    def build(self, scan: _ExternalScan, data_dir: Path, issues: list[Issue]) -> External:
        # The origin (producer, citation, URL, access day, licence) travels beside the frames it describes.
        datasets = {dataset_id: DatasetInfo(dataset_id=dataset_id, file=f"{EXTERNAL_SUBDIR}/{dataset_id}.csv",
                                            **model.model_dump())
                    for dataset_id, (_, model) in scan.tables.items()}
        log.debug("loaded %d external data sets, %d warnings", len(datasets), len(issues))
        return External(epoch=_epoch_frame(scan.rows[EPOCH_ID]), shiller=_shiller_frame(scan.rows[SHILLER_ID]),
                        datasets=datasets, data_dir=data_dir, issues=issues)


_FOLDER = ExternalFolder()


def validate_external(data_dir: Path, today: date | None = None) -> list[Issue]:
    """Every error and warning in `data_dir/external`, errors first, each naming file, line and column."""
    return _FOLDER.validate(data_dir, today)


def load_external(data_dir: Path, today: date | None = None) -> External:
    """Validated Epoch and Shiller frames with their provenance; raises `ExternalDataError` (exit 3)."""
    return _FOLDER.load(data_dir, today)
