"""external/: the shipped data sets load and reproduce the PSY (2015) series; every fault names its place.

Each fault test copies the shipped data/external into tmp_path, changes one thing and compares the errors
(file name, line, column, message) with the expected ones exactly, so an extra cascade error or a reworded
message fails the test (as tests/unit/market does).
"""
from __future__ import annotations

import csv
import hashlib
import io
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from bubblelens.cli import data as cli_data
from bubblelens.core.resources import DATA_DIR
from bubblelens.external.derived import relative_difference, valuation_ratio
from bubblelens.external.load import ExternalDataError, external_fingerprint, load_external, validate_external
from bubblelens.external.schema import EPOCH_ID, SHILLER_ID

TODAY = date(2026, 12, 1)              # the day the copies were accessed
EPOCH, SHILLER = f"{EPOCH_ID}.csv", f"{SHILLER_ID}.csv"
# The copies are the mirrors' files byte for byte (the Epoch one with its CRLF line endings); an editor or
# a git setting that rewrites them would change these.
SHA256 = {EPOCH: "a0839e0df993564e45a825046332af2350dbf51f09bcdd263546f6a75856da7a",
          SHILLER: "28d16941c581bda9bdcae4e0f9e3cc4b61204f8484e8c2249abdde2efe2cc3c4"}


# --- the shipped data -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load_external(DATA_DIR, today=TODAY)


def test_shipped_files_are_the_mirrored_copies():
    for name, digest in SHA256.items():
        assert hashlib.sha256((DATA_DIR / "external" / name).read_bytes()).hexdigest() == digest, name


def test_shipped_data_validates_and_loads(shipped):
    assert validate_external(DATA_DIR, today=TODAY) == []
    e = shipped.epoch
    assert len(e) == 884
    assert e["compute_flop"].notna().sum() == 443 and e["cost_usd_2023"].notna().sum() == 153
    assert e["frontier"].dtype == bool and e["frontier"].sum() == 144
    assert e["date"].iloc[0] == pd.Timestamp("1950-07-02") and e["date"].iloc[-1] == pd.Timestamp("2024-12-06")
    assert list(e.columns) == ["model", "organization", "date", "domain", "compute_flop", "cost_usd_2023",
                               "frontier", "confidence", "accessibility"]
    s = shipped.shiller
    assert len(s) == 1866
    assert list(s.columns) == ["date", "price", "dividend", "earnings", "cpi", "long_rate"]
    assert s["date"].iloc[0] == pd.Timestamp("1871-01-31") and s["date"].iloc[-1] == pd.Timestamp("2026-06-30")
    assert s["price"].notna().all()
    for column in ("dividend", "earnings"):
        assert s.loc[s[column].last_valid_index(), "date"] == pd.Timestamp("2023-06-30")
        assert s[column].iloc[:1830].notna().all() and s[column].iloc[1830:].isna().all()
    assert s.loc[s["cpi"].last_valid_index(), "date"] == pd.Timestamp("2023-09-30")


def test_shipped_provenance(shipped):
    assert set(shipped.datasets) == {EPOCH_ID, SHILLER_ID}
    epoch, shiller = shipped.datasets[EPOCH_ID], shipped.datasets[SHILLER_ID]
    assert (epoch.licence, epoch.rows, epoch.accessed) == ("CC BY 4.0", 884, "2026-12-01")
    assert epoch.citation == "Epoch AI, 'Data on Notable AI Models'"
    assert epoch.mirror_commit == "b73fde823f807bc9d0e07a145e7021b0b3172d37"
    assert (shiller.licence, shiller.rows, shiller.file) == ("ODC-PDDL-1.0", 1866, f"external/{SHILLER}")
    assert "2023-06" in shiller.caveats and "missing" in shiller.caveats and "2024" in epoch.caveats


def test_pd_ratio_reproduces_psy2015(shipped):
    ratio = valuation_ratio(shipped.shiller, "dividend")
    assert ratio.name == "sp500_pd_ratio" and isinstance(ratio.index, pd.DatetimeIndex)
    assert len(ratio) == 1830 and ratio.index[-1] == pd.Timestamp("2023-06-30")
    ref = pd.read_csv(DATA_DIR / "market" / "sp500_pd_ratio_psy2015.csv", parse_dates=["date"])
    ref = pd.Series(ref["value"].to_numpy(float), index=pd.DatetimeIndex(ref["date"]))
    window = ratio["1871-01":"2010-12"]
    assert window.index.equals(ref.index)              # both dated by month end, 1,680 months
    diff = relative_difference(window, ref)
    # Measured: mean 9.21e-05, max 0.01459 over 1,680 months (rounding of the older Shiller vintage).
    assert diff["months"] == 1680 and diff["mean"] < 0.0002 and diff["max"] < 0.02


def test_pe_ratio_and_bad_denominator(shipped):
    pe = valuation_ratio(shipped.shiller, "earnings")
    assert pe.name == "sp500_pe_ratio" and len(pe) == 1830 and np.isfinite(pe).all()
    with pytest.raises(ValueError, match="denominator"):
        valuation_ratio(shipped.shiller, "cpi")


