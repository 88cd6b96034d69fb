"""`bubblelens data import shiller|metr|epoch-benchmarks FILE`: update a source from the publisher's file.

A Typer sub-app, mounted by cli/data.py as `data import`. Parsing and printing only: the importers live in
bubblelens/external/ (import_shiller, import_metr, import_epoch; the shared diff, validation, atomic swap
and history in imports.py). Nothing is downloaded: the analyst passes the file the publisher gives them.
Bad input raises `DataError`, which cli/main.py turns into one sentence on stderr and exit code 3 (with a
traceback under `--debug`); nothing is written then. The data diff goes to stdout.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bubblelens.core.errors import DataError
from bubblelens.core.resources import DATA_DIR, is_installed_copy

if TYPE_CHECKING:   # the importers (pandas, openpyxl) load when an import runs, not with every command
    from bubblelens.external.imports import Plan

app = typer.Typer(help="Import a publisher's file into the curated data: validate it, write the series and "
                       "their provenance atomically, print and record the data diff.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="The file as the publisher gives it.", exists=True, dir_okay=False,
                                         readable=True, metavar="FILE")]
DataOpt = Annotated[Path, typer.Option("--data", help="Curated-data directory (the one containing market/ and "
                                       "external/).", file_okay=False)]
AccessedOpt = Annotated[Optional[str], typer.Option(
    "--accessed", help="The day the file was obtained, YYYY-MM-DD (default: today).", metavar="YYYY-MM-DD")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the data diff and write nothing.")]
SourceIdOpt = Annotated[Optional[str], typer.Option(
    "--source-id", help="source_id the rows cite: an existing row of market/sources.csv is used as it is, a new "
                        "id gets a row made from the file (default: one named after the file and --accessed).")]
UrlOpt = Annotated[Optional[str], typer.Option("--url", help="The publisher's address of the file (default: "
                                               "the publisher's usual one).")]
TodayOpt = Annotated[Optional[str], typer.Option(
    "--today", hidden=True, help="Judge future dates against this ISO day (for reproducible checks).")]


def _today(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date (YYYY-MM-DD)", param_hint="--today") from None


def _accessed(text: str | None, today: date) -> str:
    if text is None:
        return today.isoformat()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date (YYYY-MM-DD)", param_hint="--accessed") from None
    if len(text) != 10 or day > today:
        raise typer.BadParameter(f"{text!r} is not a past day written YYYY-MM-DD", param_hint="--accessed")
    return text


def _run(data: Path, dry_run: bool, today: date, make_plan: Callable[[], Plan]) -> None:
    if not dry_run and is_installed_copy(data):
        # As `data add`: an upgrade would silently drop the import, and site-packages may not be writable.
        raise DataError(f"{data} is the installed package's own copy of the shipped data and is never edited; "
                        "run `bubblelens data init DIR` and pass `--data DIR` to `data import` and `build`.")
    from bubblelens.external.imports import execute, report_lines

    plan = make_plan()
    record = execute(plan, data, dry_run=dry_run, today=today)
    for line in report_lines(plan, record):
        typer.echo(line)


@app.command("shiller")
def shiller(file: FileArg, data: DataOpt = DATA_DIR, accessed: AccessedOpt = None, url: UrlOpt = None,
            mirror: Annotated[Optional[str], typer.Option("--mirror", help="Where this copy was read, if not "
                                                          "from the publisher (default: --url).")] = None,
            commit: Annotated[Optional[str], typer.Option("--commit", help="The mirror's commit id (default: "
                                                          "'sha256:' and 16 hex digits of the file).")] = None,
            dry_run: DryRunOpt = False, today: TodayOpt = None) -> None:
    """Shiller's ie_data.xls -> external/shiller_ie_data.csv and its datasets.toml table."""
    from bubblelens.external.import_shiller import plan_shiller

    now = _today(today)
    day = _accessed(accessed, now)
    _run(data, dry_run, now, lambda: plan_shiller(file, data, accessed=day, url=url, mirror=mirror, commit=commit))


@app.command("metr")
def metr(file: FileArg, data: DataOpt = DATA_DIR, accessed: AccessedOpt = None, source_id: SourceIdOpt = None,
         url: UrlOpt = None, dry_run: DryRunOpt = False, today: TodayOpt = None) -> None:
    """METR's benchmark_results_1_*.yaml -> market/metr_time_horizon_p50_v*.csv and its doubling times."""
    from bubblelens.external.import_metr import plan_metr

    now = _today(today)
    day = _accessed(accessed, now)
    _run(data, dry_run, now, lambda: plan_metr(file, data, accessed=day, source_id=source_id, url=url))


@app.command("epoch-benchmarks")
def epoch_benchmarks(file: FileArg, data: DataOpt = DATA_DIR, accessed: AccessedOpt = None,
                     source_id: SourceIdOpt = None, url: UrlOpt = None, dry_run: DryRunOpt = False,
                     today: TodayOpt = None) -> None:
    """Epoch AI Benchmarking Hub CSVs or benchmark_data.zip -> market/epoch_*_frontier.csv (record setters)."""
    from bubblelens.external.import_epoch import plan_epoch

    now = _today(today)
    day = _accessed(accessed, now)
    _run(data, dry_run, now, lambda: plan_epoch(file, data, accessed=day, source_id=source_id, url=url))
