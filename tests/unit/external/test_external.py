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

TODAY = date(2026, 12, 6)              # the day the newest copies (and market sources) were read
EPOCH, SHILLER = f"{EPOCH_ID}.csv", f"{SHILLER_ID}.csv"
# Epoch's copy is the mirror's file byte for byte (with its CRLF line endings); Shiller's is what
# `bubblelens data import shiller` writes from ie_data.xls (tests/unit/external/test_imports_shiller.py
# rebuilds it). An editor or a git setting that rewrites them would change these.
SHA256 = {EPOCH: "a0839e0df993564e45a825046332af2350dbf51f09bcdd263546f6a75856da7a",
          SHILLER: "2ec95f25f2a25b97f56684fd691668bdfe61069d232a040f7e61dfe4309a64d9"}
SHILLER_ROWS = 1865                    # 1871-01 to 2026-05
WITH_DIVIDENDS = 1863                  # to 2026-03


# --- the shipped data -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load_external(DATA_DIR, today=TODAY)


def test_shipped_files_are_the_mirrored_copies():
    for name, digest in SHA256.items():
        assert hashlib.sha256((DATA_DIR / "external" / name).read_bytes()).hexdigest() == digest, name


STALE = ("warning", "stale: the newest month with dividends and earnings (2026-03) is 250 days old; monthly "
         "series are stale after 92 days (one period plus the usual publication lag)")


def test_shipped_data_validates_and_loads(shipped):
    # the one warning: Shiller's dividends and earnings end in 2026-03, older than a month's cadence allows
    assert [(i.severity, i.message) for i in validate_external(DATA_DIR, today=TODAY)] == [STALE]
    assert validate_external(DATA_DIR, today=date(2026, 6, 30)) == []
    e = shipped.epoch
    assert len(e) == 884
    assert e["compute_flop"].notna().sum() == 443 and e["cost_usd_2023"].notna().sum() == 153
    assert e["frontier"].dtype == bool and e["frontier"].sum() == 144
    assert e["date"].iloc[0] == pd.Timestamp("1950-07-02") and e["date"].iloc[-1] == pd.Timestamp("2024-12-06")
    assert list(e.columns) == ["model", "organization", "date", "domain", "compute_flop", "cost_usd_2023",
                               "frontier", "confidence", "accessibility"]
    s = shipped.shiller
    assert len(s) == SHILLER_ROWS
    assert list(s.columns) == ["date", "price", "dividend", "earnings", "cpi", "long_rate", "cape"]
    assert s["date"].iloc[0] == pd.Timestamp("1871-01-31") and s["date"].iloc[-1] == pd.Timestamp("2026-05-31")
    assert s["price"].notna().all() and s["cpi"].notna().all() and s["long_rate"].notna().all()
    for column in ("dividend", "earnings"):
        assert s.loc[s[column].last_valid_index(), "date"] == pd.Timestamp("2026-03-31")
        assert s[column].iloc[:WITH_DIVIDENDS].notna().all() and s[column].iloc[WITH_DIVIDENDS:].isna().all()
    # CAPE needs ten years of earnings: empty for 1871-1880, then every month to the end
    assert s["cape"].iloc[:120].isna().all() and s["cape"].iloc[120:].notna().all()
    # the workbook's numbers, unrounded (SOURCES.md quotes these cells of row 2026.03)
    last_d = s.loc[s["date"] == pd.Timestamp("2026-03-31")].iloc[0]
    assert (last_d["price"], last_d["dividend"], last_d["earnings"], last_d["cape"]) == (
        6654.419090909089, 79.97, 277.1, 36.93975903433763)
    assert s["long_rate"].iloc[0] == 5.32 and s["cpi"].iloc[-1] == 332.784


