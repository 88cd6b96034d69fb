"""`bubblelens data check|list|add` as the lead mounts it: exit codes, stderr issue lines, stdout results."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bubblelens import DATA_DIR, cli_data
from bubblelens.market import describe, load_market

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "market_faults"
TODAY = "2025-12-01"

main = typer.Typer()
main.add_typer(cli_data.app, name="data")      # exactly how cli.py mounts it


@main.callback()
def _root() -> None:
    """Test root app."""


runner = CliRunner()


@pytest.fixture
def d(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(FIXTURES / "base", tmp_path / "data")
    monkeypatch.chdir(tmp_path)          # issue paths are shown relative to the working directory
    return Path("data")


def run(*args: str):
    return runner.invoke(main, ["data", *args])


def test_check_ok(d):
    r = run("check", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert r.stdout.strip().endswith("0 error(s), 0 warning(s)")


def test_check_reports_file_line_column_and_exits_3(d):
    p = d / "market" / "alpha.csv"
    p.write_text(p.read_text().replace("2025-06-30,", "2024-13-45,"))
    r = run("check", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 3
    assert r.stderr.splitlines() == [
        "data/market/alpha.csv:3: column 'date': '2024-13-45' is not an ISO date (YYYY or YYYY-MM-DD)"]
    assert "1 error(s), 0 warning(s)" in r.stdout


def test_check_warnings_exit_0(d):
    with (d / "market" / "sources.csv").open("a") as fh:
        fh.write("src_c,Gamma,G,https://example.org/g,unknown,2025-11-30,not stated,Gamma.\n")
    r = run("check", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 0
    assert r.stderr.splitlines() == [
        "warning: data/market/sources.csv:4: source 'src_c' is not cited by any series row"]


def test_check_long_messages_are_not_wrapped(d):
    p = d / "market" / "alpha.csv"
    p.write_text(p.read_text().replace(",12.5,percent,", ",12.5,percentage,"))
    r = run("check", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 3 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("data/market/alpha.csv:3: column 'unit': unknown unit 'percentage' (allowed: ")


def test_check_shipped_data():
    r = run("check", "--data", str(DATA_DIR), "--today", "2026-11-29")
    assert r.exit_code == 0, r.stderr
    assert "0 error(s)" in r.stdout


def test_check_bad_today_is_usage_error(d):
    assert run("check", "--data", str(d), "--today", "29/11/2026").exit_code == 2


def test_list_table_and_json(d):
    r = run("list", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    alpha = next(line for line in lines if " alpha " in line)
    for cell in ("hype", " 2 ", "2024 – 2025-06-30", " 1 ", "medium"):
        assert cell in alpha
    for header in ("id", "category", "rows", "date range", "sources", "reliability"):
        assert header in r.stdout
    r = run("list", "--data", str(d), "--json", "--today", TODAY)
    assert json.loads(r.stdout) == describe(load_market(d, today=date(2025, 12, 1)))


def test_list_refuses_invalid_data(d):
    (d / "market" / "alpha.csv").write_bytes(b"\xef\xbb\xbf" + (d / "market" / "alpha.csv").read_bytes())
    r = run("list", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 3
    assert r.stderr.splitlines() == ["data/market/alpha.csv:1: file starts with a byte-order mark (BOM); "
                                     "save it as UTF-8 without BOM"]
    assert r.stdout == ""


def test_add_appends(d):
    r = run("add", "alpha", "--date", "2025-09-30", "--value", "13", "--source", "src_a",
            "--note", "Q3 figure", "--data", str(d), "--today", TODAY)
    assert r.exit_code == 0, r.output
    assert (d / "market" / "alpha.csv").read_text().endswith("second\n2025-09-30,13,percent,src_a,Q3 figure\n")
    assert run("check", "--data", str(d), "--today", TODAY).exit_code == 0


@pytest.mark.parametrize("args,stderr", [
    (["--date", "2024-Q3", "--value", "13", "--source", "src_a"],
     "data/market/alpha.csv:4: column 'date': '2024-Q3' is not an ISO date (YYYY or YYYY-MM-DD); write a "
     "quarter as its end date, e.g. 2024-09-30"),
    (["--date", "2025-09-30", "--value", "13", "--source", "src_x"],
     "data/market/alpha.csv:4: column 'source_id': source_id 'src_x' is not defined in sources.csv"),
    (["--date", "2025-09-30", "--value", "13", "--source", "src_a", "--label", "x"],
     "data/market/alpha.csv has no 'label' column; leave --label out for this series"),
])
def test_add_refuses_with_exit_3_and_untouched_file(d, args, stderr):
    before = (d / "market" / "alpha.csv").read_bytes()
    r = run("add", "alpha", *args, "--data", str(d), "--today", TODAY)
    assert r.exit_code == 3
    assert r.stderr.splitlines() == [stderr]
    assert (d / "market" / "alpha.csv").read_bytes() == before


def test_add_unknown_series(d):
    r = run("add", "gamma", "--date", "2025", "--value", "1", "--source", "src_a", "--data", str(d))
    assert r.exit_code == 3 and "unknown series 'gamma'" in r.stderr
