"""`bubblelens data check|list|add|init|import`: the analyst's commands for the curated market data.

A Typer sub-app, mounted by cli/main.py with `app.add_typer(data.app, name="data")`. Parsing and printing
only; the rules live in market/load.py and market/schema.py (external/load.py and external/schema.py for
the external data sets `data check` also validates), the copying in core/resources.py. Issues go to
stderr (one per line, never wrapped, so they can be grepped and clicked), results to stdout; any data
error exits 3, a refused `data init` exits 2.
"""
from __future__ import annotations

import json
import shlex
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bubblelens.cli.data_import import app as import_app
from bubblelens.core.errors import EXIT_INVALID_DATA, EXIT_STAGE_FAILED, EXIT_USAGE, BubblelensError, DataError
from bubblelens.core.resources import CURATED, DATA_DIR, copy_curated, is_installed_copy

if TYPE_CHECKING:
    from bubblelens.market.schema import Issue

app = typer.Typer(help="Check, list and add curated market data (data/market); copy it out to edit.",
                  no_args_is_help=True)
app.add_typer(import_app, name="import")      # `data import shiller|metr|epoch-benchmarks FILE`

DataOpt = Annotated[Path, typer.Option("--data", help="Curated-data directory (the one containing market/ "
                                       "and external/).", file_okay=False)]
TodayOpt = Annotated[Optional[str], typer.Option(
    "--today", hidden=True, help="Judge future and stale dates against this ISO day (for reproducible checks).")]