def test_shipped_provenance(shipped):
    assert set(shipped.datasets) == {EPOCH_ID, SHILLER_ID}
    epoch, shiller = shipped.datasets[EPOCH_ID], shipped.datasets[SHILLER_ID]
    assert (epoch.licence, epoch.rows, epoch.accessed) == ("CC BY 4.0", 884, "2026-12-01")
    assert epoch.citation == "Epoch AI, 'Data on Notable AI Models'"
    assert epoch.mirror_commit == "b73fde823f807bc9d0e07a145e7021b0b3172d37"
    assert (shiller.rows, shiller.file, shiller.accessed) == (SHILLER_ROWS, f"external/{SHILLER}", "2026-12-06")
    assert shiller.licence.startswith("none stated") and shiller.producer == "Robert J. Shiller"
    assert shiller.mirror == "https://github.com/SecondOrderEdge/Macro-Dashboard"
    assert shiller.mirror_commit == "18d6739def0eed23da33e6a85dcc78d6f33b7e70"
    assert "dividends and earnings end 2026-03" in shiller.caveats and "preliminary" in shiller.caveats
    assert "May price is May 5th close" in shiller.caveats and "2024" in epoch.caveats


def test_pd_ratio_reproduces_psy2015(shipped):
    ratio = valuation_ratio(shipped.shiller, "dividend")
    assert ratio.name == "sp500_pd_ratio" and isinstance(ratio.index, pd.DatetimeIndex)
    assert len(ratio) == WITH_DIVIDENDS and ratio.index[-1] == pd.Timestamp("2026-03-31")
    ref = pd.read_csv(DATA_DIR / "market" / "sp500_pd_ratio_psy2015.csv", parse_dates=["date"])
    ref = pd.Series(ref["value"].to_numpy(float), index=pd.DatetimeIndex(ref["date"]))
    window = ratio["1871-01":"2010-12"]
    assert window.index.equals(ref.index)              # both dated by month end, 1,680 months
    diff = relative_difference(window, ref)
    # Measured: mean 9.21e-05, max 0.01459 over 1,680 months (rounding of the older Shiller vintage; the
    # 2026-05 workbook's P and D equal the earlier datahub copy's to 2023-05, so these did not move).
    assert diff["months"] == 1680 and diff["mean"] < 0.0002 and diff["max"] < 0.02


def test_pe_ratio_and_bad_denominator(shipped):
    pe = valuation_ratio(shipped.shiller, "earnings")
    assert pe.name == "sp500_pe_ratio" and len(pe) == WITH_DIVIDENDS and np.isfinite(pe).all()
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
    ("Publication date", "2027-01-15", "'2027-01-15' is in the future (today is 2026-12-06)"),
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
    rows = toml_line(d, f"rows = {SHILLER_ROWS}")
    assert errors(d) == [
        (SHILLER, shiller_line("2000-02"), "date",
         f"'2000-03-01' follows '2000-01-01' on line {shiller_line('2000-01')}: month 2000-02 missing "
         "(one row per month, no gaps)"),
        ("datasets.toml", rows, "rows",
         f"[{SHILLER_ID}] says {SHILLER_ROWS} rows; external/{SHILLER} has {SHILLER_ROWS - 1}"),
    ]


def test_shiller_duplicate_month(d):
    p = d / "external" / SHILLER
    lines = p.read_text().splitlines(keepends=True)
    at = shiller_line("2000-02")
    lines.insert(at, lines[at - 1])                   # the 2000-02 row twice
    p.write_text("".join(lines))
    assert errors(d)[0] == (SHILLER, at + 1, "date", f"'2000-02-01' repeats the month on line {at}")
    assert [e[:3] for e in errors(d)] == [(SHILLER, at + 1, "date"), ("datasets.toml",
                                                                        toml_line(d, f"rows = {SHILLER_ROWS}"), "rows")]


@pytest.mark.parametrize("column", ["dividend", "earnings", "cpi", "gs10", "cape"])
def test_shiller_empty_cell_in_the_middle(d, column):
    line = shiller_line("1950-01")
    edit_cell(d, SHILLER, line, column, "")
    runs = "a leading or a trailing run" if column == "cape" else "a trailing run"
    assert errors(d) == [(SHILLER, line, column, f"empty (missing) is followed by a value on line {line + 1}; "
                          f"missing values may only form {runs}")]


