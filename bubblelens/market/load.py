"""Curated market-sentiment series and their sources: load, validate across files, append.

The data live in `<data_dir>/market/`: one CSV per series (stem = series id), `sources.csv` (who said
each number, where, when read, the exact quote), `series.toml` (one table per series: what it measures,
how it is classed and why — the owid/etl "origin" idea) and `categories.toml` (the classes analysts may
use). A row without a valid source never reaches a report, so `load_market` refuses data with any error;
warnings (an uncited source, a stale series) are kept on `Market.issues` for the report to show.
Conventions (dates, units, bounds, labels) are those of `data/market/README.md`.

`MarketFolder` is this folder's loader in the shape every curated folder shares (core/curated_load.py):
`read` each file against market/schema.py, `cross_check` the files, `build` the objects of
market/series.py. `add_row` judges a candidate file with the same scan before writing it.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic_core import PydanticCustomError

from bubblelens.core.curated_files import Issue, display_path  # noqa: F401 - display_path: re-exported
from bubblelens.core.curated_load import CuratedDataError, CuratedFolder, Scan
from bubblelens.core.errors import DataError
from bubblelens.core.io import atomic_write_bytes
from bubblelens.core.provenance import Source  # one Source type from curated CSV to rendered appendix
from bubblelens.market.schema import (
    CATEGORIES_FILE, CATEGORY_UNIT, MARKET_SUBDIR, OPTIONAL_SERIES_COLUMNS, SERIES_COLUMNS, SERIES_META_FILE,
    SOURCE_COLUMNS, SOURCES_FILE, STALE_AFTER_DAYS, URL_NOT_RECORDED, RowModel, SeriesMetaModel, SourceModel,
    bounded_score_issues, check_id, parse_iso_date, period_bounds,
)
# The public objects live in market/series.py; callers have always imported them from here.
from bubblelens.market.series import Market, Series, SeriesMeta, describe, market_fingerprint  # noqa: F401

log = logging.getLogger(__name__)

NO_STALENESS_CATEGORIES = ("reference", "assumption")   # closed: no new values are expected
_NON_SERIES_CSV = (SOURCES_FILE,)


class MarketDataError(CuratedDataError):
    """Invalid curated market data (exit 3); carries every `Issue` so a CLI can list them all."""


@dataclass
class _MarketScan(Scan):
    """What the market files held, kept from `read` to `cross_check` and `build`."""

    sources: dict[str, tuple[int, SourceModel]] = field(default_factory=dict)
    defined: dict[str, int] = field(default_factory=dict)   # every source id written, valid or not
    metas: dict[str, SeriesMetaModel] = field(default_factory=dict)
    rows: dict[str, list[tuple[int, RowModel]]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)     # series id -> file as issues name it
    categories: dict[str, str] = field(default_factory=dict)


def _read_sources(scan: _MarketScan) -> None:
    if scan.missing(SOURCES_FILE):
        return
    shown = scan.shown(SOURCES_FILE)
    _, records, _ = scan.read_csv(SOURCES_FILE, SOURCE_COLUMNS)
    for line, cells in records:
        # An invalid source row still defines its id, so rows citing it are not reported a second time.
        sid = cells.get("source_id", "").strip()
        if sid in scan.defined:
            scan.error(shown, line, "source_id", f"source {sid!r} is defined twice "
                       f"(first on line {scan.defined[sid]})")
            continue
        if sid:
            scan.defined[sid] = line
        model, _ = scan.check(SourceModel, cells, shown, line, context={"today": scan.today})
        if model is not None:
            scan.sources[model.source_id] = (line, model)


def _read_meta(scan: _MarketScan) -> None:
    categories = scan.read_toml(CATEGORIES_FILE)
    for name, table in categories.tables.items():
        if not isinstance(table, dict) or not str(table.get("description", "")).strip():
            scan.error(scan.shown(CATEGORIES_FILE), categories.lines.get(name), None,
                       f"category [{name}] needs a description = \"...\"")
        else:
            scan.categories[name] = str(table["description"])
    described = scan.read_toml(SERIES_META_FILE)
    shown = scan.shown(SERIES_META_FILE)
    for series_id, table in described.tables.items():
        line = described.lines.get(series_id)
        if not isinstance(table, dict):
            scan.error(shown, line, None, f"{series_id!r} must be a table ([{series_id}])")
            continue
        # A field fault names its table: series.toml holds dozens, and the header line alone is far away.
        meta, _ = scan.check(SeriesMetaModel, table, shown, line, restate=lambda i, sid=series_id:
                             dataclasses.replace(i, message=f"[{sid}] {i.message}"))
        if meta is None:
            continue
        if categories.tables and meta.category not in categories.tables:
            scan.error(shown, line, "category", f"[{series_id}] unknown category {meta.category!r} "
                       f"(defined in {CATEGORIES_FILE}: {', '.join(categories.tables)})")
        scan.metas[series_id] = meta


def _read_series(scan: _MarketScan, name: str) -> None:
    series_id, shown = Path(name).stem, scan.shown(name)
    scan.files[series_id] = shown
    try:
        check_id(series_id, kind="series id")
    except PydanticCustomError as exc:
        scan.error(shown, None, None, f"series id (the file name): {exc}")
    header, records, _ = scan.read_csv(name, SERIES_COLUMNS, OPTIONAL_SERIES_COLUMNS)
    if header and not records:
        scan.error(shown, None, None, "series has no data rows")
    rows, seen = [], {}
    meta = scan.metas.get(series_id)
    for line, cells in records:
        row, _ = scan.check(RowModel, cells, shown, line, context={"today": scan.today})
        if row is None:
            continue
        key = (row.date, row.label)
        if key in seen:
            what = f"date {row.date!r}, label {row.label!r}" if "label" in header else f"date {row.date!r}"
            scan.error(shown, line, "date", f"duplicate key ({what}): first on line {seen[key]}")
            continue
        seen[key] = line
        if meta is not None and row.unit != meta.unit:
            scan.error(shown, line, "unit", f"unit {row.unit!r} differs from the series unit "
                       f"{meta.unit!r} in {SERIES_META_FILE}")
        rows.append((line, row))
    scan.rows[series_id] = rows


def _check_series(scan: _MarketScan) -> set[str]:
    """Metadata present for every file and a file for every table, sources defined, scores bounded, series
    up to date; returns the source ids the rows cite."""
    for series_id, shown in scan.files.items():
        if series_id not in scan.metas:
            scan.error(shown, None, None, f"series {series_id!r} has no [{series_id}] table in "
                       f"{SERIES_META_FILE}")
    for series_id in scan.metas:
        if series_id not in scan.files:
            scan.error(scan.shown(SERIES_META_FILE), None, None, f"[{series_id}] describes a series with no "
                       f"file {MARKET_SUBDIR}/{series_id}.csv")
    cited: set[str] = set()
    for series_id, rows in scan.rows.items():
        for line, row in rows:
            cited.add(row.source_id)
            if scan.defined and row.source_id not in scan.defined:
                scan.error(scan.files[series_id], line, "source_id",
                           f"source_id {row.source_id!r} is not defined in {SOURCES_FILE}")
        meta = scan.metas.get(series_id)
        scan.issues.extend(bounded_score_issues(rows, meta.transform, scan.files[series_id]) if meta else [])
        if not rows or (meta is not None and meta.category in NO_STALENESS_CATEGORIES):
            continue
        line, newest = max(rows, key=lambda lr: period_bounds(lr[1].date)[1])
        age = (scan.today - period_bounds(newest.date)[1]).days
        cadence = meta.frequency if meta is not None else "irregular"
        if age > STALE_AFTER_DAYS[cadence]:
            scan.warning(scan.files[series_id], line, None,
                         f"stale: newest value ({newest.date}) is {age} days old; {cadence} series are "
                         f"stale after {STALE_AFTER_DAYS[cadence]} days (one period plus the usual "
                         "publication lag)")
    return cited


def _check_sources(scan: _MarketScan, cited: set[str]) -> None:
    """Warnings a reader of the appendix would care about: a source with no address, one cited by nothing."""
    shown = scan.shown(SOURCES_FILE)
    for source_id, (line, model) in scan.sources.items():
        if model.url == URL_NOT_RECORDED:
            scan.warning(shown, line, "url", f"source {source_id!r} has no recorded address: a reader cannot "
                         f"re-find the passage")
        if source_id not in cited:
            scan.warning(shown, line, None, f"source {source_id!r} is not cited by any series row")


def _frame(rows: list[tuple[int, RowModel]]) -> pd.DataFrame:
    """Rows -> the documented frame; `YYYY` dates land on YYYY-07-01, category values become NaN."""
    dates = [parse_iso_date(r.date) for _, r in rows]
    values = [np.nan if r.unit == CATEGORY_UNIT else float(r.value) for _, r in rows]
    return pd.DataFrame({
        "date": pd.to_datetime(pd.Series(dates, dtype="object")).astype("datetime64[ns]"),
        "date_text": [r.date for _, r in rows],
        "value": np.asarray(values, dtype=float),
        "value_text": [r.value for _, r in rows],
        "unit": [r.unit for _, r in rows],
        "source_id": [r.source_id for _, r in rows],
        "note": [r.note for _, r in rows],
        "label": [r.label for _, r in rows],
        "bound": [r.bound for _, r in rows],
        "line": np.asarray([line for line, _ in rows], dtype=int),
    })


def _meta(series_id: str, m: SeriesMetaModel) -> SeriesMeta:
    return SeriesMeta(series_id=series_id, title=m.title, description=m.description, unit=m.unit,
                      frequency=m.frequency, category=m.category, reliability=m.reliability,
                      direction=m.direction, classification_note=m.classification_note,
                      file=f"{MARKET_SUBDIR}/{series_id}.csv", reliability_note=m.reliability_note,
                      transform=m.transform)


class MarketFolder(CuratedFolder[_MarketScan, Market]):
    """data/market: sources first (rows are checked against them), then the metadata (each series' unit),
    then every series CSV."""

    subdir = MARKET_SUBDIR
    scan_type = _MarketScan
    error_type = MarketDataError

    def read(self, scan: _MarketScan) -> None:
        _read_sources(scan)
        _read_meta(scan)
        for name in scan.csv_names(exclude=_NON_SERIES_CSV):
            _read_series(scan, name)

    def cross_check(self, scan: _MarketScan) -> None:
        _check_sources(scan, _check_series(scan))

    def build(self, scan: _MarketScan, data_dir: Path, issues: list[Issue]) -> Market:
        sources = {sid: Source(**m.model_dump()) for sid, (_, m) in scan.sources.items()}
        series = {sid: Series(_meta(sid, scan.metas[sid]), _frame(rows)) for sid, rows in scan.rows.items()}
        log.debug("loaded %d series, %d sources, %d warnings", len(series), len(sources), len(issues))
        return Market(series=series, sources=sources, data_dir=data_dir, issues=issues,
                      categories=scan.categories)


_FOLDER = MarketFolder()


def validate(data_dir: Path, today: date | None = None) -> list[Issue]:
    """Every error and warning in `data_dir/market`, errors first, each naming file, line and column."""
    return _FOLDER.validate(data_dir, today)


def load_market(data_dir: Path, today: date | None = None) -> Market:
    """Validated series and sources; raises `MarketDataError` (a `DataError`, exit 3) on any error."""
    return _FOLDER.load(data_dir, today)


def _declared_unit(market_dir: Path, series_id: str) -> str:
    """The unit series.toml gives a series ('' when it cannot be read: the check of the new row says why)."""
    tables = _MarketScan(folder=market_dir, today=date.today()).read_toml(SERIES_META_FILE).tables
    return str(tables.get(series_id, {}).get("unit", ""))


def add_row(data_dir: Path, series_id: str, date: str, value: str | float, source_id: str, note: str = "",
            label: str = "", unit: str | None = None, today: date | None = None) -> None:
    """Append one row to a series only if the whole dataset still validates; write atomically.

    The candidate file is validated in memory first; then it is written to a temporary file beside the
    original and moved over it with `os.replace`, so a failure or a kill leaves the old file untouched.
    """
    path = Path(data_dir) / MARKET_SUBDIR / f"{series_id}.csv"
    if not path.is_file():
        raise DataError(f"unknown series {series_id!r}: {display_path(path)} does not exist (create it and "
                        f"its [{series_id}] table in {SERIES_META_FILE} first; see docs/analyst-guide.md)")
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
    if label and "label" not in header:
        raise DataError(f"{display_path(path)} has no 'label' column; leave --label out for this series")
    if unit is None:
        unit = _declared_unit(path.parent, series_id)
    cells = {"date": date, "value": str(value), "unit": unit, "source_id": source_id, "note": note,
             "label": label, "bound": ""}
    newline = "\r\n" if b"\r\n" in raw else "\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow([cells.get(h, "") for h in header])
    sep = b"" if raw.endswith(b"\n") or not raw else newline.encode()
    candidate = raw + sep + buf.getvalue().encode("utf-8")
    scan = _FOLDER.scan(Path(data_dir), today, overrides={path.name: candidate})
    errors = [i for i in scan.issues if i.severity == "error"]
    if errors:
        raise MarketDataError(errors, action=f"row not added to {display_path(path)}: ")
    atomic_write_bytes(path, candidate)
    log.info("added %s row %s to %s", series_id, date, display_path(path))
