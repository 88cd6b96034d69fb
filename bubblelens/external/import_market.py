"""The curated-series side of the METR and Epoch importers: merge rows, cite a source, describe a series.

Both importers turn a publisher's file into rows of `<data_dir>/market/<series_id>.csv` (the format of
data/market/README.md, with a `label` column). This module owns what they share: reading a series file
as it is, merging the imported rows into it (rows another source contributed are kept unless the import
now covers their label), adding the source row to `sources.csv` when the id is new, and adding a
`series.toml` table from the importer's template when the series has none. Existing source rows and
series tables are never edited: they may carry an analyst's wording.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bubblelens.core.curated_files import parse_toml
from bubblelens.core.provenance import Source
from bubblelens.external.imports import Plan, Table, TableDiff, diff_tables, parse_float, set_toml_table, toml_table
from bubblelens.market.schema import OPTIONAL_SERIES_COLUMNS, SERIES_COLUMNS, SERIES_META_FILE, SOURCES_FILE

MARKET = "market"
SERIES_TEMPLATE_KEYS = ("title", "description", "unit", "frequency", "category", "reliability",
                        "reliability_note", "direction", "transform", "classification_note")


@dataclass(frozen=True)
class Row:
    """One row of a curated series, as text (what the CSV holds)."""

    date: str
    value: str
    unit: str
    source_id: str
    note: str
    label: str = ""
    bound: str = ""

    @property
    def key(self) -> str:
        return f"{self.date} {self.label}" if self.label else self.date


def read_series(path: Path) -> tuple[list[str], list[Row]]:
    """(header, rows) of an existing series file; ([], []) when there is none yet.

    The folder was valid before the import (the result is validated again before anything is written),
    so this reads leniently: a missing optional column is an empty cell.
    """
    if not path.is_file():
        return [], []
    reader = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    rows = [Row(**{name: (rec.get(name) or "") for name in SERIES_COLUMNS + OPTIONAL_SERIES_COLUMNS})
            for rec in reader if any((v or "").strip() for v in rec.values())]
    return header, rows


def series_table(rows: list[Row]) -> Table:
    return {r.key: {"value": parse_float(r.value)} for r in rows}


def merge(existing: list[Row], imported: list[Row], ours: Callable[[Row], bool]) -> list[Row]:
    """The imported rows plus the existing rows that are not `ours` and whose label the import lacks.

    `ours` recognises rows an earlier import of the same kind wrote (same source, or the importer's note
    mark): they are replaced wholesale, so a model that left the selection leaves the series too. Rows
    from other sources (a value quoted elsewhere) stay unless the import now gives that label a value.
    """
    labels = {r.label for r in imported}
    keep = [r for r in existing if not ours(r) and r.label not in labels]
    return sorted(keep + imported, key=lambda r: (r.date, r.label))


def series_bytes(header: list[str], rows: list[Row]) -> bytes:
    """The CSV: the standard columns, `label`, and `bound` only where the file already had it."""
    columns = list(SERIES_COLUMNS) + ["label"] + (["bound"] if "bound" in header else [])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([getattr(r, c) for c in columns])
    return buf.getvalue().encode("utf-8")


def series_update(market_dir: Path, series_id: str, imported: list[Row], ours: Callable[[Row], bool]
                  ) -> tuple[bytes, TableDiff]:
    """New bytes of one series file and the diff against what is there."""
    header, existing = read_series(market_dir / f"{series_id}.csv")
    rows = merge(existing, imported, ours)
    diff = diff_tables(series_id, f"{MARKET}/{series_id}.csv", series_table(existing), series_table(rows))
    return series_bytes(header, rows), diff


def source_ids(market_dir: Path) -> set[str]:
    path = market_dir / SOURCES_FILE
    if not path.is_file():
        return set()
    reader = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))
    return {(rec.get("source_id") or "").strip() for rec in reader}


def add_source(market_dir: Path, source: Source) -> bytes | None:
    """sources.csv with `source` appended, or None when its id is already defined (left as it is)."""
    if source.source_id in source_ids(market_dir):
        return None
    path = market_dir / SOURCES_FILE
    raw = path.read_bytes() if path.is_file() else b""
    newline = "\r\n" if b"\r\n" in raw else "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    if not raw:
        writer.writerow([f for f in Source.__dataclass_fields__])
    writer.writerow([getattr(source, f) for f in Source.__dataclass_fields__])
    sep = b"" if not raw or raw.endswith(b"\n") else newline.encode()
    return raw + sep + buf.getvalue().encode("utf-8")


def add_series_tables(market_dir: Path, templates: dict[str, dict[str, str]]) -> tuple[bytes | None, list[str]]:
    """series.toml with a table added for every series in `templates` that has none; (None, []) when all
    have one. Returns the new bytes and the ids added."""
    path = market_dir / SERIES_META_FILE
    raw = path.read_bytes() if path.is_file() else b""
    tables, _, _ = parse_toml(raw, SERIES_META_FILE)
    text, added = raw.decode("utf-8"), []
    for series_id, template in templates.items():
        if series_id in tables:
            continue
        items = {k: template[k] for k in SERIES_TEMPLATE_KEYS if template.get(k, "") != ""}
        text = set_toml_table(text, series_id, toml_table(series_id, items))
        added.append(series_id)
    return (text.encode("utf-8") if added else None), added


def add_provenance(plan: Plan, market_dir: Path, source: Source, templates: dict[str, dict[str, str]]) -> None:
    """Add to `plan` the source row (when its id is new) and a series.toml table for each series it writes
    that has none (from `templates`); say what was done in `plan.metadata`."""
    sources = add_source(market_dir, source)
    if sources is None:
        plan.metadata.append(f"{SOURCES_FILE}: {source.source_id} already defined, left as it is")
    else:
        plan.writes[SOURCES_FILE] = sources
        plan.metadata.append(f"{SOURCES_FILE}: added {source.source_id}")
    wanted = {d.target: templates[d.target] for d in plan.diffs if d.target in templates}
    meta, added = add_series_tables(market_dir, wanted)
    if meta is not None:
        plan.writes[SERIES_META_FILE] = meta
        plan.metadata.extend(f"{SERIES_META_FILE}: added [{s}] from the built-in template" for s in added)


def collapse(text: str) -> str:
    """A passage quoted on one line: runs of whitespace (line breaks, indentation) become one space."""
    return " ".join(text.split())
