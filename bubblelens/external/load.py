"""External public data sets (Epoch's Notable AI Models, Shiller's S&P 500): validate, load, fingerprint.

Why they are kept apart from data/market: the market series are hand-curated values with one quoted
source per row; these are whole tables copied unchanged from public mirrors, so provenance is per data set
(`datasets.toml`: producer, citation, licence, mirror and commit, access day, caveats) and the checks
are about shape (columns, dates, gaps, where a value may be missing) rather than about quotes. `load_external`
refuses data with any error, exactly as `load_market` does, so a broken copy never reaches a trend fit
or a bubble test; warnings stay on `External.issues`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from bubblelens.core.errors import DataError
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
    toml_key_lines,
)
from bubblelens.market.load import display_path
from bubblelens.market.schema import (STALE_AFTER_DAYS, Issue, decode_csv_bytes, parse_toml, pydantic_issues,
                                      read_csv_records)

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


class ExternalDataError(DataError):
    """Invalid external data; carries every `Issue` so a CLI can list them all."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        more = f" (and {len(errors) - 1} more errors; run `bubblelens data check`)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0] if errors else 'invalid data'}{more}")


def external_fingerprint(data_dir: Path) -> str:
    """sha256 over (relative name, bytes) of every non-hidden file under data_dir/external, sorted."""
    return tree_digest(curated(data_dir, EXTERNAL_SUBDIR))


