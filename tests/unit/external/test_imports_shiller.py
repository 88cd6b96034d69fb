"""`bubblelens data import shiller`: the workbook becomes the shipped CSV and table; faults name their cell.

The workbook is Shiller's ie_data.xls as staged (tests/data/imports/README.md). Corrupt inputs are real
files (truncated bytes, another format); the header and row rules are tested on the sheet's rows as xlrd
returns them (`parse_rows` takes a list of xlrd `Cell` rows), edited cell by cell in memory, since no
library at hand writes .xls files.
"""
from __future__ import annotations

import csv
import io
import json
import math
import shutil
import tomllib
from pathlib import Path

import pytest
import xlrd
from xlrd.sheet import Cell

from bubblelens.core import resources
from bubblelens.core.errors import DataError
from bubblelens.core.resources import DATA_DIR
from bubblelens.external.import_shiller import parse_rows, read_workbook
from bubblelens.external.imports import HISTORY_FILE
from bubblelens.external.load import validate_external
from bubblelens.external.schema import SHILLER_ID

from import_helpers import ACCESSED, IMPORTS, STAGED, TODAY, digest

XLS = IMPORTS / "ie_data.xls"
MIRROR = ("--mirror", "https://github.com/SecondOrderEdge/Macro-Dashboard",
          "--commit", "18d6739def0eed23da33e6a85dcc78d6f33b7e70")
CSV_NAME = f"{SHILLER_ID}.csv"


def sheet_row(year: int, month: int) -> int:
    """1-based sheet row of a month: the header is row 8, 1871.01 row 9."""
    return 9 + (year - 1871) * 12 + month - 1


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def history(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / HISTORY_FILE).read_text().splitlines()]


def sig6(text: str) -> float | str:
    return "" if text == "" else float(f"{float(text):.6g}")


def drop_shiller(data: Path) -> None:
    """The copy as it was before the first import: no CSV, no [shiller_ie_data] table."""
    (data / "external" / CSV_NAME).unlink()
    toml = data / "external" / "datasets.toml"
    text = toml.read_text()
    toml.write_text(text[:text.index("# Written by `bubblelens data import shiller`")].rstrip("\n") + "\n")


# --- the import reproduces the staged and the shipped data ---------------------------------------------------

def test_first_import_writes_the_shipped_csv_and_table(data_copy, cli):
    drop_shiller(data_copy)
    code, out, err = cli("data", "import", "shiller", XLS, "--data", data_copy, "--accessed", ACCESSED, *MIRROR)
    assert (code, err) == (0, ""), err
    # byte for byte the shipped file, and the shipped table (the shipped data were made by this command)
    assert (data_copy / "external" / CSV_NAME).read_bytes() == (DATA_DIR / "external" / CSV_NAME).read_bytes()
    table = tomllib.loads((data_copy / "external" / "datasets.toml").read_text())
    assert table[SHILLER_ID] == tomllib.loads((DATA_DIR / "external" / "datasets.toml").read_text())[SHILLER_ID]
    assert [i for i in validate_external(data_copy, today=TODAY) if "stale" not in i.message] == []
    assert "shiller_ie_data (external/shiller_ie_data.csv): 0 -> 1865 rows; 1865 added, 0 removed" in out
    [record] = history(data_copy)
    assert record["importer"] == "shiller" and record["dry_run"] is False and record["when"].endswith("Z")
    assert record["input"] == {"file": "ie_data.xls",
                               "sha256": "74af58e56208eb0507c1870f68e18c69b2d601817a4239349fa5c9565f3e4b82"}
    assert record["targets"] == ["external/shiller_ie_data.csv", "external/datasets.toml"]
    assert record["counts"][SHILLER_ID]["added"] == 1865 and record["revisions"] == []


def test_output_equals_the_staged_reference_to_6_significant_digits(data_copy):
    ours, staged = rows_of(DATA_DIR / "external" / CSV_NAME), rows_of(STAGED / "shiller_sp500_monthly_1871-2026-05.csv")
    assert len(ours) == len(staged) == 1865 and list(ours[0]) == list(staged[0])
    for a, b in zip(ours, staged):
        assert a["date"] == b["date"]
        assert {k: sig6(v) for k, v in a.items() if k != "date"} == {k: sig6(v) for k, v in b.items() if k != "date"}
    # unrounded: the workbook's floats, as SOURCES.md quotes them
    assert ours[-3]["sp500"] == "6654.419090909089" and ours[-3]["cape"] == "36.93975903433763"


