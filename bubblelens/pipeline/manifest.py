"""What a build was made from: hardware, library versions, input hashes, stage fingerprints, build id/date.

The manifest is written beside the report (manifest.json) and printed in its appendix. Nothing in it that
enters the PDF depends on the clock: the build date is SOURCE_DATE_EPOCH or the newest access date of the
curated sources, and timings are left out of the printed copy (`stable_manifest`).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bubblelens import __version__
from bubblelens.core.config import canonical
from bubblelens.core.dates import source_date
from bubblelens.core.devices import device_name
from bubblelens.core.io import atomic_write_text, dumps_json
from bubblelens.core.resources import curated
from bubblelens.pipeline.cache import library_versions
from bubblelens.pipeline.context import BuildContext

MANIFEST_NAME = "manifest.json"
OTHER_LIBRARIES = ("scipy", "matplotlib", "jinja2", "weasyprint", "pydantic")


def hardware_description(device: str, threads: int) -> dict:
    """This machine, and the torch thread count every unit runs with (config.BuildConfig.threads; the
    build's own process may have another, and imports torch only when it computes something)."""
    info = {
        "device": device,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads_per_unit": threads,
    }
    if device == "cuda":
        info["gpu"] = device_name(device)
    return info


def other_versions() -> dict[str, str]:
    """Versions of the report-side libraries that are installed (the training path needs none of them)."""
    out = {}
    for name in OTHER_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


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
             "seconds": round(r.seconds, 3)} | ({"ran_on": r.node} if r.node else {})
            for r in ctx.records
        ],
        "executor": ctx.executor.describe() if ctx.executor is not None else None,
    } | extra


def stable_manifest(ctx: BuildContext, extra: dict) -> dict:
    """The manifest without what varies between identical builds (timings, cached/computed status)."""
    m = manifest_dict(ctx, extra)
    m["stages"] = [{k: v for k, v in s.items() if k not in ("status", "seconds", "ran_on")} for s in m["stages"]]
    m.pop("executor", None)
    return m


def write_manifest(ctx: BuildContext, extra: dict) -> dict:
    manifest = manifest_dict(ctx, extra)
    atomic_write_text(ctx.opts.out_dir / MANIFEST_NAME, dumps_json(manifest))
    return manifest


def build_id(ctx: BuildContext) -> str:
    """A short id of everything the report depends on (fingerprints and input hashes), never of the clock."""
    h = hashlib.sha256()
    for r in sorted(ctx.records, key=lambda r: (r.stage, r.key, r.fingerprint)):
        h.update(f"{r.stage}:{r.key}:{r.fingerprint}".encode())
    h.update(json.dumps(ctx.input_hashes, sort_keys=True).encode())
    h.update(__version__.encode())
    return h.hexdigest()[:10]


def build_date(data_dir: Path) -> str:
    """The date a report states: SOURCE_DATE_EPOCH when set, else the newest access date of the curated
    sources (the day the data are "as of"). Never the clock, so identical inputs give identical bytes."""
    epoch = source_date()
    if epoch is not None:
        return epoch.date().isoformat()
    try:
        with (curated(data_dir, "market") / "sources.csv").open(encoding="utf-8", newline="") as fh:
            dates = [r.get("accessed", "") for r in csv.DictReader(fh)]
    except OSError:
        dates = []
    valid = sorted(d for d in dates if len(d) == 10 and d[4] == "-" and d[7] == "-")
    return valid[-1] if valid else "1970-01-01"