def test_fingerprint_covers_every_file(tmp_path, shipped):
    shutil.copytree(DATA_DIR / "external", tmp_path / "external")
    assert external_fingerprint(tmp_path) == shipped.fingerprint()
    (tmp_path / "external" / "README.md").write_text("changed")
    assert external_fingerprint(tmp_path) != shipped.fingerprint()


def test_missing_external_dir_is_one_error(tmp_path):
    issues = validate_external(tmp_path, today=TODAY)
    assert [(i.severity, Path(i.file).name, i.line, i.column) for i in issues] == [
        ("error", "external", None, None)]
    assert "has no external/ folder" in issues[0].message
    with pytest.raises(ExternalDataError) as exc:
        load_external(tmp_path, today=TODAY)
    assert exc.value.issues == issues and exc.value.exit_code == 3


# --- faults -----------------------------------------------------------------------------------------------

@pytest.fixture
def d(tmp_path: Path) -> Path:
    shutil.copytree(DATA_DIR / "external", tmp_path / "data" / "external")
    return tmp_path / "data"


def errors(d: Path) -> list[tuple]:
    return [(Path(i.file).name, i.line, i.column, i.message)
            for i in validate_external(d, today=TODAY) if i.severity == "error"]


def edit_cell(d: Path, name: str, line: int, column: str, value: str) -> None:
    """Set one cell, keeping the file's line endings and every other byte."""
    p = d / "external" / name
    raw = p.read_bytes().decode()
    nl = "\r\n" if "\r\n" in raw else "\n"
    lines = raw.split(nl)
    header = next(csv.reader([lines[0]]))
    cells = next(csv.reader([lines[line - 1]]))
    cells[header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    lines[line - 1] = buf.getvalue()
    p.write_bytes(nl.join(lines).encode())


def shiller_line(month: str) -> int:
    """File line of a Shiller month: 1871-01 is line 2, one line per month."""
    y, m = map(int, month.split("-"))
    return (y - 1871) * 12 + (m - 1) + 2


def toml_line(d: Path, text: str) -> int:
    lines = (d / "external" / "datasets.toml").read_text().splitlines()
    return next(no for no, line in enumerate(lines, start=1) if line.startswith(text))


def first_line_with(d: Path, name: str, column: str) -> int:
    rows = csv.DictReader(io.StringIO((d / "external" / name).read_text()))
    return next(i for i, row in enumerate(rows, start=2) if row[column])


def test_nul_byte_in_an_epoch_cell(d):
    edit_cell(d, EPOCH, 2, "Model", "Llama\x00 3.3")
    assert errors(d) == [(EPOCH, 2, "Model", "cell contains the control character U+0000 (NUL, escape, "
                          "carriage return, ...): it would reach the report; remove it")]


def test_missing_epoch_column(d):
    p = d / "external" / EPOCH
    rows = list(csv.reader(io.StringIO(p.read_bytes().decode(), newline="")))
    drop = rows[0].index("Confidence")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([r[:drop] + r[drop + 1:] for r in rows])
    p.write_bytes(buf.getvalue().encode())
    [(name, line, column, message)] = errors(d)
    assert (name, line, column) == (EPOCH, 1, None)
    assert message.startswith("missing column 'Confidence' (header must have Model,")


@pytest.mark.parametrize("column,value,message", [
    ("Training compute (FLOP)", "6.9e24 FLOP", "'6.9e24 FLOP' is not a number"),
    ("Training compute (FLOP)", "inf", "'inf' is not a finite number"),
    ("Training compute cost (2023 USD)", "-5.0", "'-5.0' must be > 0"),
    ("Publication date", "2027-01-15", "'2027-01-15' is in the future (today is 2026-12-01)"),
    ("Publication date", "Dec 2024", "'Dec 2024' is not an ISO date (YYYY-MM-DD)"),
    ("Frontier model", "False", "'False' is not 'True' or empty (Epoch writes 'True' for a frontier model "
     "and leaves the cell empty otherwise)"),
    ("Model", " ", "is empty (every row names a model)"),
])
def test_epoch_cell_faults(d, column, value, message):
    line = first_line_with(d, EPOCH, column)         # a cell that holds a value in the shipped file
    edit_cell(d, EPOCH, line, column, value)
    assert errors(d) == [(EPOCH, line, column, message)]


def test_shiller_month_gap(d):
    p = d / "external" / SHILLER
    lines = p.read_text().splitlines(keepends=True)
    del lines[shiller_line("2000-02") - 1]
    p.write_text("".join(lines))
    rows = toml_line(d, "rows = 1866")
    assert errors(d) == [
        (SHILLER, shiller_line("2000-02"), "Date",
         f"'2000-03-01' follows '2000-01-01' on line {shiller_line('2000-01')}: month 2000-02 missing "
         "(one row per month, no gaps)"),
        ("datasets.toml", rows, "rows", f"[{SHILLER_ID}] says 1866 rows; external/{SHILLER} has 1865"),
    ]


def test_shiller_duplicate_month(d):
    p = d / "external" / SHILLER
    lines = p.read_text().splitlines(keepends=True)
    at = shiller_line("2000-02")
    lines.insert(at, lines[at - 1])                   # the 2000-02 row twice
    p.write_text("".join(lines))
    assert errors(d)[0] == (SHILLER, at + 1, "Date", f"'2000-02-01' repeats the month on line {at}")
    assert [e[:3] for e in errors(d)] == [(SHILLER, at + 1, "Date"), ("datasets.toml",
                                                                        toml_line(d, "rows = 1866"), "rows")]


def test_shiller_zero_dividend_in_the_middle(d):
    line = shiller_line("1950-01")
    edit_cell(d, SHILLER, line, "Dividend", "0.0")
    assert errors(d) == [(SHILLER, line, "Dividend",
                          f"0.0 (missing) is followed by a value on line {line + 1}; missing values may "
                          "only form a trailing run")]


def test_shiller_cell_faults(d):
    edit_cell(d, SHILLER, 3, "SP500", "0.0")
    edit_cell(d, SHILLER, 4, "Date", "1871-03-15")
    edit_cell(d, SHILLER, 5, "Earnings", "-0.4")
    assert errors(d) == [(SHILLER, 3, "SP500", "'0.0' must be > 0"),
                         (SHILLER, 4, "Date", "'1871-03-15' is not the first day of a month (YYYY-MM-01)"),
                         (SHILLER, 5, "Earnings", "'-0.4' must be >= 0")]


def test_missing_datasets_key(d):
    p = d / "external" / "datasets.toml"
    text = p.read_text()
    assert 'licence = "CC BY 4.0"\n' in text
    p.write_text(text.replace('licence = "CC BY 4.0"\n', ""))
    assert errors(d) == [("datasets.toml", toml_line(d, f"[{EPOCH_ID}]"), "licence", f"[{EPOCH_ID}] is missing")]


def test_empty_datasets_value_is_located_on_its_line(d):
    p = d / "external" / "datasets.toml"
    p.write_text(p.read_text().replace('mirror_commit = "f238986"', 'mirror_commit = " "'))
    assert errors(d) == [("datasets.toml", toml_line(d, 'mirror_commit = " "'), "mirror_commit",
                          f"[{SHILLER_ID}] is empty")]


def test_csv_without_a_table_and_table_without_a_csv(d):
    (d / "external" / "extra.csv").write_text("a,b\n1,2\n")
    p = d / "external" / "datasets.toml"
    p.write_text(p.read_text().replace(f"[{SHILLER_ID}]", "[shiller_renamed]"))
    assert errors(d) == [
        ("extra.csv", None, None, "data set 'extra' has no [extra] table in datasets.toml"),
        (SHILLER, None, None, f"data set '{SHILLER_ID}' has no [{SHILLER_ID}] table in datasets.toml"),
        ("datasets.toml", toml_line(d, "[shiller_renamed]"), None,
         "[shiller_renamed] describes a data set with no file external/shiller_renamed.csv"),
    ]
    warnings = [i for i in validate_external(d, today=TODAY) if i.severity == "warning"]
    assert [(Path(i.file).name, i.message.split(" (")[0]) for i in warnings] == [
        ("extra.csv", "bubblelens reads no data set 'extra'")]


def test_load_refuses_any_error(d):
    edit_cell(d, SHILLER, 10, "SP500", "abc")
    with pytest.raises(ExternalDataError, match=r"shiller_sp500_monthly_2026-07.csv:10: column 'SP500'"):
        load_external(d, today=TODAY)


# --- `bubblelens data check` ------------------------------------------------------------------------------

main = typer.Typer()
main.add_typer(cli_data.app, name="data")      # as cli/main.py mounts it


@main.callback()
def _root() -> None:
    """Test root app."""


def test_data_check_covers_external(tmp_path, monkeypatch):
    runner = CliRunner()
    r = runner.invoke(main, ["data", "check", "--data", str(DATA_DIR), "--today", TODAY.isoformat()])
    assert r.exit_code == 0, r.stderr
    assert "/external: 0 error(s)" in r.stdout               # one summary line counts both folders
    for name in ("market", "external"):
        shutil.copytree(DATA_DIR / name, tmp_path / "data" / name)
    monkeypatch.chdir(tmp_path)
    edit_cell(Path("data"), SHILLER, shiller_line("1950-01"), "Dividend", "0.0")
    r = runner.invoke(main, ["data", "check", "--data", "data", "--today", TODAY.isoformat()])
    assert r.exit_code == 3
    line = shiller_line("1950-01")
    assert (f"data/external/{SHILLER}:{line}: column 'Dividend': 0.0 (missing) is followed by a value on line "
            f"{line + 1}; missing values may only form a trailing run") in r.stderr.splitlines()
    assert "data/market, data/external: 1 error(s)" in r.stdout
