"""Report-side stages: curated market data, claims, charts and the rendered report.

Market data and claims are cheap and rerun on every build; charts and the rendered report form one
cached unit whose fingerprint covers everything they print. An unchanged rebuild therefore restores the
report from the cache, and an edited CSV re-renders it without touching the model stages upstream.

The analysis the report prints (metric summary, growth fits, the S&P 500 yardstick, long series) is its
own step (`analyse`); the charts only draw it. Charts and report are drawn and rendered into a staging
directory and put in place together once the render has succeeded (`install_outputs`), so a failed render
leaves the previous charts and report as they were.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np

from bubblelens.analysis import long_series, spending
from bubblelens.analysis.bubbles import sp500_reference
from bubblelens.analysis.critical_values import SHIPPED_DIR as CRITICAL_VALUE_TABLES
from bubblelens.analysis.growth import growth_table, scale_sensitivity
from bubblelens.claims import engine, history
from bubblelens.claims.history import rule_fingerprint
from bubblelens.claims.kinds import Evidence
from bubblelens.core.config import canonical
from bubblelens.core.errors import ClaimError, DataError
from bubblelens.core.io import atomic_directory, atomic_write_bytes, tree_digest
from bubblelens.core.resources import TEMPLATES_DIR, curated
from bubblelens.external.views import load_evidence_market
from bubblelens.market.reference import published_results
from bubblelens.pipeline.cache import fingerprint
from bubblelens.pipeline.context import BuildContext, CachedUnit, StageCode
from bubblelens.pipeline.manifest import build_date, other_versions, stable_manifest
from bubblelens.pipeline.state import Charts, Evaluated, MarketData, Verdicts
from bubblelens.report.charts import flow as charts_flow
from bubblelens.report.charts import long_series as charts_long, market as charts_market, models as charts_models
from bubblelens.report.charts import spending as charts_spending
from bubblelens.report.charts.reuse import reusing_drawings
from bubblelens.report.capability_evidence import CAPABILITY_CLAIM
from bubblelens.report.content import assemble, report_meta
from bubblelens.report.inputs import Analysis, ReportInputs
from bubblelens.report.render import HTML_NAME, PDF_NAME, render_report
from bubblelens.report.tables import metric_summary
from bubblelens.training.costs import load_costs

REPORT_FILES = (PDF_NAME, HTML_NAME)
# A claim's result depends on the statistic kinds, the probes and the analysis they call — all reached
# from the engine, whose import closure is the claims' code version — and on the shipped null tables.
CLAIMS_CODE = StageCode(("bubblelens.claims.engine",), (CRITICAL_VALUE_TABLES,))
# Charts and render run this module's stage functions; their non-Python inputs are the templates and
# fonts (for the PDF and the charts' type), and the critical-value tables the bubble test reads.
RENDER_CODE = StageCode(("bubblelens.pipeline.report_stages",), (TEMPLATES_DIR, CRITICAL_VALUE_TABLES))


def load_market_stage(ctx: BuildContext) -> MarketData:
    # Staleness is judged against the build date (see build_date), never the render's clock.
    date_text = build_date(Path(ctx.opts.data_dir))
    m = load_evidence_market(ctx.opts.data_dir, today=datetime.fromisoformat(date_text).date())
    external = curated(Path(ctx.opts.data_dir), "external")
    if m.issues:
        ctx.reporter.info(f"data: {len(m.issues)} warnings (stale series, uncited sources); "
                          "`bubblelens data check` lists them")
    ctx.reporter.info(f"market: {len(m.series)} series, {len(m.sources)} sources from {ctx.opts.data_dir}")
    return MarketData(m, date_text, m.fingerprint(), tree_digest(external) if external.is_dir() else None)


def _evidence(ctx: BuildContext, ev: Evaluated | None, md: MarketData) -> Evidence:
    """What the claims are tested on; without `ev` (before the models are evaluated) the market part only."""
    return Evidence(runs=ev.runs_long() if ev else None, sweep=ev.sweep_frame() if ev else None, market=md.market,
                    profile=(ev.origin.get("profile") if ev else None) or ctx.cfg.profile,
                    published=published_results(ctx.opts.data_dir))


def _claim_cache_unit(ctx: BuildContext, spec, evidence: Evidence) -> CachedUnit:
    """One claim as a cache unit: keyed by its rule, its evidence (engine.evidence_digest) and the claims code."""
    return CachedUnit("claims", spec.id, {"rule": rule_fingerprint(spec)}, engine.evidence_digest(spec, evidence),
                      CLAIMS_CODE, engine.claim_unit, {"spec": spec, "evidence": evidence})


def market_claim_units(ctx: BuildContext, md: MarketData) -> list[CachedUnit]:
    """The claims on market data alone, as units the executor can run beside training (issue 25: the
    bootstrap tests take most of a cold smoke build's claims stage and need no model). A claim's evidence
    digest leaves the runs out exactly when it names no run metric, so these are the very cache entries the
    claims stage looks up afterwards; it then finds them instead of computing them after training. Nothing
    is prefetched from a registry or lock file the claims stage would reject."""
    evidence = _evidence(ctx, None, md)
    return [_claim_cache_unit(ctx, spec, evidence) for spec in _registry_specs(ctx) if not spec.metrics]


def _registry_specs(ctx: BuildContext) -> list:
    """The registry's claims for computing ahead of the claims stage, or none when the registry or its lock
    has a problem: the claims stage reports it, as it always did."""
    try:
        specs = engine.load_registry(curated(ctx.opts.data_dir, "claims.toml"), engine.KINDS)
        if history.lock_problems(specs, curated(ctx.opts.data_dir, "claims.lock")):
            return []
    except (OSError, DataError):
        return []
    return specs


def _claims_on_the_pool(ctx: BuildContext, evidence: Evidence) -> None:
    """Compute the claims missing from the cache on the pool's workers, side by side, before the claims
    stage reads them (in file order, each from the cache). One after another in this process, a quick
    build's claims on the models took 55 s (the compute sweep's 27 s the longest) after evaluation. On a
    local pool of two or more workers only and never under --force, as for the market claims beside
    training (executors above); a single missing claim is computed in this process, where it costs no
    worker start."""
    if getattr(ctx.executor, "name", "") != "pool" or getattr(ctx.executor, "jobs", 1) < 2 or ctx.opts.force:
        return
    missing = [u for u in (_claim_cache_unit(ctx, spec, evidence) for spec in _registry_specs(ctx))
               if not ctx.all_cached([u])]
    if len(missing) > 1:
        try:
            ctx.run_units(missing)
        except ClaimError:
            # Whichever worker failed first raised; the claims stage computes what is still missing in file
            # order and stops at the first claim that fails, as a build without the pool names it.
            pass


def claims_stage(ctx: BuildContext, ev: Evaluated, md: MarketData) -> Verdicts:
    """Every claim of the registry (each from the cache when its rule and evidence are unchanged), then the
    article's questions answered from the verdicts."""
    registry = curated(ctx.opts.data_dir, "claims.toml")
    registry_digest = hashlib.sha256(registry.read_bytes()).hexdigest()[:16] if registry.is_file() else ""
    evidence = _evidence(ctx, ev, md)
    _claims_on_the_pool(ctx, evidence)
    claim_fps: dict[str, str] = {}
    results = engine.evaluate_claims(registry, evidence, lock=curated(ctx.opts.data_dir, "claims.lock"),
                                     memo=functools.partial(_cached_claim, ctx, fingerprints=claim_fps))
    for c in results:
        ctx.reporter.info(f"claim {c.claim_id}: {c.verdict}" + (f" ({c.reason})" if c.reason else ""))
    # Before anything is rendered: a verdict the rule's design settles is not evidence, so a quick or full
    # build stops here (training and evaluation stay cached) and the previous report is left as it was.
    if undecidable := engine.undecidable_claims(results, evidence.profile):
        raise DataError(f"claims: at these {evidence.profile} sizes " + "; ".join(undecidable)
                        + " — such a verdict would be settled by the rule at these sizes, not by the data, so no "
                        "report was written (the trained and evaluated units stay cached; change the rule and "
                        "record it with `bubblelens claims revise`, or add seeds)")
    answers = answers_stage(ctx, results)
    fp = hashlib.sha256(json.dumps([registry_digest, sorted(claim_fps.items())]).encode()).hexdigest()[:24]
    return Verdicts(results, answers, registry_digest, fp)


