"""An unchanged rebuild in well under a second: when nothing a build reads has changed since the build that
wrote `--out`, and its outputs are as that build left them, there is nothing to do.

Every stage is cached under a content fingerprint (cache.py), so a rebuild with nothing changed already
computes nothing; but to find that out it imports torch, scipy, statsmodels and WeasyPrint, hashes the
import graph and loads every cached array (8–10 s on 2 cores, issue 25). This module answers the same
question from the inputs alone, before any of that is imported:

    build key = sha256(version, interpreter, machine and CPU affinity, every installed distribution and
                       its version, the package's own files, the templates and fonts, the shipped data
                       (images, critical-value tables), the curated data, the images read, the results
                       bundle, the resolved config, the options, the device, the environment, today)

The key is a superset of what any stage fingerprint covers (all the package's code rather than one stage's
import closure, all libraries rather than the numeric ones), so a change that would alter any stage also
alters the key; a change the stages would ignore (a comment in a module, a new library) merely costs one
ordinary, cached rebuild. The build writes the key into manifest.json together with a digest of the
outputs it wrote (`outputs_digest`); a later build with the same key and outputs that still hash the same
returns the previous summary without importing the pipeline. `--force`, `--frozen` and `--only` always
run the pipeline: they ask for work or checks this shortcut would skip. The build takes the key again
once it has finished and stores it only if nothing changed meanwhile (an input edited and reverted during
a 30-minute build must not let the next build keep outputs made from the edit).

One input is deliberately left out: the previous outputs themselves, from which a build computes its
"What changed since the previous build" section. An unchanged rebuild keeps the report as it is, section
included: that report describes the build that wrote it, against the one before; re-rendering it against
itself would only drop the section.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import date
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path
from typing import TYPE_CHECKING

from bubblelens import __version__
from bubblelens.core.config import canonical
from bubblelens.core.dates import SOURCE_DATE_EPOCH
from bubblelens.core.io import tree_digest
from bubblelens.core.resources import DATA_DIR, PACKAGE_DIR, TEMPLATES_DIR

if TYPE_CHECKING:
    from bubblelens.pipeline.context import BuildOptions

MANIFEST_NAME = "manifest.json"          # pipeline/manifest.py writes it; read here without importing torch
KEY_FIELD = "build_key"                  # manifest fields this module reads back
OUTPUTS_FIELD = "outputs_digest"
SUMMARY_FIELD = "summary"
# Environment variables that change what a build computes or states (threads, the stated date, images).
_ENVIRONMENT = (SOURCE_DATE_EPOCH, "BUBBLELENS_IMAGES", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "CUDA_VISIBLE_DEVICES")


def _installed() -> list[str]:
    """Every installed distribution and version: a library upgrade of any kind is a change."""
    return sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"])


def _device(requested: str) -> str:
    """The device `resolve_device` would give, without importing torch where the answer is certain: a CPU
    build of torch has no CUDA. Any other build (or an explicit cuda) asks torch itself."""
    from bubblelens.core.devices import device_name, is_cpu_build, resolve_device

    if requested == "cpu":
        return "cpu"
    try:
        if is_cpu_build(version("torch")):
            return "cpu" if requested == "auto" else "cuda-unavailable"
    except PackageNotFoundError:
        return "no-torch"

    device = resolve_device(requested)
    return f"{device}: {device_name(device)}"       # the report names the GPU


def _images_digest(opts: "BuildOptions") -> str:
    from bubblelens.core.errors import DataError
    from bubblelens.datasets.images import resolve_image_dir

    if opts.results_bundle is not None:
        return "bundle"
    try:
        return tree_digest(resolve_image_dir(opts.config.images.source, opts.images_dir))
    except DataError:
        return "missing"     # the pipeline reports the missing images; the key only has to differ


def build_key(opts: "BuildOptions") -> str | None:
    """The key of everything the build would read, or None when this build must run the pipeline anyway."""
    if opts.force or opts.frozen or opts.only is not None:
        return None
    bundle = opts.results_bundle
    parts = {
        "bubblelens": __version__,
        "python": sys.version,
        # the CPU affinity sets torch's default thread count
        "machine": [platform.platform(), platform.processor(), platform.machine(), os.cpu_count(),
                    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None],
        "installed": _installed(),
        "package": tree_digest(PACKAGE_DIR),
        "templates": tree_digest(TEMPLATES_DIR),
        "shipped data": tree_digest(DATA_DIR),        # read whatever --data says: tables, images
        "data": tree_digest(opts.data_dir),
        "images": _images_digest(opts),
        "bundle": (hashlib.sha256(bundle.read_bytes()).hexdigest() if bundle is not None and bundle.is_file()
                   else str(bundle)),
        "config": canonical(opts.config),
        "options": [str(opts.data_dir), str(opts.images_dir), str(opts.config_file), opts.executor, opts.jobs,
                    opts.ray_address, _device(opts.device)],
        "environment": {k: os.environ.get(k) for k in _ENVIRONMENT},
        # The curated data are validated against today (a date in the future is an error): a new day can
        # change what a build accepts, so it is a new key (one ordinary cached rebuild a day).
        "today": date.today().isoformat(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def outputs_digest(out_dir: Path) -> str:
    """sha256 over the name and bytes of every file in `out_dir` but the manifest (which holds this digest)."""
    h = hashlib.sha256()
    root = Path(out_dir)
    for p in sorted(root.rglob("*")) if root.is_dir() else []:
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel != MANIFEST_NAME:
            h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def unchanged_summary(opts: "BuildOptions", key: str | None) -> dict | None:
    """The previous build's summary when `key` matches its manifest and its outputs are intact, else None."""
    if key is None:
        return None
    try:
        manifest = json.loads((Path(opts.out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get(KEY_FIELD) != key:
        return None
    previous = manifest.get(SUMMARY_FIELD)
    if not isinstance(previous, dict) or manifest.get(OUTPUTS_FIELD) != outputs_digest(opts.out_dir):
        return None
    # Nothing ran and nothing was looked up: the report, charts and results are the previous build's. The
    # paths are this --out's (a copied output directory is unchanged too).
    out = Path(opts.out_dir)
    paths = {k: str(out / Path(previous[k]).name) for k in ("pdf", "html") if isinstance(previous.get(k), str)}
    return previous | paths | {"out_dir": str(out), "unchanged": True, "stages": [], "computed": 0, "cached": 0}
