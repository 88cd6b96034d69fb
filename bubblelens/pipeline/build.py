"""The build: run the stages `--only` asks for, in order, and replace the outputs once all succeeded.

```
config ─┬─> data ─┬─> features ─┐
        │         └─> train ────┴─> evaluate ─┐
        └─> market ───────────────────────────┴─> claims ─> charts ─> render
```
Each stage is a function of named inputs and typed params, cached under a content fingerprint
(context.py, cache.py). Model stages live in model_stages.py, report stages in report_stages.py; the
report side is imported only when a report-side stage runs, so `--only evaluate` needs neither
WeasyPrint nor pydantic.
"""
from __future__ import annotations

import time
from typing import Any

from bubblelens import __version__
from bubblelens.core.devices import resolve_device
from bubblelens.core.errors import UsageError
from bubblelens.pipeline import model_stages, unchanged
from bubblelens.pipeline.cache import Cache
from bubblelens.pipeline.executor import make_executor
from bubblelens.pipeline.context import MODEL_STAGES, BuildContext, BuildOptions, needed_stages
from bubblelens.pipeline.manifest import build_id, hardware_description, write_manifest
from bubblelens.pipeline.progress import Reporter
from bubblelens.pipeline.results import load_bundle, write_results
from bubblelens.pipeline.state import BuildState

REPORT_SIDE = ("market", "claims", "charts", "render")
FORCED_ON_WORKERS = ("features", "train", "evaluate")   # the stages whose units --force runs on workers


def _run_model_stages(ctx: BuildContext, wanted: list[str], state: BuildState) -> None:
    alongside = []
    if "claims" in wanted and "train" in wanted and getattr(ctx.executor, "name", "") == "pool" \
            and not ctx.opts.force:
        # The market data first (a second), so that the claims on it run beside training, not after it: on
        # the local pool only (serial gains nothing; a Ray task would hold a GPU and skip the code check
        # that a stage with data files cannot pass on a node), never under --force (it would run them twice).
        from bubblelens.pipeline import report_stages

        _load_market(ctx, state)
        alongside = report_stages.market_claim_units(ctx, state.market)
    if "data" in wanted:
        state.images = model_stages.load_images(ctx)
        ctx.input_hashes["images"] = state.images.digest
    if "features" in wanted or "train" in wanted:
        state.features, state.runs = model_stages.train_models(ctx, state.images, features="features" in wanted,
                                                               train="train" in wanted, alongside=alongside)
    if "evaluate" in wanted:
        state.evaluated = model_stages.evaluate_all(ctx, state.images, state.features, state.runs)


def _certain_to_compute(ctx: BuildContext, wanted: list[str]) -> bool:
    """Whether this build will run units on the executor, known before it reads any input: --force on a
    stage whose units run there (all of them without --only), or a build that trains with a cache holding
    no trained unit at all (a first build). Any other build may find every unit cached (one curated CSV
    edited), and starting workers it does not need costs it the other core; --frozen never trains, and
    --force --only claims computes its claims in this process."""
    opts = ctx.opts
    if opts.results_bundle is not None or opts.frozen:
        return False
    if opts.force and opts.only in (None, *FORCED_ON_WORKERS):
        return True
    return "train" in wanted and not ctx.cache.holds_any("train")


def _load_market(ctx: BuildContext, state: BuildState) -> None:
    from bubblelens.pipeline import report_stages

    state.market = md = report_stages.load_market_stage(ctx)
    ctx.input_hashes["market"] = md.fingerprint
    if md.external is not None:
        ctx.input_hashes["external"] = md.external