def _cached_claim(ctx: BuildContext, spec, evidence: Evidence, compute,
                  fingerprints: dict[str, str] | None = None) -> engine.ClaimResult:
    """One claim's result from the stage cache, keyed by its rule, its evidence and the claims code (the
    key goes into `fingerprints` by claim id).

    A claim that fails (a ClaimError: its statistic, probe or simulation raised) raises out of `compute`
    inside `ctx.cached`, before the cache stores anything, so a failure is never cached: the build stops
    with the error, and the next build computes the claim again."""
    unit = _claim_cache_unit(ctx, spec, evidence)
    res = ctx.cached(unit.stage, unit.key, unit.params, unit.inputs, unit.code, lambda: (compute().to_json(), {}),
                     uses_torch=False)
    if fingerprints is not None:
        fingerprints[spec.id] = res.fingerprint
    return engine.result_from_json(res.result, spec, evidence.profile)


def answers_stage(ctx: BuildContext, claims: list[engine.ClaimResult]) -> list[dict]:
    """The article's questions answered from the verdicts (claims/questions.py)."""
    answers = engine.answer_questions(curated(ctx.opts.data_dir, "claims.toml"), claims)
    for a in answers:
        ctx.reporter.info(f"question {a['question']}: {a['outcome']}")
    return answers