def test_shiller_missing_runs_at_the_ends(d):
    # a leading run is CAPE's alone; a trailing run (a month not yet published) is fine in every optional column
    edit_cell(d, SHILLER, 2, "dividend", "")
    edit_cell(d, SHILLER, shiller_line("2026-05"), "cpi", "")
    edit_cell(d, SHILLER, shiller_line("2026-05"), "cape", "")
    assert errors(d) == [(SHILLER, 2, "dividend", "empty (missing) is followed by a value on line 3; missing "
                          "values may only form a trailing run")]


def test_shiller_cell_faults(d):
    edit_cell(d, SHILLER, 3, "sp500", "0.0")
    edit_cell(d, SHILLER, 4, "date", "1871-03-15")
    edit_cell(d, SHILLER, 5, "earnings", "-0.4")
    edit_cell(d, SHILLER, 6, "gs10", "NA")
    edit_cell(d, SHILLER, shiller_line("1990-01"), "cape", "0")
    edit_cell(d, SHILLER, shiller_line("1990-02"), "sp500", "")
    assert errors(d) == [(SHILLER, 3, "sp500", "'0.0' must be > 0"),
                         (SHILLER, 4, "date", "'1871-03-15' is not the first day of a month (YYYY-MM-01)"),
                         (SHILLER, 5, "earnings", "'-0.4' must be >= 0"),
                         (SHILLER, 6, "gs10", "'NA' is not a number"),
                         (SHILLER, shiller_line("1990-01"), "cape", "'0' must be > 0"),
                         (SHILLER, shiller_line("1990-02"), "sp500", "is empty")]


def test_shiller_header(d):
    p = d / "external" / SHILLER
    p.write_text(p.read_text().replace("date,sp500,dividend,earnings,cpi,gs10,cape",
                                       "date,sp500,dividend,earnings,cpi,gs10,CAPE", 1))
    assert errors(d) == [
        (SHILLER, 1, None, "missing column 'cape' (header must have date,sp500,dividend,earnings,cpi,gs10,cape)"),
        (SHILLER, 1, None, "unexpected column 'CAPE' (allowed: date, sp500, dividend, earnings, cpi, gs10, cape)")]


def test_missing_datasets_key(d):
    p = d / "external" / "datasets.toml"
    text = p.read_text()
    assert 'licence = "CC BY 4.0"\n' in text
    p.write_text(text.replace('licence = "CC BY 4.0"\n', ""))
    assert errors(d) == [("datasets.toml", toml_line(d, f"[{EPOCH_ID}]"), "licence", f"[{EPOCH_ID}] is missing")]


def test_empty_datasets_value_is_located_on_its_line(d):
    p = d / "external" / "datasets.toml"
    commit = 'mirror_commit = "18d6739def0eed23da33e6a85dcc78d6f33b7e70"'
    assert p.read_text().count(commit) == 1
    p.write_text(p.read_text().replace(commit, 'mirror_commit = " "'))
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
    assert [(Path(i.file).name, i.message.split(" (")[0]) for i in warnings if "stale" not in i.message] == [
        ("extra.csv", "bubblelens reads no data set 'extra'")]


def test_load_refuses_any_error(d):
    edit_cell(d, SHILLER, 10, "sp500", "abc")
    with pytest.raises(ExternalDataError, match=r"shiller_ie_data.csv:10: column 'sp500'"):
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
    edit_cell(Path("data"), SHILLER, shiller_line("1950-01"), "dividend", "")
    r = runner.invoke(main, ["data", "check", "--data", "data", "--today", TODAY.isoformat()])
    assert r.exit_code == 3
    line = shiller_line("1950-01")
    assert (f"data/external/{SHILLER}:{line}: column 'dividend': empty (missing) is followed by a value on line "
            f"{line + 1}; missing values may only form a trailing run") in r.stderr.splitlines()
    assert "data/market, data/external: 1 error(s)" in r.stdout
