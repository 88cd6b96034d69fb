"""Report-side stages: curated market data, claims, charts and the rendered report.

Market data and claims are cheap and rerun on every build; charts and the rendered report form one
cached unit whose fingerprint covers everything they print. An unchanged rebuild therefore restores the
report from the cache, and an edited CSV re-renders it without touching the model stages upstream.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, charts_market, charts_models, claims, market, timeseries
from .cache import atomic_write_bytes
from .critical_values import load_or_compute_critical_values
from .config import canonical
from .pipeline import other_versions
from .report_tables import metric_summary

SP500 = charts_market.SP500_SERIES


def load_market_stage(ctx) -> market.Market:
    # Staleness is judged against the build date (see build_date), never the render's clock.
    ctx.date_text = build_date(Path(ctx.opts.data_dir))
    m = market.load_market(ctx.opts.data_dir, today=datetime.fromisoformat(ctx.date_text).date())
    ctx.input_hashes["market"] = m.fingerprint()
    if m.issues:
        ctx.reporter.info(f"data: {len(m.issues)} warnings (stale series, uncited sources); "
                          "`bubblelens data check` lists them")
    ctx.reporter.info(f"market: {len(m.series)} series, {len(m.sources)} sources from {ctx.opts.data_dir}")
    return m


def published_results(data_dir: Path) -> pd.DataFrame:
    path = Path(data_dir) / "reference" / "mixture2d_results.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def claims_stage(ctx, ev, mkt) -> list:
    registry = Path(ctx.opts.data_dir) / "claims.toml"
    ctx.input_hashes["claims"] = hashlib.sha256(registry.read_bytes()).hexdigest()[:16] if registry.is_file() else ""
    evidence = claims.Evidence(runs=ev.runs_long(), sweep=ev.sweep_frame(), market=mkt,
                               profile=ev.origin.get("profile") or ctx.cfg.profile,
                               published=published_results(ctx.opts.data_dir))
    results = claims.evaluate_claims(registry, evidence)
    for c in results:
        ctx.reporter.info(f"claim {c.claim_id}: {c.verdict}" + (f" ({c.reason})" if c.reason else ""))
    return results


def sp500_reference(mkt):
    """radf + critical values + episodes of the S&P 500 P/D ratio (the dot-com yardstick), or None."""
    if SP500 not in mkt.series:
        return None
    frame = mkt.series[SP500].frame.sort_values("date")
    y = pd.Series(frame["value"].to_numpy(), index=pd.DatetimeIndex(frame["date"]))
    result = timeseries.radf(y)
    cvs = load_or_compute_critical_values(result.n, result.min_window, result.lag)
    # PSY (2015) require an episode to last at least log(T) observations.
    episodes = timeseries.datestamp(result, cvs, level=0.95, min_duration=int(round(math.log(result.n))))
    return result, cvs, episodes


def build_id(ctx) -> str:
    """A short id of everything the report depends on (fingerprints and input hashes), never of the clock."""
    h = hashlib.sha256()
    for r in sorted(ctx.records, key=lambda r: (r.stage, r.key)):
        h.update(f"{r.stage}:{r.key}:{r.fingerprint}".encode())
    h.update(json.dumps(ctx.input_hashes, sort_keys=True).encode())
    h.update(__version__.encode())
    return h.hexdigest()[:10]


def build_date(data_dir: Path) -> str:
    """The date a report states: SOURCE_DATE_EPOCH when set, else the newest access date of the curated
    sources (the day the data are "as of"). Never the clock, so identical inputs give identical bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date().isoformat()
    import csv

    try:
        with (data_dir / market.MARKET_SUBDIR / "sources.csv").open(encoding="utf-8", newline="") as fh:
            dates = [r.get("accessed", "") for r in csv.DictReader(fh)]
    except OSError:
        dates = []
    valid = sorted(d for d in dates if len(d) == 10 and d[4] == "-" and d[7] == "-")
    return valid[-1] if valid else "1970-01-01"


