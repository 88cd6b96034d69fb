"""`bubblelens data check|list|add|init` as the lead mounts it: exit codes, stderr issue lines, stdout results."""
from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bubblelens.core import resources
from bubblelens.core.resources import DATA_DIR
from bubblelens.cli import data as cli_data
from bubblelens.market.load import describe, load_market

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "market_faults"
TODAY = "2025-12-01"

main = typer.Typer()
main.add_typer(cli_data.app, name="data")      # exactly how cli/main.py mounts it


@main.callback()
def _root() -> None:
    """Test root app."""


runner = CliRunner()


@pytest.fixture
def d(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(FIXTURES / "base", tmp_path / "data")
    shutil.copytree(DATA_DIR / "external", tmp_path / "data" / "external")   # checked alongside market/
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
    r = run("check", "--data", str(DATA_DIR), "--today", "2026-12-06")
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


# `data init DIR`: a writable copy of the shipped curated inputs for an analyst to edit and build from.

def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _shipped_curated(source: Path = DATA_DIR) -> dict[str, bytes]:
    """What init must copy: every CURATED entry of `source`, without hidden files and caches."""
    files = {}
    for name in resources.CURATED:
        path = source / name
        if path.is_dir():
            files |= {f"{name}/{rel}": data for rel, data in _files(path).items()
                      if not any(part.startswith(".") or part == "__pycache__" for part in rel.split("/"))}
        else:
            files[name] = path.read_bytes()
    return files


def test_init_copies_every_curated_entry(tmp_path):
    dest = tmp_path / "mydata"
    r = run("init", str(dest))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dest.iterdir()) == sorted(resources.CURATED)
    assert _files(dest) == _shipped_curated()
    for name in resources.CURATED:
        assert name in r.stdout
    assert f"bubblelens build --data {dest}" in r.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["mydata"]       # no temp sibling left behind
    assert run("check", "--data", str(dest), "--today", "2026-12-06").exit_code == 0


def test_init_into_an_empty_existing_dir(tmp_path):
    (tmp_path / "mydata").mkdir()
    r = run("init", str(tmp_path / "mydata"))
    assert r.exit_code == 0, r.output
    assert _files(tmp_path / "mydata") == _shipped_curated()


def test_init_refuses_a_non_empty_dir(tmp_path):
    dest = tmp_path / "mydata"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    r = run("init", str(dest))
    assert r.exit_code == 2
    assert len(r.stderr.splitlines()) == 1 and str(dest) in r.stderr and "--force" in r.stderr
    assert r.stdout == ""
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_init_force_replaces_curated_entries_and_keeps_the_rest(tmp_path):
    dest = tmp_path / "mydata"
    assert run("init", str(dest)).exit_code == 0
    (dest / "claims.toml").write_text("edited")
    (dest / "market" / "extra.csv").write_text("an analyst's new series")
    (dest / "notes.txt").write_text("mine")
    r = run("init", str(dest), "--force")
    assert r.exit_code == 0, r.output
    assert (dest / "notes.txt").read_text() == "mine"                # not a curated entry: kept
    assert not (dest / "market" / "extra.csv").exists()              # curated entries are fresh copies
    assert {k: v for k, v in _files(dest).items() if k != "notes.txt"} == _shipped_curated()
    assert sorted(p.name for p in dest.iterdir()) == sorted([*resources.CURATED, "notes.txt"])


def test_init_makes_a_read_only_install_writable(tmp_path, monkeypatch):
    source = tmp_path / "installed" / "data"         # an install owned by root, say: nothing writable
    source.mkdir(parents=True)
    for name in resources.CURATED:
        if (DATA_DIR / name).is_dir():
            shutil.copytree(DATA_DIR / name, source / name)
        else:
            shutil.copyfile(DATA_DIR / name, source / name)
    tree = [*sorted(source.rglob("*"), reverse=True), source]     # children before their folders
    for p in tree:
        p.chmod(0o555 if p.is_dir() else 0o444)
    monkeypatch.setattr(cli_data, "DATA_DIR", source)
    try:
        r = run("init", str(tmp_path / "mydata"))
    finally:
        for p in reversed(tree):
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert r.exit_code == 0, r.output
    mask = os.umask(0)
    os.umask(mask)
    for p in [tmp_path / "mydata", *(tmp_path / "mydata").rglob("*")]:
        assert stat.S_IMODE(p.stat().st_mode) == (0o777 if p.is_dir() else 0o666) & ~mask, p
    (tmp_path / "mydata" / "claims.toml").write_text("editable")


def test_init_failure_leaves_nothing_half_copied(tmp_path, monkeypatch):
    dest = tmp_path / "mydata"
    real, calls = shutil.copyfile, []

    def flaky(src, dst, **kw):
        calls.append(src)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return real(src, dst, **kw)

    monkeypatch.setattr(resources.shutil, "copyfile", flaky)
    r = run("init", str(dest))
    assert r.exit_code == 1 and "No space left" in r.stderr and str(dest) in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_force_failure_puts_the_old_entries_back(tmp_path, monkeypatch):
    dest = tmp_path / "mydata"
    assert run("init", str(dest)).exit_code == 0
    (dest / "claims.toml").write_text("edited")
    (dest / "market" / "extra.csv").write_text("mine")
    before = _files(dest)
    real, failed = Path.rename, []

    def fail_on_last_move_in(self, target):                # once: putting the old entry back succeeds
        if Path(target) == dest.resolve() / resources.CURATED[-1] and not failed:
            failed.append(target)
            raise OSError(5, "Input/output error")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", fail_on_last_move_in)
    r = run("init", str(dest), "--force")
    assert r.exit_code == 1, r.output
    assert _files(dest) == before
    assert sorted(p.name for p in dest.iterdir()) == sorted(resources.CURATED)   # no temp dirs left


def test_init_refuses_the_shipped_data_itself(tmp_path):
    r = run("init", str(DATA_DIR / "market" / "copy"))
    assert r.exit_code == 2 and "inside the shipped data" in r.stderr
    assert not (DATA_DIR / "market" / "copy").exists()


def test_add_refuses_an_installed_copy(tmp_path, monkeypatch):
    shipped = tmp_path / "site" / "bubblelens" / "_shipped"
    shutil.copytree(FIXTURES / "base", shipped / "data")
    monkeypatch.setattr(resources, "SHIPPED_DIR", shipped)
    before = _files(shipped)
    r = run("add", "alpha", "--date", "2025-09-30", "--value", "13", "--source", "src_a",
            "--data", str(shipped / "data"), "--today", TODAY)
    assert r.exit_code == 3
    assert len(r.stderr.splitlines()) == 1
    assert "bubblelens data init DIR" in r.stderr and "--data DIR" in r.stderr
    assert _files(shipped) == before


def test_init_force_keeps_the_old_entries_when_rollback_fails_too(tmp_path, monkeypatch):
    dest = tmp_path / "mydata"
    assert run("init", str(dest)).exit_code == 0
    (dest / "claims.toml").write_text("edited")
    real = Path.rename

    def fail_into_claims(self, target):                    # always: the rollback cannot put it back
        if Path(target) == dest.resolve() / "claims.toml":
            raise OSError(5, "Input/output error")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", fail_into_claims)
    r = run("init", str(dest), "--force")
    assert r.exit_code == 1 and "previous entries are in" in r.stderr
    kept = [p for p in dest.glob(".init-old-*/claims.toml")]
    assert len(kept) == 1 and kept[0].read_text() == "edited"
