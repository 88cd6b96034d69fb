"""`bubblelens data import shiller FILE`: Robert Shiller's workbook ie_data.xls -> data/external.

The workbook (read with xlrd) has a sheet "Data" with a header row whose cells start Date, P, D, E, CPI;
the columns read are found by header name, first occurrence (names such as "Price" repeat further right):
Date, P, D, E, CPI, Rate GS10, CAPE. Data rows follow the header until the first row whose Date cell is
not a number (the footnotes). A date 1871.01 is January and 1871.1 October: month = round(100 x fraction).

An empty or text cell (CAPE's first decade says 'NA') is missing; any other cell that is not a positive
finite number is an error naming the sheet row (1-based, as Excel shows it) and the column. The rules
across rows are those of external/schema.py (one row per month; D, E, CPI and GS10 missing only at the
end, CAPE only at the start or the end), checked here on sheet rows so a fault names the workbook's cell.

Output: `external/shiller_ie_data.csv` (date,sp500,dividend,earnings,cpi,gs10,cape; each number the
`repr` of the workbook's float: shortest round trip, never rounded) and its `[shiller_ie_data]` table in
datasets.toml, every key of which this module writes (edit the wording here, not in the file).
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import xlrd
from xlrd.sheet import Cell

from bubblelens.core.errors import DataError
from bubblelens.external.imports import Plan, Table, diff_tables, parse_float, set_toml_table, sha256_of, toml_table
from bubblelens.external.schema import (DATASETS_FILE, EXTERNAL_SUBDIR, SHILLER_COLUMNS, SHILLER_ID,
                                        missing_run_issues, month_sequence_issues)

SHEET = "Data"
HEADER_START = ("Date", "P", "D", "E", "CPI")
# workbook header -> output column (date first; the order of SHILLER_COLUMNS)
COLUMNS = {"Date": "date", "P": "sp500", "D": "dividend", "E": "earnings", "CPI": "cpi", "Rate GS10": "gs10",
           "CAPE": "cape"}
REQUIRED = ("P",)
TRAILING = ("D", "E", "CPI", "Rate GS10")
LEADING_OR_TRAILING = ("CAPE",)
PUBLISHER_URL = "https://shillerdata.com"


@dataclass
class ShillerSheet:
    """The data rows of the sheet: months, and per output column one value (None = missing) per month."""

    header_row: int                                   # 1-based sheet row
    first_row: int                                    # 1-based sheet row of the first month
    months: list[tuple[int, int]] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)
    footnotes: list[str] = field(default_factory=list)


def _letter(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _where(name: str, row: int, header: str, col: int) -> str:
    return f"{name}: sheet '{SHEET}' row {row}, column {header} ({_letter(col)})"


def _text(cell: Cell) -> str:
    return str(cell.value).strip() if cell.ctype == xlrd.XL_CELL_TEXT else ""


def _find_header(rows: Sequence[Sequence[Cell]], name: str) -> tuple[int, dict[str, int]]:
    for r, row in enumerate(rows):
        if tuple(_text(c) for c in row[:len(HEADER_START)]) == HEADER_START:
            names = [_text(c) for c in row]
            missing = [h for h in COLUMNS if h not in names]
            if missing:
                raise DataError(f"{name}: sheet '{SHEET}' row {r + 1} (the header) has no column "
                                f"{', '.join(repr(m) for m in missing)}")
            return r, {h: names.index(h) for h in COLUMNS}
    raise DataError(f"{name}: sheet '{SHEET}' has no header row starting Date, P, D, E, CPI (is this Shiller's "
                    "ie_data.xls?)")


def _value(cell: Cell, where: str) -> float | None:
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_TEXT):
        return None
    if cell.ctype != xlrd.XL_CELL_NUMBER:
        shown = (xlrd.error_text_from_code.get(cell.value, "an error") if cell.ctype == xlrd.XL_CELL_ERROR
                 else repr(cell.value))
        raise DataError(f"{where}: {shown} is not a number (a cell holds a positive number, or is empty or text)")
    x = float(cell.value)
    if not math.isfinite(x) or x <= 0:
        raise DataError(f"{where}: {x!r} is not a positive finite number")
    return x


def _month(cell: Cell, where: str) -> tuple[int, int]:
    d = float(cell.value)
    year = math.floor(d) if math.isfinite(d) else 0
    hundredths = (d - year) * 100 if year else 0.0
    month = round(hundredths)
    if year < 1000 or not 1 <= month <= 12 or abs(hundredths - month) > 1e-6:
        raise DataError(f"{where}: {d!r} is not a month (Shiller writes YYYY.MM: 1871.01 = January, "
                        "1871.1 = October)")
    return year, month


def parse_rows(rows: Sequence[Sequence[Cell]], name: str) -> ShillerSheet:
    """Read the Data sheet's rows (xlrd `Cell`s); `DataError` naming the first bad cell."""
    h, at = _find_header(rows, name)
    sheet = ShillerSheet(header_row=h + 1, first_row=h + 2, values={COLUMNS[c]: [] for c in COLUMNS if c != "Date"})
    r = h + 1
    while r < len(rows) and len(rows[r]) > at["Date"] and rows[r][at["Date"]].ctype == xlrd.XL_CELL_NUMBER:
        row = rows[r]
        sheet.months.append(_month(row[at["Date"]], _where(name, r + 1, "Date", at["Date"])))
        for header, col in at.items():
            if header == "Date":
                continue
            where = _where(name, r + 1, header, col)
            x = _value(row[col], where) if col < len(row) else None
            if x is None and header in REQUIRED:
                text = _text(row[col]) if col < len(row) else ""
                raise DataError(f"{where}: {f'{text!r} is not a number' if text else 'is empty'} (every month "
                                "needs a price)")
            sheet.values[COLUMNS[header]].append(x)
        r += 1
    if not sheet.months:
        raise DataError(f"{name}: sheet '{SHEET}' has no data rows below the header (row {h + 1})")
    sheet.footnotes = [t for row in rows[r:r + 3] for c in row if (t := _text(c))]
    _check_runs(sheet, at, name)
    return sheet