def _run_report_stages(ctx: BuildContext, wanted: list[str], state: BuildState, manifest_extra: dict,
                       summary: dict) -> None:
    from bubblelens.pipeline import report_stages
    from bubblelens.report import changes

    opts = ctx.opts
    if "market" in wanted and state.market is None:
        _load_market(ctx, state)
    if "claims" in wanted:
        state.verdicts = report_stages.claims_stage(ctx, state.evaluated, state.market)
        ctx.input_hashes["claims"] = state.verdicts.registry
        state.changes = changes.compare(changes.snapshot(opts.out_dir),
                                        changes.current(state.evaluated, state.verdicts.claims, state.market.market))
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    if "render" in wanted or "charts" in wanted:
        # Of every stage record and input hash so far: what the report and its charts cite.
        build = build_id(ctx)
        manifest_extra["build_id"] = build
        stage_results = (ctx, state.evaluated, state.market, state.verdicts, state.changes, build)
        if "render" in wanted:
            report = report_stages.report_unit(*stage_results, manifest_extra)
            summary.update(pages=report["pages"], pdf=str(opts.out_dir / report_stages.REPORT_FILES[0]),
                           html=str(opts.out_dir / report_stages.REPORT_FILES[1]))
        else:
            report_stages.charts_only(*stage_results)
    if state.market is not None:
        changes.write_market_rows(opts.out_dir, state.market.market)


def run_build(opts: BuildOptions, key: str | None = None) -> dict:
    """Run the stages `--only` asks for (all by default); returns a summary for the CLI to print.

    Outputs in --out (results/, charts/, the report, manifest.json) are only replaced once the whole
    build has succeeded, each file atomically, so a failed build leaves the previous outputs intact.
    `key` (unchanged.py: the build key of the inputs, taken before the build read them) goes into the
    manifest with the digest of the outputs, so that the same build next time can stop at once.
    """
    wanted = needed_stages(opts.only)
    reporter = Reporter(quiet=opts.quiet)
    device = resolve_device(opts.device)
    if opts.ray_address is not None and opts.executor != "ray":
        raise UsageError(f"--ray-address needs --executor ray (this build uses --executor {opts.executor})")
    executor = make_executor(opts.executor, opts.jobs, reporter, ray_address=opts.ray_address, device=device)
    ctx = BuildContext(opts, Cache(), reporter, device, hardware=hardware_description(device, opts.config.threads),
                       executor=executor, threads=opts.config.threads)
    try:
        return _build(ctx, wanted, key)
    finally:
        executor.close()


def _build(ctx: BuildContext, wanted: list[str], key: str | None) -> dict:
    opts, reporter = ctx.opts, ctx.reporter
    t0 = time.perf_counter()
    state = BuildState()
    reporter.info(f"bubblelens {__version__}: profile {opts.config.profile}, device {ctx.device}, executor "
                  f"{ctx.executor.label} ({ctx.threads} torch thread(s) per unit), "
                  f"cache {ctx.cache.root}")
    if _certain_to_compute(ctx, wanted):
        ctx.executor.prepare()          # e.g. the pool's forkserver imports torch while we read the inputs
    if opts.results_bundle is not None:
        state.evaluated, ctx.input_hashes["results_bundle"] = load_bundle(opts.results_bundle)
        wanted = [s for s in wanted if s not in MODEL_STAGES]
    else:
        _run_model_stages(ctx, wanted, state)
    summary: dict[str, Any] = {"profile": opts.config.profile, "out_dir": str(opts.out_dir), "stages": wanted}
    manifest_extra: dict[str, Any] = {"results_origin": state.evaluated.origin if state.evaluated else None}
    if any(s in wanted for s in REPORT_SIDE):
        _run_report_stages(ctx, wanted, state, manifest_extra, summary)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    if state.evaluated is not None:
        verdicts = state.verdicts
        write_results(opts.out_dir, state.evaluated, verdicts.claims if verdicts else None,
                      verdicts.answers if verdicts else None)
    summary["computed"] = sum(r.status == "computed" for r in ctx.records)
    summary["cached"] = sum(r.status == "cached" for r in ctx.records)
    if state.evaluated is not None or "render" in wanted:
        extra = manifest_extra | {"build_seconds": round(time.perf_counter() - t0, 2)}
        if key is not None and unchanged.build_key(opts) == key:
            # Last, once every other output is in place: the digest covers exactly what this build left.
            # (With an input edited while the build ran, no key: the next build runs the pipeline.)
            extra |= {unchanged.KEY_FIELD: key, unchanged.OUTPUTS_FIELD: unchanged.outputs_digest(opts.out_dir),
                      unchanged.SUMMARY_FIELD: summary}
        write_manifest(ctx, extra)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary
