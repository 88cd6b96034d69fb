"""The build: named stages, their order and dependencies, caching, --only / --force / --frozen.

```
config ─┬─> train ─> evaluate ─┐
        │                      ├─> claims ─> charts ─> render
        └─> market ────────────┘
```
Each stage is a function of named inputs and typed params, cached under a content fingerprint
(see cache.py). Training and evaluation live in `stages_models.py`; this module orders and records.
"""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import DATA_DIR, __version__
from .cache import Cache, atomic_write_text, code_version, dumps_json, fingerprint, library_versions
from .config import BuildConfig, canonical
from .errors import FrozenMissingError, UsageError
from .progress import Reporter

STAGES = ("data", "features", "train", "evaluate", "market", "claims", "charts", "render")
DEPENDS: dict[str, tuple[str, ...]] = {
    "data": (),
    "features": ("data",),
    "train": ("data",),
    "evaluate": ("data", "features", "train"),
    "market": (),
    "claims": ("evaluate", "market"),
    "charts": ("claims",),
    "render": ("charts",),
}


def needed_stages(only: str | None) -> list[str]:
    """Stages to run for `--only STAGE` (the stage and what it depends on), in build order."""
    if only is None:
        return list(STAGES)
    if only not in STAGES:
        raise UsageError(f"--only: unknown stage '{only}'; choose one of: {', '.join(STAGES)}")
    wanted: set[str] = set()
    todo = [only]
    while todo:
        s = todo.pop()
        if s not in wanted:
            wanted.add(s)
            todo.extend(DEPENDS[s])
    return [s for s in STAGES if s in wanted]


@dataclass
class BuildOptions:
    config: BuildConfig
    out_dir: Path = Path("reports")
    data_dir: Path = DATA_DIR
    images_dir: Path | None = None
    results_bundle: Path | None = None
    config_file: Path | None = None
    only: str | None = None
    force: bool = False
    frozen: bool = False
    device: str = "auto"
    quiet: bool = False


@dataclass
class StageRecord:
    stage: str
    key: str
    fingerprint: str
    status: str          # "computed" | "cached" | "bundle"
    seconds: float


@dataclass
class BuildContext:
    """What every stage can see: options, cache, progress, and the records the manifest is made of."""

    opts: BuildOptions
    cache: Cache
    reporter: Reporter
    device: str
    records: list[StageRecord] = field(default_factory=list)
    input_hashes: dict[str, str] = field(default_factory=dict)
    hardware: dict = field(default_factory=dict)
    date_text: str = "1970-01-01"     # the date the report states (stages_report.build_date)

    @property
    def cfg(self) -> BuildConfig:
        return self.opts.config

    def cached(self, stage: str, key: str, params: Any, inputs: dict[str, str], modules: tuple,
               compute: Callable[[str], tuple[dict, dict]], *, trained: bool = False):
        """Lookup-or-compute one stage instance; returns (result, arrays, fingerprint).

        `compute(fp)` gets the fingerprint so it can keep resumable work (checkpoints) in
        `cache.scratch_dir(stage, fp)`; that scratch is dropped once the entry is stored, and on --force.
        """
        fp = fingerprint(f"{stage}:{key}", canonical(params), inputs, code_version(*modules))
        start = time.perf_counter()
        force = self.opts.force and (self.opts.only in (None, stage))
        entry = None if force else self.cache.lookup(stage, fp)
        if entry is not None:
            self.records.append(StageRecord(stage, key, fp, "cached", time.perf_counter() - start))
            return entry.result, entry.arrays, fp
        if trained and self.opts.frozen:
            raise FrozenMissingError(
                f"--frozen: no trained result for {stage} '{key}' in the cache; build once without --frozen "
                "or pass --results BUNDLE"
            )
        if force:
            self.cache.drop_scratch(stage, fp)
        result, arrays = compute(fp)
        self.cache.store(stage, fp, result, arrays)
        self.cache.drop_scratch(stage, fp)
        self.records.append(StageRecord(stage, key, fp, "computed", time.perf_counter() - start))
        return result, arrays, fp