def _check_runs(sheet: ShillerSheet, at: dict[str, int], name: str) -> None:
    """The rules across rows (external/schema.py's), located on sheet rows."""
    lines = range(sheet.first_row, sheet.first_row + len(sheet.months))
    issues = month_sequence_issues([(row, f"{y:04d}-{m:02d}-01") for row, (y, m) in zip(lines, sheet.months)],
                                   name, column="Date")
    for header in TRAILING + LEADING_OR_TRAILING:
        present = [(row, x is not None) for row, x in zip(lines, sheet.values[COLUMNS[header]])]
        issues += missing_run_issues(present, name, header, leading=header in LEADING_OR_TRAILING)
    if issues:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        message = first.message.replace(" on line ", " in row ")      # the schema's words, for a sheet
        raise DataError(f"{_where(name, first.line, first.column, at[first.column])}: {message}{more}")


def read_workbook(path: Path) -> list[list[Cell]]:
    """The rows of sheet "Data" of an .xls workbook; `DataError` if xlrd cannot read it."""
    try:
        # xlrd writes warnings about a damaged file to stdout unless given a log of its own
        book = xlrd.open_workbook(str(path), on_demand=True, logfile=io.StringIO())
    except Exception as exc:  # noqa: BLE001 - xlrd raises many types for a damaged file; all mean the same
        raise DataError(f"{path.name}: not a readable Excel .xls workbook (xlrd: {exc})") from None
    try:
        if SHEET not in book.sheet_names():
            raise DataError(f"{path.name}: no sheet '{SHEET}' (sheets: {', '.join(book.sheet_names())})")
        try:
            sheet = book.sheet_by_name(SHEET)
            return [sheet.row(r) for r in range(sheet.nrows)]
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - as above, for a sheet cut short
            raise DataError(f"{path.name}: sheet '{SHEET}' cannot be read (xlrd: {exc})") from None
    finally:
        book.release_resources()


def _number(x: float | None) -> str:
    return "" if x is None else repr(x)


def csv_bytes(sheet: ShillerSheet) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SHILLER_COLUMNS)
    names = SHILLER_COLUMNS[1:]
    for i, (y, m) in enumerate(sheet.months):
        writer.writerow([f"{y:04d}-{m:02d}-01", *(_number(sheet.values[c][i]) for c in names)])
    return buf.getvalue().encode("utf-8")


def table_of(data: bytes) -> Table:
    """{date: {column: value}} of a shiller_ie_data CSV (for the diff)."""
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return {r.get("date", ""): {c: parse_float(r.get(c) or "") for c in SHILLER_COLUMNS[1:]} for r in rows}


def _span(sheet: ShillerSheet, column: str) -> tuple[str, str]:
    have = [f"{y:04d}-{m:02d}" for (y, m), x in zip(sheet.months, sheet.values[column]) if x is not None]
    return have[0], have[-1]


