"""Curated market-sentiment series and their sources: load, validate across files, describe, append.

The data live in `<data_dir>/market/`: one CSV per series (stem = series id), `sources.csv` (who said
each number, where, when read, the exact quote), `series.toml` (one table per series: what it measures,
how it is classed and why — the owid/etl "origin" idea) and `categories.toml` (the classes analysts may
use). A row without a valid source never reaches a report, so `load_market` refuses data with any error;
warnings (an uncited source, a stale series) are kept on `Market.issues` for the report to show.
Conventions (dates, units, bounds, labels) are those of `data/market/README.md`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from bubblelens.core.io import atomic_write_bytes
from bubblelens.core.errors import DataError
from bubblelens.core.provenance import Source  # one Source type from curated CSV to rendered appendix
from bubblelens.market.schema import (
    CATEGORIES_FILE, CATEGORY_UNIT, OPTIONAL_SERIES_COLUMNS, SERIES_COLUMNS, SERIES_META_FILE, SOURCE_COLUMNS,
    SOURCES_FILE, STALE_AFTER_DAYS, URL_NOT_RECORDED, Issue, RowModel, SeriesMetaModel, SourceModel,
    bounded_score_issues, check_id, decode_csv_bytes, parse_iso_date, parse_toml, period_bounds, pydantic_issues,
    read_csv_records,
)

log = logging.getLogger(__name__)

MARKET_SUBDIR = "market"
NO_STALENESS_CATEGORIES = ("reference", "assumption")   # closed: no new values are expected
_NON_SERIES_CSV = (SOURCES_FILE,)


@dataclass(frozen=True)
class SeriesMeta:
    series_id: str
    title: str
    description: str
    unit: str
    frequency: str
    category: str
    reliability: str
    direction: str              # 'up' | 'down': which way of the stored value means "more"
    classification_note: str
    file: str                   # path relative to data_dir, e.g. "market/mmlu_sota.csv"
    reliability_note: str = ""
    transform: str = ""         # '' | 'error_rate' | 'odds' (see values_for_analysis)


@dataclass
class Series:
    meta: SeriesMeta
    frame: pd.DataFrame         # date, date_text, value, value_text, unit, source_id, note, label, bound, line

    def source_ids(self) -> list[str]:
        """Distinct cited sources, in order of first appearance."""
        return list(dict.fromkeys(self.frame["source_id"]))

    def values_for_analysis(self) -> pd.Series:
        """Values on the scale growth analysis should use: a bounded score becomes its error rate
        (100 - score), which can keep falling geometrically where the score cannot keep rising, or its odds
        (score / (100 - score)), whose logarithm is the logit: a log-linear fit then grows the odds at a
        constant rate, and a score near its ceiling needs ever larger odds gains to move."""
        if self.meta.transform == "error_rate":
            return 100.0 - self.frame["value"]
        if self.meta.transform == "odds":
            return self.frame["value"] / (100.0 - self.frame["value"])
        return self.frame["value"]

    @property
    def more_is_reciprocal(self) -> bool:
        """Is "more" the reciprocal of `values_for_analysis`? The one place that decides, for the growth
        table, its chart and the claims: yes for a falling price ('down') and for a score analysed as its
        error rate; both together cancel."""
        return (self.meta.direction == "down") != (self.meta.transform == "error_rate")

    def toward_more(self) -> pd.Series:
        """`values_for_analysis` oriented so that larger always means more (reciprocal where needed)."""
        v = self.values_for_analysis()
        return 1.0 / v if self.more_is_reciprocal else v


@dataclass
class Market:
    series: dict[str, Series]
    sources: dict[str, Source]
    data_dir: Path
    issues: list[Issue] = field(default_factory=list)   # warnings kept after load
    categories: dict[str, str] = field(default_factory=dict)   # category -> description, file order

    def fingerprint(self) -> str:
        return market_fingerprint(self.data_dir)


class MarketDataError(DataError):
    """Invalid curated data; carries every `Issue` so a CLI can list them all."""

    def __init__(self, issues: list[Issue], action: str = "") -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        more = f" (and {len(errors) - 1} more errors; run `bubblelens data check`)" if len(errors) > 1 else ""
        super().__init__(f"{action}{errors[0] if errors else 'invalid data'}{more}")


def market_fingerprint(data_dir: Path) -> str:
    """sha256 over (relative name, bytes) of every non-hidden file under data_dir/market, sorted."""
    root = Path(data_dir) / MARKET_SUBDIR
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def display_path(path: Path) -> str:
    """Path as the analyst should see it: relative to the working directory when below it (shared with
    external/load.py, so both folders' issues read alike)."""
    path = path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass
class _Scan:
    """Everything read from one data directory, before it becomes public objects."""

    issues: list[Issue] = field(default_factory=list)
    sources: dict[str, tuple[int, SourceModel]] = field(default_factory=dict)
    defined: dict[str, int] = field(default_factory=dict)   # every source id written, valid or not
    metas: dict[str, SeriesMetaModel] = field(default_factory=dict)
    rows: dict[str, list[tuple[int, RowModel]]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)

    def error(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.issues.append(Issue("error", file, line, column, message))


def _read(path: Path, overrides: dict[str, bytes]) -> bytes:
    return overrides[path.name] if path.name in overrides else path.read_bytes()


def _read_toml(path: Path, scan: _Scan, overrides: dict[str, bytes]) -> tuple[dict, dict[str, int]]:
    """Parse a TOML file; return (tables, {table name: header line}) or record why it cannot be read."""
    if not path.is_file() and path.name not in overrides:
        scan.error(display_path(path), None, None, f"{path.name} is missing")
        return {}, {}
    data, lines, issues = parse_toml(_read(path, overrides), display_path(path))
    scan.issues.extend(issues)
    return data, lines


def _scan_sources(path: Path, scan: _Scan, today: date, overrides: dict[str, bytes]) -> None:
    shown = display_path(path)
    if not path.is_file() and path.name not in overrides:
        scan.error(shown, None, None, f"{SOURCES_FILE} is missing")
        return
    text, issues = decode_csv_bytes(_read(path, overrides), shown)
    scan.issues.extend(issues)
    _, records, issues = read_csv_records(text, shown, SOURCE_COLUMNS)
    scan.issues.extend(issues)
    for line, cells in records:
        # An invalid source row still defines its id, so rows citing it are not reported a second time.
        sid = cells.get("source_id", "").strip()
        if sid in scan.defined:
            scan.error(shown, line, "source_id", f"source {sid!r} is defined twice "
                       f"(first on line {scan.defined[sid]})")
            continue
        if sid:
            scan.defined[sid] = line
        try:
            model = SourceModel.model_validate(cells, context={"today": today})
        except ValidationError as exc:
            scan.issues.extend(pydantic_issues(exc, shown, line))
            continue
        scan.sources[model.source_id] = (line, model)


def _scan_meta(market_dir: Path, scan: _Scan, overrides: dict[str, bytes]) -> None:
    categories, lines = _read_toml(market_dir / CATEGORIES_FILE, scan, overrides)
    for name, table in categories.items():
        if not isinstance(table, dict) or not str(table.get("description", "")).strip():
            scan.error(display_path(market_dir / CATEGORIES_FILE), lines.get(name), None,
                       f"category [{name}] needs a description = \"...\"")
        else:
            scan.categories[name] = str(table["description"])
    tables, lines = _read_toml(market_dir / SERIES_META_FILE, scan, overrides)
    shown = display_path(market_dir / SERIES_META_FILE)
    for series_id, table in tables.items():
        line = lines.get(series_id)
        if not isinstance(table, dict):
            scan.error(shown, line, None, f"{series_id!r} must be a table ([{series_id}])")
            continue
        try:
            meta = SeriesMetaModel.model_validate(table)
        except ValidationError as exc:
            scan.issues.extend(Issue(i.severity, i.file, i.line, i.column, f"[{series_id}] {i.message}")
                               for i in pydantic_issues(exc, shown, line))
            continue
        if categories and meta.category not in categories:
            scan.error(shown, line, "category", f"[{series_id}] unknown category {meta.category!r} "
                       f"(defined in {CATEGORIES_FILE}: {', '.join(categories)})")
        scan.metas[series_id] = meta


def _scan_series(path: Path, scan: _Scan, today: date, overrides: dict[str, bytes]) -> None:
    series_id, shown = path.stem, display_path(path)
    scan.files[series_id] = shown
    try:
        check_id(series_id, kind="series id")
    except PydanticCustomError as exc:
        scan.error(shown, None, None, f"series id (the file name): {exc}")
    text, issues = decode_csv_bytes(_read(path, overrides), shown)
    scan.issues.extend(issues)
    header, records, issues = read_csv_records(text, shown, SERIES_COLUMNS, OPTIONAL_SERIES_COLUMNS)
    scan.issues.extend(issues)
    if header and not records:
        scan.error(shown, None, None, "series has no data rows")
    rows, seen = [], {}
    meta = scan.metas.get(series_id)
    for line, cells in records:
        try:
            row = RowModel.model_validate(cells, context={"today": today})
        except ValidationError as exc:
            scan.issues.extend(pydantic_issues(exc, shown, line))
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


def _cross_check(market_dir: Path, scan: _Scan, today: date) -> None:
    """Checks between files: metadata present, sources defined and used, series up to date."""
    meta_file, sources_file = display_path(market_dir / SERIES_META_FILE), display_path(market_dir / SOURCES_FILE)
    for series_id, shown in scan.files.items():
        if series_id not in scan.metas:
            scan.error(shown, None, None, f"series {series_id!r} has no [{series_id}] table in "
                       f"{SERIES_META_FILE}")
    for series_id in scan.metas:
        if series_id not in scan.files:
            scan.error(meta_file, None, None, f"[{series_id}] describes a series with no file "
                       f"{MARKET_SUBDIR}/{series_id}.csv")
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
        age = (today - period_bounds(newest.date)[1]).days
        cadence = meta.frequency if meta is not None else "irregular"
        if age > STALE_AFTER_DAYS[cadence]:
            scan.issues.append(Issue("warning", scan.files[series_id], line, None,
                                     f"stale: newest value ({newest.date}) is {age} days old; {cadence} series are "
                                     f"stale after {STALE_AFTER_DAYS[cadence]} days (one period plus the usual "
                                     "publication lag)"))
    for source_id, (line, model) in scan.sources.items():
        if model.url == URL_NOT_RECORDED:
            scan.issues.append(Issue("warning", sources_file, line, "url",
                                     f"source {source_id!r} has no recorded address: a reader cannot re-find "
                                     f"the passage"))
        if source_id not in cited:
            scan.issues.append(Issue("warning", sources_file, line, None,
                                     f"source {source_id!r} is not cited by any series row"))


def _scan_all(data_dir: Path, today: date | None, overrides: dict[str, bytes] | None = None) -> _Scan:
    today = today or date.today()
    overrides = overrides or {}
    market_dir = Path(data_dir) / MARKET_SUBDIR
    scan = _Scan()
    if not market_dir.is_dir():
        scan.error(display_path(market_dir), None, None, "curated-data directory has no market/ folder")
        return scan
    _scan_sources(market_dir / SOURCES_FILE, scan, today, overrides)
    _scan_meta(market_dir, scan, overrides)
    names = {p.name for p in market_dir.glob("*.csv")} | {n for n in overrides if n.endswith(".csv")}
    for name in sorted(names - set(_NON_SERIES_CSV)):
        if not name.startswith("."):
            _scan_series(market_dir / name, scan, today, overrides)
    _cross_check(market_dir, scan, today)
    return scan


def validate(data_dir: Path, today: date | None = None) -> list[Issue]:
    """Every error and warning in `data_dir/market`, errors first, each naming file, line and column."""
    issues = _scan_all(Path(data_dir), today).issues
    return sorted(issues, key=lambda i: i.severity != "error")


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


def load_market(data_dir: Path, today: date | None = None) -> Market:
    """Validated series and sources; raises `MarketDataError` (a `DataError`, exit 3) on any error."""
    data_dir = Path(data_dir)
    scan = _scan_all(data_dir, today)
    if any(i.severity == "error" for i in scan.issues):
        raise MarketDataError(sorted(scan.issues, key=lambda i: i.severity != "error"))
    sources = {sid: Source(**m.model_dump()) for sid, (_, m) in scan.sources.items()}
    series = {}
    for series_id, rows in scan.rows.items():
        m = scan.metas[series_id]
        meta = SeriesMeta(series_id=series_id, title=m.title, description=m.description, unit=m.unit,
                          frequency=m.frequency, category=m.category, reliability=m.reliability,
                          direction=m.direction, classification_note=m.classification_note,
                          file=f"{MARKET_SUBDIR}/{series_id}.csv", reliability_note=m.reliability_note,
                          transform=m.transform)
        series[series_id] = Series(meta, _frame(rows))
    log.debug("loaded %d series, %d sources, %d warnings", len(series), len(sources), len(scan.issues))
    return Market(series=series, sources=sources, data_dir=data_dir, issues=scan.issues,
                  categories=scan.categories)


def describe(market: Market) -> list[dict]:
    """One row per series for `bubblelens data list` (categories in categories.toml order, then id)."""
    out = []
    for sid, s in market.series.items():
        order = s.frame.sort_values("date", kind="stable")
        out.append({
            "series_id": sid, "category": s.meta.category, "rows": len(s.frame),
            "first": order["date_text"].iloc[0], "last": order["date_text"].iloc[-1],
            "sources": len(s.source_ids()), "reliability": s.meta.reliability,
            "unit": s.meta.unit, "title": s.meta.title,
        })
    order = {name: i for i, name in enumerate(market.categories)}
    return sorted(out, key=lambda r: (order.get(r["category"], len(order)), r["category"], r["series_id"]))


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
        meta, _ = _read_toml(path.parent / SERIES_META_FILE, _Scan(), {})
        unit = str(meta.get(series_id, {}).get("unit", ""))
    cells = {"date": date, "value": str(value), "unit": unit, "source_id": source_id, "note": note,
             "label": label, "bound": ""}
    newline = "\r\n" if b"\r\n" in raw else "\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow([cells.get(h, "") for h in header])
    sep = b"" if raw.endswith(b"\n") or not raw else newline.encode()
    candidate = raw + sep + buf.getvalue().encode("utf-8")
    scan = _scan_all(Path(data_dir), today, overrides={path.name: candidate})
    errors = [i for i in scan.issues if i.severity == "error"]
    if errors:
        raise MarketDataError(errors, action=f"row not added to {display_path(path)}: ")
    atomic_write_bytes(path, candidate)
    log.info("added %s row %s to %s", series_id, date, display_path(path))