def hardware_description(device: str) -> dict:
    import os

    import torch

    info = {
        "device": device,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def manifest_dict(ctx: BuildContext, extra: dict) -> dict:
    """What this build was made from. For a build rendered from a bundle, profile, seeds and the hardware
    that measured the models are the bundle's (`results_origin`); `rendered_on` is this machine."""
    origin = extra.get("results_origin") or {}
    from_bundle = origin.get("kind") == "bundle"
    return {
        "bubblelens_version": __version__,
        "profile": origin.get("profile") if from_bundle else ctx.cfg.profile,
        "config": "see the results bundle" if from_bundle else canonical(ctx.cfg),
        "seeds": origin.get("seeds") if from_bundle else {"image": list(ctx.cfg.seeds_image),
                                                          "mixture": list(ctx.cfg.seeds_mixture)},
        "hardware": origin.get("hardware") if from_bundle else ctx.hardware,
        "rendered_on": ctx.hardware,
        "libraries": library_versions() | other_versions(),
        "input_hashes": dict(sorted(ctx.input_hashes.items())),
        "stages": [
            {"stage": r.stage, "key": r.key, "fingerprint": r.fingerprint, "status": r.status,
             "seconds": round(r.seconds, 3)}
            for r in ctx.records
        ],
    } | extra


def stable_manifest(ctx: BuildContext, extra: dict) -> dict:
    """The manifest without what varies between identical builds (timings, cached/computed status)."""
    m = manifest_dict(ctx, extra)
    m["stages"] = [{k: v for k, v in s.items() if k not in ("status", "seconds")} for s in m["stages"]]
    return m


def write_manifest(ctx: BuildContext, extra: dict) -> dict:
    manifest = manifest_dict(ctx, extra)
    atomic_write_text(ctx.opts.out_dir / "manifest.json", dumps_json(manifest))
    return manifest


def other_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("scipy", "matplotlib", "jinja2", "weasyprint", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def run_build(opts: BuildOptions) -> dict:
    """Run the stages `--only` asks for (all by default); returns a summary for the CLI to print.

    Outputs in --out (results/, charts/, the report, manifest.json) are only replaced once the whole
    build has succeeded, each file atomically, so a failed build leaves the previous outputs intact.
    """
    from . import changes, stages_models, stages_report
    from .train import resolve_device

    wanted = needed_stages(opts.only)
    reporter = Reporter(quiet=opts.quiet)
    device = resolve_device(opts.device)
    ctx = BuildContext(opts, Cache(), reporter, device, hardware=hardware_description(device))
    t0 = time.perf_counter()
    state: dict[str, Any] = {}
    reporter.info(f"bubblelens {__version__}: profile {opts.config.profile}, device {ctx.device}, "
                  f"cache {ctx.cache.root}")
    if opts.results_bundle is not None:
        state["evaluated"] = stages_models.load_bundle(ctx, opts.results_bundle)
        wanted = [s for s in wanted if s not in ("data", "features", "train", "evaluate")]
    else:
        if "data" in wanted:
            state["images"] = stages_models.load_images(ctx)
        if "features" in wanted:
            state["features"] = stages_models.train_features(ctx, state["images"])
        if "train" in wanted:
            state["runs"] = stages_models.train_all(ctx, state["images"])
        if "evaluate" in wanted:
            state["evaluated"] = stages_models.evaluate_all(ctx, state["images"], state["features"], state["runs"])
    if "market" in wanted:
        state["market"] = stages_report.load_market_stage(ctx)
    if "claims" in wanted:
        state["claims"] = stages_report.claims_stage(ctx, state["evaluated"], state["market"])
        state["changes"] = changes.compare(changes.snapshot(opts.out_dir),
                                           changes.current(state["evaluated"], state["claims"], state["market"]))
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"profile": opts.config.profile, "out_dir": str(opts.out_dir), "stages": wanted}
    manifest_extra: dict[str, Any] = {"results_origin": state["evaluated"].origin if "evaluated" in state else None}
    if "render" in wanted:
        report = stages_report.report_unit(ctx, state, manifest_extra)
        manifest_extra["build_id"] = report["build_id"]
        summary.update(pages=report["pages"], pdf=str(opts.out_dir / stages_report.REPORT_FILES[0]),
                       html=str(opts.out_dir / stages_report.REPORT_FILES[1]))
    elif "charts" in wanted:
        state["charts"] = stages_report.charts_stage(ctx, state)
        manifest_extra["build_id"] = state["charts"]["meta"].build_id
    if "evaluated" in state:
        stages_models.write_results(ctx, state["evaluated"], state.get("claims"))
    if "market" in state:
        changes.write_market_rows(opts.out_dir, state["market"])
    if "evaluated" in state or "render" in wanted:
        write_manifest(ctx, manifest_extra | {"build_seconds": round(time.perf_counter() - t0, 2)})
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["computed"] = sum(r.status == "computed" for r in ctx.records)
    summary["cached"] = sum(r.status == "cached" for r in ctx.records)
    return summary