def charts_stage(ctx, state: dict) -> dict:
    from .report_content import report_meta

    ev, mkt = state["evaluated"], state["market"]
    chart_dir = ctx.opts.out_dir / "charts"
    # Charts are written into a fresh directory and swapped in, so a failed build leaves the old ones.
    tmp = Path(tempfile.mkdtemp(prefix=".charts.", dir=ctx.opts.out_dir))
    meta = report_meta(ctx, ev, build_id(ctx), ctx.date_text)
    try:
        summary = metric_summary(ev.runs_long())
        env = charts_models.ChartEnv(tmp, _measured_by(meta), published_results(ctx.opts.data_dir), meta)
        with ctx.reporter.task("charts", 2) as cb:
            model_charts = charts_models.all_model_charts(ev, env, summary)
            cb(1, 2, {})
            growth = charts_market.growth_table(mkt)
            sp500 = sp500_reference(mkt)
            market_charts = charts_market.all_market_charts(mkt, env, growth, sp500)
            cb(2, 2, {})
        _swap_in(tmp, chart_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    by_id = {c.chart_id: c for c in model_charts + market_charts}
    return {"charts": by_id, "summary": summary, "growth": growth, "sp500": sp500, "meta": meta,
            "chart_dir": chart_dir}


def _measured_by(meta) -> str:
    return f"bubblelens {meta.version} build {meta.build_id} (profile {meta.profile}; {meta.hardware})"


REPORT_FILES = ("bubblelens-report.pdf", "bubblelens-report.html")


REPORT_CODE = ("chart_io", "charts_market", "charts_models", "claim_statistics", "claims", "report", "report_content",
               "report_model", "report_tables", "report_text", "timeseries", "critical_values", "market",
               "market_schema", "stats", "compute", "data_images", "pipeline", "changes", "stages_report")


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")) if root.is_dir() else []:
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def report_unit(ctx, state: dict, manifest_extra: dict) -> dict:
    """Charts + render as one cached unit: an unchanged rebuild restores the files instead of redrawing.

    The fingerprint covers every upstream fingerprint and input hash, the report code, the templates and
    the build date, so any change that could alter a byte of the report re-renders it.
    """
    from . import TEMPLATES_DIR

    inputs = {f"{r.stage}:{r.key}": r.fingerprint for r in ctx.records}
    inputs |= {f"input:{k}": v for k, v in ctx.input_hashes.items()}
    inputs["templates"] = _tree_digest(TEMPLATES_DIR)
    for sub in ("costs", "reference"):   # everything else under --data is in input_hashes (market, claims)
        inputs[sub] = _tree_digest(Path(ctx.opts.data_dir) / sub)
    inputs["origin"] = json.dumps(state["evaluated"].origin, sort_keys=True, default=str)
    inputs["changes"] = json.dumps(state.get("changes"), sort_keys=True, default=str)
    inputs["hardware"] = json.dumps(ctx.hardware, sort_keys=True)
    inputs["libraries"] = json.dumps(other_versions(), sort_keys=True)
    params = {"date": ctx.date_text, "profile": ctx.cfg.profile, "config": canonical(ctx.cfg)}

    def compute(fp):
        state["charts"] = charts_stage(ctx, state)
        info = render_stage(ctx, state, manifest_extra | {"build_id": state["charts"]["meta"].build_id})
        files = {f"charts/{p.name}": p for p in sorted(state["charts"]["chart_dir"].iterdir()) if p.is_file()}
        files |= {name: ctx.opts.out_dir / name for name in REPORT_FILES}
        arrays = {k: np.frombuffer(p.read_bytes(), dtype=np.uint8) for k, p in files.items()}
        return info | {"build_id": state["charts"]["meta"].build_id}, arrays

    result, arrays, _ = ctx.cached("render", "pdf+html+charts", params, inputs, REPORT_CODE, compute)
    if state.get("charts") is None:   # restored from the cache: put the files back, atomically
        _restore(ctx.opts.out_dir, arrays)
        ctx.reporter.info(f"report: unchanged, restored {ctx.opts.out_dir / REPORT_FILES[0]} from the cache")
    return result


def _swap_in(new: Path, target: Path) -> None:
    """Replace directory `target` by `new` with renames only, so readers never see a half-filled one."""
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _restore(out_dir: Path, arrays: dict) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".charts.", dir=out_dir))
    for name, data in arrays.items():
        if name.startswith("charts/"):
            (tmp / name.split("/", 1)[1]).write_bytes(data.tobytes())
    _swap_in(tmp, out_dir / "charts")
    for name in REPORT_FILES:
        atomic_write_bytes(out_dir / name, arrays[name].tobytes())


def render_stage(ctx, state: dict, manifest_extra: dict) -> dict:
    from .report import render_report
    from .report_content import assemble

    charts = state["charts"]
    content = assemble(ctx, state, charts["meta"], manifest_extra)
    with ctx.reporter.task("render", 1) as cb:
        info = render_report(content, ctx.opts.out_dir, chart_dir=charts["chart_dir"])
        cb(1, 1, {})
    ctx.reporter.info(f"report: {ctx.opts.out_dir / REPORT_FILES[0]} ({info['pages']} pages, "
                      f"HTML + PDF rendered in {info['render_s']:.1f} s)")
    return {"pages": info["pages"]}