def _ends(sheet: ShillerSheet, columns: dict[str, str]) -> str:
    """'dividends and earnings end 2026-03' style: columns grouped by the month they end."""
    by_end: dict[str, list[str]] = {}
    for column, label in columns.items():
        by_end.setdefault(_span(sheet, column)[1], []).append(label)
    parts = []
    for end, labels in by_end.items():
        names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        parts.append(f"{names} {'ends' if len(labels) == 1 else 'end'} {end}")
    return "; ".join(parts)


def caveats(sheet: ShillerSheet, file_name: str) -> str:
    """The caveats of the data set, from the data (spans, footnotes) and the workbook's known conventions."""
    first, last = _span(sheet, "sp500")
    cape_start, cape_end = _span(sheet, "cape")
    notes = "; ".join(f'"{t}"' for t in sheet.footnotes)
    ends = _ends(sheet, {"sp500": "the price", "dividend": "dividends", "earnings": "earnings", "cpi": "CPI",
                         "gs10": "the long rate (GS10)"})
    return (
        f"Sheet '{SHEET}' of Shiller's workbook ({file_name}): {len(sheet.months):,} months, {first} to {last}, "
        "every number as the workbook stores it; an empty cell means not (yet) published. P is the monthly "
        "average of daily S&P Composite closes; D and E are four-quarter totals (E as reported) that Shiller "
        "interpolates linearly to months, and the latest quarter's E may rest on S&P's preliminary figures "
        f"(the workbook does not flag this). In this copy {ends}. CAPE (P/E10) runs from {cape_start} to "
        f"{cape_end}: it needs ten years of earnings. The latest months may be revised in a later workbook"
        + (f"; the sheet's footnotes say {notes}." if notes else ".")
        + " bubblelens dates each month at its last day, as data/market does.")


def dataset_table(sheet: ShillerSheet, path: Path, *, accessed: str, url: str | None, mirror: str | None,
                  commit: str | None) -> str:
    first, last = _span(sheet, "sp500")
    url = url or PUBLISHER_URL
    items = {
        "title": f"S&P Composite monthly price, dividends, earnings, CPI, long interest rate and CAPE, "
                 f"{first[:4]}-{last[:4]} (Shiller)",
        "producer": "Robert J. Shiller",
        "citation": "Robert J. Shiller, 'Stock Market Data Used in \"Irrational Exuberance\" Princeton "
                    f"University Press, 2000, 2005, 2015, updated' (workbook ie_data.xls), {PUBLISHER_URL}",
        "url": url,
        "mirror": mirror or url,
        "mirror_commit": commit or f"sha256:{sha256_of(path)[:16]}",
        "accessed": date.fromisoformat(accessed),      # a TOML date, as the hand-written tables have it
        "licence": "none stated: neither the workbook nor the publisher's page states a licence; the numbers "
                   "are used as published facts, attributed to Shiller",
        "rows": len(sheet.months),
        "caveats": caveats(sheet, path.name),
    }
    return toml_table(SHILLER_ID, items, multiline=("caveats", "licence"))


def plan_shiller(path: Path, data_dir: Path, *, accessed: str, url: str | None = None, mirror: str | None = None,
                 commit: str | None = None) -> Plan:
    """The import of one ie_data.xls into `<data_dir>/external` (see the module docstring)."""
    path = Path(path)
    sheet = parse_rows(read_workbook(path), path.name)
    ext = Path(data_dir) / EXTERNAL_SUBDIR
    target = ext / f"{SHILLER_ID}.csv"
    data = csv_bytes(sheet)
    old = table_of(target.read_bytes()) if target.is_file() else {}
    diff = diff_tables(SHILLER_ID, f"{EXTERNAL_SUBDIR}/{SHILLER_ID}.csv", old, table_of(data))
    toml_path = ext / DATASETS_FILE
    text = toml_path.read_bytes().decode("utf-8") if toml_path.is_file() else ""
    table = dataset_table(sheet, path, accessed=accessed, url=url, mirror=mirror, commit=commit)
    plan = Plan("shiller", path, EXTERNAL_SUBDIR, {f"{SHILLER_ID}.csv": data,
                                                 DATASETS_FILE: set_toml_table(text, SHILLER_ID, table).encode()},
                [diff])
    plan.metadata.append(f"{DATASETS_FILE}: [{SHILLER_ID}] from the workbook (rows {len(sheet.months)}, "
                         f"accessed {accessed})")
    return plan