def _measured_by(meta) -> str:
    return f"bubblelens {meta.version} build {meta.build_id} (profile {meta.profile}; {meta.hardware})"


def analyse(ev: Evaluated, md: MarketData, verdicts: Verdicts) -> Analysis:
    """What the report prints beside the charts (and the charts draw): computed here, never while drawing."""
    mkt = md.market
    capability = engine.claim_by_id(verdicts.claims, CAPABILITY_CLAIM)
    long = {"panels": long_series.explosive_panels(mkt), "regimes": long_series.nvidia_regimes(mkt),
            "epoch": long_series.epoch_trends(mkt), "spending": spending.revenue_chain(mkt),
            "required": spending.published_requirements(mkt),
            "scales": scale_sensitivity(mkt, capability.details.get("pairs", []) if capability else [])}
    return Analysis(metric_summary(ev.runs_long()), growth_table(mkt), sp500_reference(mkt), long)


def draw_charts(ctx: BuildContext, ev: Evaluated, md: MarketData, verdicts: Verdicts, analysis: Analysis,
                meta, chart_dir: Path, fp: str) -> Charts:
    """Draw every chart into `chart_dir` (a staging directory: `install_outputs` puts them in place)."""
    mkt, claims, long = md.market, verdicts.claims, analysis.long
    chart_dir.mkdir(parents=True, exist_ok=True)
    env = charts_models.ChartEnv(chart_dir, _measured_by(meta), published_results(ctx.opts.data_dir), meta)
    # A chart whose drawing is unchanged comes from the cache; --force draws (and stores) every chart. The
    # others are drawn as the outer block ends, after the progress display has stopped (drawing_pool.py forks),
    # in as many processes as the local pool runs units, at most one per core.
    processes = min(ctx.executor.jobs, os.cpu_count() or 1) if getattr(ctx.executor, "name", "") == "pool" else 1
    with reusing_drawings(ctx.cache, RENDER_CODE.version(), read=not ctx.opts.force, processes=processes) as store, \
            ctx.reporter.task("charts", 2) as cb:
        model_charts = charts_models.all_model_charts(ev, env, analysis.summary) + charts_flow.all_flow_charts(ev, env)
        cb(1, 2, {})
        market_charts = charts_market.all_market_charts(mkt, env, analysis.growth) + [c for c in (
            charts_long.bsadf_panels(mkt, env, long["panels"]),
            charts_long.nvidia_regimes(mkt, env, long["regimes"]),
            charts_long.epoch_compute(mkt, env, long["epoch"]),
            charts_long.valuation_ratios(mkt, env, claims),
            charts_long.valuation_bsadf(mkt, env, claims),
            charts_spending.spending_chain(mkt, env, long["spending"], long["required"]),
            charts_spending.capability_vs_spending(mkt, env, claims)) if c is not None]
        cb(2, 2, {})
    drawn = f", in {store.draw_seconds:.1f} s by {store.processes_used} processes" if store.drawn else ""
    ctx.reporter.info(f"charts: {store.reused} reused from the cache, {store.drawn} drawn{drawn}")
    return Charts({c.chart_id: c for c in model_charts + market_charts}, meta, chart_dir, fp)