def _today(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date (YYYY-MM-DD)", param_hint="--today") from None


# The loaders (pandas, pydantic) are imported inside the commands that use them: `bubblelens build` imports
# this module too, and an unchanged rebuild must not pay for them (issue 25).


def _print_issues(issues: list[Issue]) -> None:
    """Errors in red as `file:line: column 'c': message`, warnings in yellow with a `warning:` prefix."""
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for issue in issues:
        if issue.severity == "error":
            err.print(Text(str(issue), style="red"))
        else:
            err.print(Text(f"warning: {issue}", style="yellow"))


def _fail(exc: DataError) -> typer.Exit:
    from bubblelens.external.load import ExternalDataError
    from bubblelens.market.load import MarketDataError

    if isinstance(exc, (MarketDataError, ExternalDataError)):
        _print_issues(exc.issues)
    else:
        Console(stderr=True, soft_wrap=True, highlight=False).print(Text(str(exc), style="red"))
    return typer.Exit(EXIT_INVALID_DATA)


def _refuse(message: str, code: int) -> typer.Exit:
    Console(stderr=True, soft_wrap=True, highlight=False).print(Text(message, style="red"))
    return typer.Exit(code)


def _stdout() -> Console:
    # A pipe or a test runner has no width; give tables room instead of rich's 80-column default.
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


@app.command("check")
def check(data: DataOpt = DATA_DIR, today: TodayOpt = None) -> None:
    """Validate the series, sources table and metadata, and the external data sets; exit 3 on any error."""
    from bubblelens.external.load import validate_external
    from bubblelens.market.load import validate

    day = _today(today)
    issues = validate(data, today=day) + validate_external(data, today=day)
    _print_issues(issues)
    n_err = sum(i.severity == "error" for i in issues)
    n_warn = len(issues) - n_err
    # One line however long the path (a summary someone greps for must never wrap).
    _stdout().print(Text(f"{data / 'market'}, {data / 'external'}: {n_err} error(s), {n_warn} warning(s)"),
                    soft_wrap=True)
    if n_err:
        raise typer.Exit(EXIT_INVALID_DATA)


@app.command("list")
def list_series(data: DataOpt = DATA_DIR, as_json: Annotated[bool, typer.Option(
        "--json", help="Print the rows as JSON instead of a table.")] = False,
        today: TodayOpt = None) -> None:
    """Table of the series: id, category, rows, date range, sources, reliability."""
    from bubblelens.market.load import describe, load_market

    try:
        market = load_market(data, today=_today(today))
    except DataError as exc:
        raise _fail(exc) from None
    rows = describe(market)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Curated market series ({data / 'market'})")
    table.add_column("id", no_wrap=True)
    table.add_column("category", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("date range", no_wrap=True)
    table.add_column("sources", justify="right")
    table.add_column("reliability", no_wrap=True)
    for r in rows:
        table.add_row(r["series_id"], r["category"], str(r["rows"]), f"{r['first']} – {r['last']}",
                      str(r["sources"]), r["reliability"])
    _stdout().print(table)


@app.command("add")
def add(series: Annotated[str, typer.Argument(help="Series id (the CSV file's stem).")],
        date_: Annotated[str, typer.Option("--date", help="YYYY or YYYY-MM-DD (quarter: its end date).")],
        value: Annotated[str, typer.Option("--value", help="The number as the source states it "
                                           "(a phase name for category series).")],
        source: Annotated[str, typer.Option("--source", help="source_id of a row in sources.csv.")],
        note: Annotated[str, typer.Option("--note", help="Provenance or caveat for this value.")] = "",
        label: Annotated[str, typer.Option("--label", help="Entity or metric, for series with a "
                                           "label column.")] = "",
        unit: Annotated[Optional[str], typer.Option("--unit", help="Defaults to the series unit in "
                                                    "series.toml.")] = None,
        data: DataOpt = DATA_DIR, today: TodayOpt = None) -> None:
    """Append one row, only if the whole dataset still validates (atomic; the file is untouched on failure)."""
    from bubblelens.market.load import add_row

    if is_installed_copy(data):
        # The default --data of an installed bubblelens is the package's own copy: an upgrade would
        # silently drop the row, and site-packages may not be writable anyway.
        raise _refuse(f"{data} is the installed package's own copy of the shipped data and is never edited; "
                      "run `bubblelens data init DIR` and pass `--data DIR` to `data add` and `build`.",
                      EXIT_INVALID_DATA)
    try:
        add_row(data, series, date_, value, source, note=note, label=label, unit=unit, today=_today(today))
    except DataError as exc:
        raise _fail(exc) from None
    _stdout().print(Text(f"added to {series}: {date_} = {value} ({source})"))


@app.command("init")
def init(directory: Annotated[Path, typer.Argument(help="Where to put the copy (created if missing).",
                                                   metavar="DIR")],
         force: Annotated[bool, typer.Option("--force", help="Replace the curated inputs in a non-empty DIR "
                                             "(other files in it are kept).")] = False) -> None:
    """Copy the shipped curated inputs (market, reference, costs, external, claims) into DIR to edit and build from."""
    target = directory.resolve()
    if target.is_relative_to(DATA_DIR.resolve()) or is_installed_copy(target):   # would copy into itself
        raise _refuse(f"{directory} is inside the shipped data ({DATA_DIR}); choose a directory outside it.",
                      EXIT_USAGE)
    if target.exists() and not target.is_dir():
        raise _refuse(f"{directory} exists and is not a directory; choose a new directory.", EXIT_USAGE)
    if target.is_dir() and any(target.iterdir()) and not force:
        raise _refuse(f"{directory} already exists and is not empty; choose a new or empty directory, or "
                      f"pass --force to replace the {', '.join(CURATED)} in it.", EXIT_USAGE)
    try:
        copied = copy_curated(directory, DATA_DIR)
    except BubblelensError as exc:
        raise _refuse(str(exc), exc.exit_code) from None
    except OSError as exc:       # disk full, permissions: nothing was left half-copied
        raise _refuse(f"could not copy the shipped data into {directory}: {exc}", EXIT_STAGE_FAILED) from None
    typer.echo(f"copied the shipped curated data from {DATA_DIR} into {directory}:")
    for path in copied:
        if path.is_dir():
            typer.echo(f"  {path.name}/  ({sum(p.is_file() for p in path.rglob('*'))} files)")
        else:
            typer.echo(f"  {path.name}")
    quoted = shlex.quote(str(directory))
    typer.echo(f"next: edit the files there, then run `bubblelens data check --data {quoted}` and "
               f"`bubblelens build --data {quoted}`")