@dataclass
class _Scan:
    issues: list[Issue] = field(default_factory=list)
    tables: dict[str, tuple[int | None, DatasetModel | None]] = field(default_factory=dict)
    key_lines: dict[tuple[str, str], int] = field(default_factory=dict)
    rows: dict[str, list[tuple[int, EpochRowModel | ShillerRowModel]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)      # data rows of a cleanly read CSV

    def error(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.issues.append(Issue("error", file, line, column, message))


def _scan_datasets(path: Path, scan: _Scan) -> None:
    shown = display_path(path)
    if not path.is_file():
        scan.error(shown, None, None, f"{DATASETS_FILE} is missing (it states each data set's provenance)")
        return
    raw = path.read_bytes()
    tables, lines, issues = parse_toml(raw, shown)
    scan.issues.extend(issues)
    scan.key_lines = toml_key_lines(decode_csv_bytes(raw, shown)[0])
    for dataset_id, table in tables.items():
        line = lines.get(dataset_id)
        if not isinstance(table, dict):
            scan.error(shown, line, None, f"{dataset_id!r} must be a table ([{dataset_id}])")
            scan.tables[dataset_id] = (line, None)
            continue
        try:
            scan.tables[dataset_id] = (line, DatasetModel.model_validate(table))
        except ValidationError as exc:
            scan.tables[dataset_id] = (line, None)
            for i in pydantic_issues(exc, shown, line):
                at = scan.key_lines.get((dataset_id, i.column), line) if i.column else line
                scan.issues.append(Issue(i.severity, i.file, at, i.column, f"[{dataset_id}] {i.message}"))


def _scan_csv(path: Path, scan: _Scan, today: date) -> None:
    dataset_id, shown = path.stem, display_path(path)
    if dataset_id not in _SCHEMAS:
        scan.issues.append(Issue("warning", shown, None, None, f"bubblelens reads no data set {dataset_id!r} "
                                 f"(known: {', '.join(_SCHEMAS)}); its rows are not checked"))
        return
    required, optional, model = _SCHEMAS[dataset_id]
    text, issues = decode_csv_bytes(path.read_bytes(), shown)
    header, records, read_issues = read_csv_records(text, shown, required, optional)
    scan.issues.extend(issues + read_issues)
    if not issues and not read_issues:
        scan.counts[dataset_id] = len(records)
    if any(name not in header for name in required):
        return                       # the header error says it all; no need for one per row
    rows, checked = [], []
    for line, cells in records:
        failed: set[str] = set()       # the columns of this row that broke a rule by themselves
        try:
            rows.append((line, model.model_validate(cells, context={"today": today})))
        except ValidationError as exc:
            scan.issues.extend(pydantic_issues(exc, shown, line))
            failed = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        checked.append((line, cells, failed))
    if not records:
        scan.error(shown, None, None, "data set has no data rows")
    if model is ShillerRowModel:
        _scan_months(checked, shown, scan)
        _scan_staleness(checked, shown, scan, today)
    scan.rows[dataset_id] = rows


def _scan_months(checked: list[tuple[int, dict[str, str], set[str]]], shown: str, scan: _Scan) -> None:
    """The rules across Shiller rows, on every cell that is valid by itself: a row with one bad cell still
    counts as its month (so it does not also show up as a gap), and a bad date restarts the sequence."""
    months = [(line, None if "date" in failed else cells["date"]) for line, cells, failed in checked]
    scan.issues.extend(month_sequence_issues(months, shown, column="date"))
    for column in TRAILING_MISSING + LEADING_OR_TRAILING_MISSING:
        present = [(line, None if column in failed else cells[column] != "") for line, cells, failed in checked]
        scan.issues.extend(missing_run_issues(present, shown, column,
                                              leading=column in LEADING_OR_TRAILING_MISSING))


def _scan_staleness(checked: list[tuple[int, dict[str, str], set[str]]], shown: str, scan: _Scan,
                    today: date) -> None:
    """The valuation ratios end with the newest month that has both dividends and earnings: warn, as for a
    monthly curated series, when that month is older than a month's cadence allows."""
    full = [(line, cells["date"]) for line, cells, failed in checked
            if not failed and cells.get("dividend") and cells.get("earnings")]
    if not full:
        return
    line, month = full[-1]
    end = (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date()
    age, allowed = (today - end).days, STALE_AFTER_DAYS["monthly"]
    if age > allowed:
        scan.issues.append(Issue("warning", shown, line, None, f"stale: the newest month with dividends and "
                                 f"earnings ({month[:7]}) is {age} days old; monthly series are stale after "
                                 f"{allowed} days (one period plus the usual publication lag)"))


def _cross_check(ext_dir: Path, scan: _Scan, csv_ids: list[str]) -> None:
    """datasets.toml against the files: one table per CSV, one CSV per table, the row counts agree."""
    toml_shown = display_path(ext_dir / DATASETS_FILE)
    for dataset_id in csv_ids:
        if dataset_id not in scan.tables and (ext_dir / DATASETS_FILE).is_file():
            scan.error(display_path(ext_dir / f"{dataset_id}.csv"), None, None,
                       f"data set {dataset_id!r} has no [{dataset_id}] table in {DATASETS_FILE}")
    for dataset_id, (line, model) in scan.tables.items():
        if dataset_id not in csv_ids:
            scan.error(toml_shown, line, None, f"[{dataset_id}] describes a data set with no file "
                       f"{EXTERNAL_SUBDIR}/{dataset_id}.csv")
        elif model is not None and dataset_id in scan.counts and model.rows != scan.counts[dataset_id]:
            scan.error(toml_shown, scan.key_lines.get((dataset_id, "rows"), line), "rows",
                       f"[{dataset_id}] says {model.rows} rows; {EXTERNAL_SUBDIR}/{dataset_id}.csv has "
                       f"{scan.counts[dataset_id]}")
    for dataset_id in _SCHEMAS:
        if dataset_id not in csv_ids:
            scan.error(display_path(ext_dir / f"{dataset_id}.csv"), None, None,
                       "is missing (bubblelens reads this data set; copy it from the shipped data/external)")


def _scan_all(data_dir: Path, today: date | None) -> _Scan:
    scan = _Scan()
    ext_dir = curated(data_dir, EXTERNAL_SUBDIR)
    if not ext_dir.is_dir():
        scan.error(display_path(ext_dir), None, None, f"curated-data directory has no {EXTERNAL_SUBDIR}/ folder "
                   "(the shipped data has one: `bubblelens data init DIR` copies it)")
        return scan
    _scan_datasets(ext_dir / DATASETS_FILE, scan)
    csv_ids = sorted(p.stem for p in ext_dir.glob("*.csv") if not p.name.startswith("."))
    for dataset_id in csv_ids:
        _scan_csv(ext_dir / f"{dataset_id}.csv", scan, today or date.today())
    _cross_check(ext_dir, scan, csv_ids)
    return scan


def validate_external(data_dir: Path, today: date | None = None) -> list[Issue]:
    """Every error and warning in `data_dir/external`, errors first, each naming file, line and column."""
    return sorted(_scan_all(Path(data_dir), today).issues, key=lambda i: i.severity != "error")


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


def load_external(data_dir: Path, today: date | None = None) -> External:
    """Validated Epoch and Shiller frames with their provenance; raises `ExternalDataError` (exit 3)."""
    data_dir = Path(data_dir)
    scan = _scan_all(data_dir, today)
    issues = sorted(scan.issues, key=lambda i: i.severity != "error")
    if any(i.severity == "error" for i in issues):
        raise ExternalDataError(issues)
    datasets = {}
    for dataset_id, (_, m) in scan.tables.items():
        datasets[dataset_id] = DatasetInfo(dataset_id=dataset_id, file=f"{EXTERNAL_SUBDIR}/{dataset_id}.csv",
                                           **m.model_dump())
    log.debug("loaded %d external data sets, %d warnings", len(datasets), len(issues))
    return External(epoch=_epoch_frame(scan.rows[EPOCH_ID]), shiller=_shiller_frame(scan.rows[SHILLER_ID]),
                    datasets=datasets, data_dir=data_dir, issues=issues)