def report_inputs(ev: Evaluated, md: MarketData, verdicts: Verdicts, changes: dict | None, charts: Charts,
                  analysis: Analysis) -> ReportInputs:
    """The report's inputs, filled in from the stage results."""
    return ReportInputs(runs=ev.runs, features_info=ev.features_info, real=ev.real, origin=ev.origin, nfe=ev.nfe,
                        market=md.market, claims=verdicts.claims, answers=verdicts.answers, changes=changes,
                        charts=charts.charts, analysis=analysis)


def _report_key(ctx: BuildContext, ev: Evaluated, md: MarketData, verdicts: Verdicts, changes: dict | None,
                build_id: str) -> tuple[dict, dict[str, str]]:
    """Params and inputs of the charts + report unit, from the values passed in: the build id (every stage
    fingerprint and input hash of the build, which the report prints), the fingerprints of the evaluated
    results, the market data and the verdicts, the curated inputs read while drawing and rendering, and
    what the report states about the build."""
    inputs = {"build_id": build_id, "evaluated": ev.fingerprint, "market": md.fingerprint,
              "external": md.external or "", "claims": verdicts.fingerprint,
              "origin": json.dumps(ev.origin, sort_keys=True, default=str),
              "changes": json.dumps(changes, sort_keys=True, default=str),
              "hardware": json.dumps(ctx.hardware, sort_keys=True),
              "libraries": json.dumps(other_versions(), sort_keys=True)}
    for sub in ("costs", "reference"):   # the other curated inputs are in the market and claims fingerprints
        inputs[sub] = tree_digest(curated(ctx.opts.data_dir, sub))
    return {"date": md.date_text, "profile": ctx.cfg.profile, "config": canonical(ctx.cfg)}, inputs


def charts_only(ctx: BuildContext, ev: Evaluated, md: MarketData, verdicts: Verdicts, changes: dict | None,
                build_id: str) -> Charts:
    """`--only charts`: draw the charts and put them in place, without a report."""
    params, inputs = _report_key(ctx, ev, md, verdicts, changes, build_id)
    meta = report_meta(ctx.cfg, ctx.hardware, ev.origin, ev.runs, build_id, md.date_text, verdicts.answers)
    with _staging(ctx.opts.out_dir) as staging:
        charts = draw_charts(ctx, ev, md, verdicts, analyse(ev, md, verdicts), meta, staging / "charts",
                             fingerprint("charts", params, inputs, RENDER_CODE.version()))
        install_outputs(ctx.opts.out_dir, _files(staging, with_report=False))
    return charts


