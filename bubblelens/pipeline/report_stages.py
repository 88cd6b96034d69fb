"""Report-side stages: curated market data, claims, charts and the rendered report.

Market data and claims are cheap and rerun on every build; charts and the rendered report form one
cached unit whose fingerprint covers everything they print. An unchanged rebuild therefore restores the
report from the cache, and an edited CSV re-renders it without touching the model stages upstream.
"""
from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime
from pathlib import Path

import numpy as np

from bubblelens.analysis import long_series, spending
from bubblelens.analysis.bubbles import sp500_reference
from bubblelens.analysis.critical_values import SHIPPED_DIR as CRITICAL_VALUE_TABLES
from bubblelens.analysis.growth import growth_table, scale_sensitivity
from bubblelens.claims import engine
from bubblelens.claims.history import rule_fingerprint
from bubblelens.claims.kinds import Evidence
from bubblelens.core.config import canonical
from bubblelens.core.errors import DataError
from bubblelens.core.io import atomic_directory, atomic_write_bytes, tree_digest
from bubblelens.core.resources import TEMPLATES_DIR, curated
from bubblelens.external.views import load_evidence_market
from bubblelens.market import load as market
from bubblelens.market.reference import published_results
from bubblelens.pipeline.context import BuildContext, StageCode
from bubblelens.pipeline.manifest import build_date, build_id, other_versions, stable_manifest
from bubblelens.pipeline.state import BuildState, Charts, Evaluated
from bubblelens.report.charts import long_series as charts_long, market as charts_market, models as charts_models
from bubblelens.report.charts import spending as charts_spending
from bubblelens.report.capability_evidence import CAPABILITY_CLAIM
from bubblelens.report.content import assemble, report_meta
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


def load_market_stage(ctx: BuildContext) -> market.Market:
    # Staleness is judged against the build date (see build_date), never the render's clock.
    ctx.date_text = build_date(Path(ctx.opts.data_dir))
    m = load_evidence_market(ctx.opts.data_dir, today=datetime.fromisoformat(ctx.date_text).date())
    ctx.input_hashes["market"] = m.fingerprint()
    external = curated(Path(ctx.opts.data_dir), "external")
    if external.is_dir():
        ctx.input_hashes["external"] = tree_digest(external)
    if m.issues:
        ctx.reporter.info(f"data: {len(m.issues)} warnings (stale series, uncited sources); "
                          "`bubblelens data check` lists them")
    ctx.reporter.info(f"market: {len(m.series)} series, {len(m.sources)} sources from {ctx.opts.data_dir}")
    return m


def claims_stage(ctx: BuildContext, ev: Evaluated, mkt: market.Market) -> list[engine.ClaimResult]:
    registry = curated(ctx.opts.data_dir, "claims.toml")
    ctx.input_hashes["claims"] = hashlib.sha256(registry.read_bytes()).hexdigest()[:16] if registry.is_file() else ""
    evidence = Evidence(runs=ev.runs_long(), sweep=ev.sweep_frame(), market=mkt,
                        profile=ev.origin.get("profile") or ctx.cfg.profile,
                        published=published_results(ctx.opts.data_dir))
    results = engine.evaluate_claims(registry, evidence, lock=curated(ctx.opts.data_dir, "claims.lock"),
                                     memo=functools.partial(_cached_claim, ctx))
    for c in results:
        ctx.reporter.info(f"claim {c.claim_id}: {c.verdict}" + (f" ({c.reason})" if c.reason else ""))
    # Before anything is rendered: a verdict the rule's design settles is not evidence, so a quick or full
    # build stops here (training and evaluation stay cached) and the previous report is left as it was.
    if undecidable := engine.undecidable_claims(results, evidence.profile):
        raise DataError(f"claims: at these {evidence.profile} sizes " + "; ".join(undecidable)
                        + " — such a verdict would be settled by the rule at these sizes, not by the data, so no "
                        "report was written (the trained and evaluated units stay cached; change the rule and "
                        "record it with `bubblelens claims revise`, or add seeds)")
    return results


def _cached_claim(ctx: BuildContext, spec, evidence: Evidence, compute) -> engine.ClaimResult:
    """One claim's result from the stage cache, keyed by its rule, its evidence and the claims code.

    A claim that fails (a ClaimError: its statistic, probe or simulation raised) raises out of `compute`
    inside `ctx.cached`, before the cache stores anything, so a failure is never cached: the build stops
    with the error, and the next build computes the claim again."""
    result, _, _ = ctx.cached("claims", spec.id, {"rule": rule_fingerprint(spec)},
                              engine.evidence_digest(spec, evidence), CLAIMS_CODE,
                              lambda: (compute().to_json(), {}))
    return engine.result_from_json(result, spec, evidence.profile)


def answers_stage(ctx: BuildContext, claims: list[engine.ClaimResult]) -> list[dict]:
    """The article's questions answered from the verdicts (claims/questions.py)."""
    answers = engine.answer_questions(curated(ctx.opts.data_dir, "claims.toml"), claims)
    for a in answers:
        ctx.reporter.info(f"question {a['question']}: {a['outcome']}")
    return answers


def _measured_by(meta) -> str:
    return f"bubblelens {meta.version} build {meta.build_id} (profile {meta.profile}; {meta.hardware})"


