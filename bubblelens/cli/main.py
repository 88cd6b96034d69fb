"""The `bubblelens` command: parse options, call the library, map errors to exit codes. No logic here.

Exit codes: 0 ok · 1 a stage failed (a claim that crashed: `ClaimError`) · 2 usage · 3 invalid data or provenance · 4 frozen but missing result.
"""
from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from bubblelens import __version__
from bubblelens.cli.claims import app as claims_app
from bubblelens.cli.data import app as data_app
from bubblelens.core.config import DEVICES, PROFILES
from bubblelens.core.errors import EXIT_STAGE_FAILED, BubblelensError
from bubblelens.core.gc_tuning import collect_less, leave_to_exit
from bubblelens.core.resources import DATA_DIR
from bubblelens.pipeline.executor import DEFAULT_EXECUTOR, DEFAULT_JOBS, EXECUTORS

app = typer.Typer(
    help="Measured, cited evidence on whether generative AI delivers what the market expects of it.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="Inspect or empty the stage cache.", no_args_is_help=True)
config_app = typer.Typer(help="Show the resolved build configuration.", no_args_is_help=True)
results_app = typer.Typer(help="Export a build's results as a bundle another machine can render.",
                          no_args_is_help=True)
app.add_typer(cache_app, name="cache")
app.add_typer(config_app, name="config")
app.add_typer(results_app, name="results")
app.add_typer(data_app, name="data", help="Check, list, add and start curated market data.")
app.add_typer(claims_app, name="claims", help="Check that every claim's verdict could go either way; revise a rule.")

_state = {"debug": False}


# Choices for --help and validation, from the one list of each in core/config.py.
Profile = Enum("Profile", {name: name for name in PROFILES}, type=str)
Device = Enum("Device", {name: name for name in DEVICES}, type=str)
Executor = Enum("Executor", {name: name for name in EXECUTORS}, type=str)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bubblelens {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
) -> None:
    _state["debug"] = debug


@app.command()
def build(
    profile: Profile = typer.Option(Profile.quick, help="smoke (tests, about 1 min), quick (CPU, about 18-19 min on 2 cores) or full (GPU reference study)."),
    out: Path = typer.Option(Path("reports"), "--out", help="Directory the report, charts, results and manifest are written to."),
    data: Path = typer.Option(DATA_DIR, "--data", help="Curated-data directory (market series, sources, claims, costs)."),
    images: Optional[Path] = typer.Option(None, "--images", envvar="BUBBLELENS_IMAGES",
                                          help="Full Fashion-MNIST IDX directory (full profile only; smoke/quick use the shipped subset)."),
    results: Optional[Path] = typer.Option(None, "--results", help="Render from a results bundle (`bubblelens results export`) instead of training."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file overriding profile settings, e.g. \\[dcgan] epochs = 5."),
    only: Optional[str] = typer.Option(None, "--only", help="Run only this stage and what it needs: data, features, train, evaluate, market, claims, charts, render."),
    force: bool = typer.Option(False, "--force", help="Recompute (the --only stage, or everything) even when cached."),
    frozen: bool = typer.Option(False, "--frozen", help="Never train; exit 4 when a trained result is missing from the cache."),
    device: Device = typer.Option(Device.auto, help="auto uses CUDA when available."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output; only errors."),
    executor: Executor = typer.Option(DEFAULT_EXECUTOR, "--executor",
                                      help="How independent units (training runs, evaluations) run: serial in this "
                                           "process, pool (one fresh worker process per unit, --jobs at a time), or "
                                           "ray (Ray tasks on a local runtime or a cluster; pip install "
                                           "'bubblelens\\[ray]')."),
    jobs: int = typer.Option(DEFAULT_JOBS, "--jobs", min=1, help="Units at a time with --executor pool (default: CPU cores)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", envvar="BUBBLELENS_RAY_ADDRESS",
                                              help="With --executor ray: join the cluster at 'auto' or HOST:PORT "
                                                   "(`ray start --head` prints it); none starts a local Ray runtime."),
) -> None:
    """Train, measure, test the claims and render the PDF and HTML report."""
    import time

    from bubblelens.core.config import load_config
    from bubblelens.pipeline.context import BuildOptions
    from bubblelens.pipeline.progress import setup_logging
    from bubblelens.pipeline.unchanged import build_key, unchanged_summary

    t0 = time.perf_counter()
    setup_logging(quiet, _state["debug"])
    opts = BuildOptions(config=load_config(profile.value, config), out_dir=out, data_dir=data, images_dir=images,
                        results_bundle=results, config_file=config, only=only, force=force, frozen=frozen,
                        device=device.value, quiet=quiet, executor=executor.value, jobs=jobs,
                        ray_address=ray_address)
    key = build_key(opts)
    summary = unchanged_summary(opts, key)
    if summary is None:
        from bubblelens.pipeline.build import run_build   # torch, the stages and their libraries load here

        summary = run_build(opts, key)
    else:
        summary["seconds"] = round(time.perf_counter() - t0, 2)
        if not quiet:
            typer.echo(f"unchanged: nothing this build reads has changed since the build that wrote {out}, "
                       "and its outputs are intact; nothing to do (--force rebuilds)", err=True)
    typer.echo(json.dumps(summary, indent=2, sort_keys=True))


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the reference models: parameters, forward FLOPs per sample, architecture source."""
    from bubblelens.models.catalogue import describe_models

    rows = describe_models()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bubblelens reference models (width 1.0)")
    for col, justify in (("model", "left"), ("G params", "right"), ("D params", "right"), ("total params", "right"),
                         ("fwd MFLOP/sample", "right")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(r["name"], *(f"{r[k]:,}" if r[k] is not None else "–" for k in ("params_g", "params_d", "params")),
                      f"{r['flops_forward_per_sample'] / 1e6:,.1f}")
    console = Console()
    console.print(table)
    for r in rows:
        console.print(f"[bold]{r['name']}[/bold]: {r['source']}", highlight=False)


@app.command()
def cite(chart_id: str = typer.Argument(..., help="A chart id, e.g. fig-ring8-mode-coverage."),
         out: Path = typer.Option(Path("reports"), "--out", help="The build directory."),
         bibtex: bool = typer.Option(False, "--bibtex", help="Print the BibTeX entry instead.")) -> None:
    """Print the citation of a chart from the last build in --out."""
    from bubblelens.core.errors import UsageError

    meta = out / "charts" / f"{chart_id}.json"
    if not meta.is_file():
        known = sorted(p.stem for p in (out / "charts").glob("fig-*.json")) if (out / "charts").is_dir() else []
        raise UsageError(f"no chart '{chart_id}' in {out}/charts" + (f"; known: {', '.join(known)}" if known else
                                                                       "; run `bubblelens build` first"))
    info = json.loads(meta.read_text(encoding="utf-8"))
    typer.echo(info["bibtex"] if bibtex else info["citation"])


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cached stage result."""
    from bubblelens.pipeline.cache import Cache

    cache = Cache()
    freed = cache.clear()
    typer.echo(f"cleared {cache.root} ({freed / 1e6:.1f} MB)")


@cache_app.command("path")
def cache_path() -> None:
    """Print where the cache lives."""
    from bubblelens.pipeline.cache import Cache

    typer.echo(str(Cache().root))


@config_app.command("show")
def config_show(profile: Profile = typer.Option(Profile.quick, help="Profile to resolve."),
                config: Optional[Path] = typer.Option(None, "--config", help="TOML overrides to apply.")) -> None:
    """Print the resolved configuration of a profile as JSON."""
    from bubblelens.core.config import canonical, load_config

    typer.echo(json.dumps(canonical(load_config(profile.value, config)), indent=2))


@results_app.command("export")
def results_export(out: Path = typer.Option(Path("reports"), "--out", help="The build directory to export."),
                   bundle: Path = typer.Option(Path("bubblelens-results.zip"), "--bundle", help="Bundle file to write.")) -> None:
    """Write a results bundle (metrics, histories, compute, sample grids, manifest; no checkpoints)."""
    from bubblelens.pipeline.results import export_bundle

    size = export_bundle(out, bundle)
    typer.echo(f"wrote {bundle} ({size / 1e6:.2f} MB)")


def main() -> None:
    """Entry point: Typer handles usage errors (exit 2) and --help; bubblelens errors become one sentence."""
    collect_less()
    try:
        app()
    except BubblelensError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"bubblelens: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("bubblelens: interrupted; finished stages stay cached, nothing half-written was kept", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: exit 1 with one sentence
        if _state["debug"]:
            raise
        logging.getLogger("bubblelens").debug("crash", exc_info=exc)
        typer.echo(f"bubblelens: error: a stage failed: {type(exc).__name__}: {exc} "
                   "(rerun with --debug for the traceback)", err=True)
        sys.exit(EXIT_STAGE_FAILED)


def run_command() -> None:
    """The process entry (the `bubblelens` script, `python -m bubblelens`): `main`, then everything still alive
    is left to the process's exit rather than collected on the way out (core/gc_tuning.py: leave_to_exit).
    Tests call `main`, which returns control to a process that goes on."""
    try:
        main()
    finally:
        leave_to_exit()