def report_unit(ctx: BuildContext, ev: Evaluated, md: MarketData, verdicts: Verdicts, changes: dict | None,
                build_id: str, manifest_extra: dict) -> dict:
    """Charts + render as one cached unit: an unchanged rebuild restores the files instead of redrawing.

    The fingerprint covers every upstream fingerprint and input hash, the report code with its templates
    and tables, the curated inputs read here and the build date, so any change that could alter a byte of
    the report re-renders it. Either way the files are put in place only once all of them exist.
    """
    params, inputs = _report_key(ctx, ev, md, verdicts, changes, build_id)
    drawn: list[Charts] = []

    def compute():
        meta = report_meta(ctx.cfg, ctx.hardware, ev.origin, ev.runs, build_id, md.date_text, verdicts.answers)
        analysis = analyse(ev, md, verdicts)
        with _staging(ctx.opts.out_dir) as staging:
            charts = draw_charts(ctx, ev, md, verdicts, analysis, meta, staging / "charts",
                                 fingerprint("charts", params, inputs, RENDER_CODE.version()))
            info = render_stage(ctx, report_inputs(ev, md, verdicts, changes, charts, analysis), meta,
                                manifest_extra | {"build_id": build_id}, staging)
            files = _files(staging, with_report=True)
        drawn.append(charts)
        return info | {"build_id": build_id}, files

    res = ctx.cached("render", "pdf+html+charts", params, inputs, RENDER_CODE, compute, uses_torch=False)
    install_outputs(ctx.opts.out_dir, res.arrays)
    if not drawn:
        ctx.reporter.info(f"report: unchanged, restored {ctx.opts.out_dir / REPORT_FILES[0]} from the cache")
    return res.result


@contextmanager
def _staging(out_dir: Path) -> Iterator[Path]:
    """A hidden directory in `out_dir` to draw and render into; removed on exit, whatever happened."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".render.", dir=out_dir, ignore_cleanup_errors=True) as path:
        yield Path(path)


def _files(staging: Path, *, with_report: bool) -> dict[str, np.ndarray]:
    """The bytes of what was drawn (charts/NAME) and rendered (the report files), as the cache stores them."""
    chart_dir = staging / "charts"
    files = {f"charts/{p.name}": p for p in sorted(chart_dir.iterdir()) if p.is_file()}
    files |= {name: staging / name for name in REPORT_FILES} if with_report else {}
    return {k: np.frombuffer(p.read_bytes(), dtype=np.uint8) for k, p in files.items()}


def install_outputs(out_dir: Path, files: dict[str, np.ndarray]) -> None:
    """Put the charts (a fresh charts/, swapped in whole) and the report files in place, each atomically.
    Called only with every file in hand, after the render succeeded (or from the cache: read whole first,
    so that a damaged entry stops the build before anything in `out_dir` is replaced)."""
    files = dict(files)
    with atomic_directory(out_dir / "charts") as tmp:
        for name, data in files.items():
            if name.startswith("charts/"):
                (tmp / name.split("/", 1)[1]).write_bytes(data.tobytes())
    for name in REPORT_FILES:
        if name in files:
            atomic_write_bytes(out_dir / name, files[name].tobytes())


def render_stage(ctx: BuildContext, inputs: ReportInputs, meta, manifest_extra: dict, out_dir: Path) -> dict:
    """The report from its inputs, written into `out_dir` with the charts drawn into `out_dir`/charts."""
    content = assemble(ctx.cfg, inputs, meta, stable_manifest(ctx, manifest_extra),
                       published_results(ctx.opts.data_dir), load_costs(curated(ctx.opts.data_dir, "costs")))
    with ctx.reporter.task("render", 1) as cb:
        info = render_report(content, out_dir, chart_dir=out_dir / "charts")
        cb(1, 1, {})
    ctx.reporter.info(f"report: {ctx.opts.out_dir / REPORT_FILES[0]} ({info['pages']} pages, "
                      f"HTML + PDF rendered in {info['render_s']:.1f} s)")
    return {"pages": info["pages"]}