def charts_stage(ctx: BuildContext, state: BuildState) -> Charts:
    """Draw every chart into a fresh directory swapped in whole, so a failed build leaves the old ones."""
    ev, mkt = state.evaluated, state.market
    chart_dir = ctx.opts.out_dir / "charts"
    meta = report_meta(ctx.cfg, ctx.hardware, ev, build_id(ctx), ctx.date_text, state.answers)
    summary = metric_summary(ev.runs_long())
    growth = growth_table(mkt)
    sp500 = sp500_reference(mkt)
    capability = engine.claim_by_id(state.claims, CAPABILITY_CLAIM)
    long = {"panels": long_series.explosive_panels(mkt), "regimes": long_series.nvidia_regimes(mkt),
            "epoch": long_series.epoch_trends(mkt), "spending": spending.revenue_chain(mkt),
            "required": spending.published_requirements(mkt),
            "scales": scale_sensitivity(mkt, capability.details.get("pairs", []) if capability else [])}
    with atomic_directory(chart_dir) as tmp:
        env = charts_models.ChartEnv(tmp, _measured_by(meta), published_results(ctx.opts.data_dir), meta)
        with ctx.reporter.task("charts", 2) as cb:
            model_charts = charts_models.all_model_charts(ev, env, summary)
            cb(1, 2, {})
            market_charts = charts_market.all_market_charts(mkt, env, growth) + [c for c in (
                charts_long.bsadf_panels(mkt, env, long["panels"]),
                charts_long.nvidia_regimes(mkt, env, long["regimes"]),
                charts_long.epoch_compute(mkt, env, long["epoch"]),
                charts_long.valuation_ratios(mkt, env, state.claims),
                charts_long.valuation_bsadf(mkt, env, state.claims),
                charts_spending.spending_chain(mkt, env, long["spending"], long["required"]),
                charts_spending.capability_vs_spending(mkt, env, state.claims)) if c is not None]
            cb(2, 2, {})
    by_id = {c.chart_id: c for c in model_charts + market_charts}
    return Charts(by_id, summary, growth, sp500, meta, chart_dir, long)


def report_unit(ctx: BuildContext, state: BuildState, manifest_extra: dict) -> dict:
    """Charts + render as one cached unit: an unchanged rebuild restores the files instead of redrawing.

    The fingerprint covers every upstream fingerprint and input hash, the report code with its templates
    and tables, the curated inputs read here and the build date, so any change that could alter a byte of
    the report re-renders it.
    """
    # Indexed, not keyed by stage:key alone: sweep runs share the key of the seed-0 reference run.
    inputs = {f"{r.stage}:{r.key}#{i}": r.fingerprint for i, r in enumerate(ctx.records)}
    inputs |= {f"input:{k}": v for k, v in ctx.input_hashes.items()}
    for sub in ("costs", "reference"):   # everything else under --data is in input_hashes (market, claims)
        inputs[sub] = tree_digest(curated(ctx.opts.data_dir, sub))
    inputs["origin"] = json.dumps(state.evaluated.origin, sort_keys=True, default=str)
    inputs["changes"] = json.dumps(state.changes, sort_keys=True, default=str)
    inputs["hardware"] = json.dumps(ctx.hardware, sort_keys=True)
    inputs["libraries"] = json.dumps(other_versions(), sort_keys=True)
    params = {"date": ctx.date_text, "profile": ctx.cfg.profile, "config": canonical(ctx.cfg)}

    def compute():
        state.charts = charts_stage(ctx, state)
        info = render_stage(ctx, state, manifest_extra | {"build_id": state.charts.meta.build_id})
        files = {f"charts/{p.name}": p for p in sorted(state.charts.chart_dir.iterdir()) if p.is_file()}
        files |= {name: ctx.opts.out_dir / name for name in REPORT_FILES}
        arrays = {k: np.frombuffer(p.read_bytes(), dtype=np.uint8) for k, p in files.items()}
        return info | {"build_id": state.charts.meta.build_id}, arrays

    result, arrays, _ = ctx.cached("render", "pdf+html+charts", params, inputs, RENDER_CODE, compute)
    if state.charts is None:   # restored from the cache: put the files back, atomically
        _restore(ctx.opts.out_dir, arrays)
        ctx.reporter.info(f"report: unchanged, restored {ctx.opts.out_dir / REPORT_FILES[0]} from the cache")
    return result


def _restore(out_dir: Path, arrays: dict) -> None:
    with atomic_directory(out_dir / "charts") as tmp:
        for name, data in arrays.items():
            if name.startswith("charts/"):
                (tmp / name.split("/", 1)[1]).write_bytes(data.tobytes())
    for name in REPORT_FILES:
        atomic_write_bytes(out_dir / name, arrays[name].tobytes())


def render_stage(ctx: BuildContext, state: BuildState, manifest_extra: dict) -> dict:
    content = assemble(ctx.cfg, state, state.charts.meta, stable_manifest(ctx, manifest_extra),
                       published_results(ctx.opts.data_dir), load_costs(curated(ctx.opts.data_dir, "costs")))
    with ctx.reporter.task("render", 1) as cb:
        info = render_report(content, ctx.opts.out_dir, chart_dir=state.charts.chart_dir)
        cb(1, 1, {})
    ctx.reporter.info(f"report: {ctx.opts.out_dir / REPORT_FILES[0]} ({info['pages']} pages, "
                      f"HTML + PDF rendered in {info['render_s']:.1f} s)")
    return {"pages": info["pages"]}