def test_price_and_dividend_equal_the_old_datahub_copy_to_2023_05():
    old = {r["Date"]: r for r in rows_of(IMPORTS / "datahub_s-and-p-500_data_f238986.csv")}
    ours = [r for r in rows_of(DATA_DIR / "external" / CSV_NAME) if r["date"] <= "2023-05-01"]
    assert len(ours) == 1829
    assert all(float(r["sp500"]) == float(old[r["date"]]["SP500"]) for r in ours)
    assert all(float(r["dividend"]) == float(old[r["date"]]["Dividend"]) for r in ours)
    june = next(r for r in rows_of(DATA_DIR / "external" / CSV_NAME) if r["date"] == "2023-06-01")
    assert (june["earnings"], old["2023-06-01"]["Earnings"]) == ("181.01", "181.17")   # the revision SOURCES.md notes


def test_same_file_twice_changes_nothing(data_copy, cli):
    before = digest(data_copy / "external")
    code, out, _ = cli("data", "import", "shiller", XLS, "--data", data_copy, "--accessed", ACCESSED, *MIRROR)
    assert code == 0
    assert "1865 -> 1865 rows; 0 added, 0 removed, 0 values revised, 0 filled, 0 emptied" in out
    assert "no file changed" in out and digest(data_copy / "external") == before
    [record] = history(data_copy)
    assert record["targets"] == [] and record["revisions"] == []


def test_one_changed_value_is_reported_as_exactly_that_revision(data_copy, cli):
    path = data_copy / "external" / CSV_NAME
    text = path.read_text()
    old_row = next(line for line in text.splitlines() if line.startswith("2023-06-01,"))
    path.write_text(text.replace(old_row, old_row.replace(",181.01,", ",181.17,")))
    code, out, _ = cli("data", "import", "shiller", XLS, "--data", data_copy, "--accessed", ACCESSED, *MIRROR)
    assert code == 0
    assert "0 added, 0 removed, 1 values revised, 0 filled, 0 emptied" in out
    assert "    2023-06-01 earnings: 181.17 -> 181.01 (-0.16, -0.088%)" in out
    [revision] = history(data_copy)[0]["revisions"]
    assert {k: revision[k] for k in ("target", "row", "column", "kind", "old", "new")} == {
        "target": SHILLER_ID, "row": "2023-06-01", "column": "earnings", "kind": "revised", "old": 181.17,
        "new": 181.01}
    assert math.isclose(revision["change"], -0.16, abs_tol=1e-9)
    assert math.isclose(revision["relative"], -0.16 / 181.17, rel_tol=1e-9)
    assert path.read_bytes() == (DATA_DIR / "external" / CSV_NAME).read_bytes()


def test_dry_run_writes_nothing(data_copy, cli):
    drop_shiller(data_copy)
    before = digest(data_copy)
    code, out, _ = cli("data", "import", "shiller", XLS, "--data", data_copy, "--dry-run")
    assert code == 0 and "1865 added" in out and "dry run: nothing written (an import would write external/shiller_ie_data.csv" in out
    assert digest(data_copy) == before


def test_refuses_the_installed_copy(tmp_path, monkeypatch, cli):
    shipped = tmp_path / "site" / "bubblelens" / "_shipped"
    shutil.copytree(DATA_DIR / "external", shipped / "data" / "external")
    monkeypatch.setattr(resources, "SHIPPED_DIR", shipped)
    before = digest(shipped)
    code, out, err = cli("data", "import", "shiller", XLS, "--data", shipped / "data")
    assert code == 3 and out == "" and len(err.splitlines()) == 1
    assert "installed package's own copy" in err and "bubblelens data init DIR" in err
    assert digest(shipped) == before


# --- faults in real files: one line on stderr, exit 3, nothing written ---------------------------------------

@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(XLS.read_bytes()[:600_000]), "bad.xls: not a readable Excel .xls workbook (xlrd: "),
    (lambda p: p.write_bytes(XLS.read_bytes()[:100]), "bad.xls: not a readable Excel .xls workbook (xlrd: "),
    (lambda p: p.write_text("date,sp500\n1871-01-01,4.44\n"), "bad.xls: not a readable Excel .xls workbook (xlrd: "),
])
def test_unreadable_workbook(tmp_path, data_copy, cli, make, message):
    bad = tmp_path / "bad.xls"
    make(bad)
    before = digest(data_copy)
    code, out, err = cli("data", "import", "shiller", bad, "--data", data_copy)
    assert (code, out) == (3, "")
    assert err.startswith(f"bubblelens: error: {message}") and len(err.splitlines()) == 1, err
    assert digest(data_copy) == before


def test_bad_accessed_is_a_usage_error(data_copy, cli):
    code, _, err = cli("data", "import", "shiller", XLS, "--data", data_copy, "--accessed", "6.12.2026")
    assert code == 2 and "is not an ISO date" in err


# --- the header and row rules, on the sheet's rows ------------------------------------------------------------

@pytest.fixture(scope="module")
def sheet() -> list[list[Cell]]:
    return read_workbook(XLS)


def edited(rows: list[list[Cell]], row: int, col: int, ctype: int, value: object) -> list[list[Cell]]:
    """A copy of the rows with the cell at 1-based sheet `row`, 0-based `col` replaced."""
    out = [list(r) for r in rows]
    out[row - 1][col] = Cell(ctype, value)
    return out


def test_rows_parse(sheet):
    s = parse_rows(sheet, "ie_data.xls")
    assert (s.header_row, s.first_row, len(s.months)) == (8, 9, 1865)
    assert s.months[0] == (1871, 1) and s.months[9] == (1871, 10) and s.months[-1] == (2026, 5)
    assert s.values["cape"][:120] == [None] * 120 and s.values["dividend"][-2:] == [None, None]
    assert s.footnotes == ["May price is May 5th close", "Oct '25/Apr/May CPI estimated", "May GS10 is May 5th value"]


P, D, CPI, GS10, CAPE = 1, 2, 4, 6, 12          # 0-based columns of the staged workbook
AT_1950 = sheet_row(1950, 1)


@pytest.mark.parametrize("row,col,ctype,value,message", [
    (AT_1950, P, xlrd.XL_CELL_TEXT, "n/a",
     f"sheet 'Data' row {AT_1950}, column P (B): 'n/a' is not a number (every month needs a price)"),
    (AT_1950, P, xlrd.XL_CELL_EMPTY, "", f"sheet 'Data' row {AT_1950}, column P (B): is empty (every month needs a price)"),
    (AT_1950, D, xlrd.XL_CELL_NUMBER, -1.5, f"sheet 'Data' row {AT_1950}, column D (C): -1.5 is not a positive finite number"),
    (AT_1950, CPI, xlrd.XL_CELL_NUMBER, 0.0, f"sheet 'Data' row {AT_1950}, column CPI (E): 0.0 is not a positive finite number"),
    (AT_1950, GS10, xlrd.XL_CELL_ERROR, 0x07, f"sheet 'Data' row {AT_1950}, column Rate GS10 (G): #DIV/0! is not a number"),
    (AT_1950, CAPE, xlrd.XL_CELL_NUMBER, float("inf"), f"sheet 'Data' row {AT_1950}, column CAPE (M): inf is not a positive"),
    (AT_1950, 0, xlrd.XL_CELL_NUMBER, 1950.13, f"sheet 'Data' row {AT_1950}, column Date (A): 1950.13 is not a month"),
    (AT_1950, 0, xlrd.XL_CELL_NUMBER, 1950.02, f"sheet 'Data' row {AT_1950}, column Date (A): '1950-02-01' follows "
     f"'1949-12-01' in row {AT_1950 - 1}: month 1950-01 missing (one row per month, no gaps) (and 1 more)"),
    (AT_1950, D, xlrd.XL_CELL_TEXT, "NA", f"sheet 'Data' row {AT_1950}, column D (C): empty (missing) is followed by a "
     f"value in row {AT_1950 + 1}; missing values may only form a trailing run"),
    (AT_1950, CAPE, xlrd.XL_CELL_EMPTY, "", f"sheet 'Data' row {AT_1950}, column CAPE (M): empty (missing) is followed "
     f"by a value in row {AT_1950 + 1}; missing values may only form a leading or a trailing run"),
    (sheet_row(1871, 1), D, xlrd.XL_CELL_EMPTY, "", "sheet 'Data' row 9, column D (C): empty (missing) is followed by a "
     "value in row 10; missing values may only form a trailing run"),
    (8, CAPE, xlrd.XL_CELL_TEXT, "P/E10", "sheet 'Data' row 8 (the header) has no column 'CAPE'"),
    (8, 0, xlrd.XL_CELL_TEXT, "Year", "sheet 'Data' has no header row starting Date, P, D, E, CPI"),
])
def test_cell_faults_name_row_and_column(sheet, row, col, ctype, value, message):
    with pytest.raises(DataError) as exc:
        parse_rows(edited(sheet, row, col, ctype, value), "ie_data.xls")
    assert str(exc.value).startswith(f"ie_data.xls: {message}"), str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_missing_month_names_its_row(sheet):
    rows = [r for i, r in enumerate(sheet, start=1) if i != sheet_row(2000, 2)]
    with pytest.raises(DataError, match=r"row 1558, column Date \(A\): '2000-03-01' follows '2000-01-01' in row "
                                        r"1557: month 2000-02 missing"):
        parse_rows(rows, "ie_data.xls")


def test_trailing_and_leading_gaps_are_fine(sheet):
    rows = edited(sheet, sheet_row(2026, 5), CPI, xlrd.XL_CELL_EMPTY, "")
    rows = edited(rows, sheet_row(1881, 1), CAPE, xlrd.XL_CELL_TEXT, "NA")        # CAPE starts a month later
    s = parse_rows(rows, "ie_data.xls")
    assert s.values["cpi"][-1] is None and s.values["cape"][120] is None and s.values["cape"][121] is not None
