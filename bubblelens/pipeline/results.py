"""Results files and bundles: what a build writes to results/, and the zip a CPU-only machine renders from.

A bundle carries results/ (runs, evaluation meta, arrays; no checkpoints) and the manifest of the build
that measured them; `--results BUNDLE` renders a report from it and the report says where it came from.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from bubblelens.core.errors import DataError
from bubblelens.core.io import atomic_write_bytes, atomic_write_text, dumps_json
from bubblelens.pipeline.state import Evaluated, NfeRow, RunRecord, SweepRow

RESULTS_FORMAT = 1      # bump when the results/bundle layout changes
BUNDLE_FILES = ("runs.json", "evaluation.json", "arrays.npz")


def write_results(out_dir: Path, ev: Evaluated, claims: list | None, answers: list | None = None) -> None:
    """results/ of a build: runs, metrics, compute, sweep, evaluation meta, arrays and (when run) claims."""
    out = out_dir / "results"
    atomic_write_text(out / "runs.json", dumps_json([r.to_json() for r in ev.runs]))
    atomic_write_text(out / "metrics.csv", ev.runs_long().to_csv(index=False))   # full precision: diffed by changes.py
    compute_rows = [{"model": r.model, "dataset": r.dataset, "variant": r.variant, "seed": r.seed,
                     **{k: v for k, v in r.compute.items() if not isinstance(v, (dict, list))}} for r in ev.runs]
    atomic_write_text(out / "compute.csv", pd.DataFrame(compute_rows).to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out / "sweep.csv", ev.sweep_frame().to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out / "nfe.csv", ev.nfe_frame().to_csv(index=False, float_format="%.6g"))
    meta = {"format": RESULTS_FORMAT, "features": ev.features_info, "real": ev.real, "origin": ev.origin,
            "sweep": [asdict(s) for s in ev.sweep], "nfe": [asdict(s) for s in ev.nfe]}
    atomic_write_text(out / "evaluation.json", dumps_json(meta))
    buf = io.BytesIO()
    np.savez_compressed(buf, **ev.arrays)
    atomic_write_bytes(out / "arrays.npz", buf.getvalue())
    if claims is not None:
        atomic_write_text(out / "claims.json", dumps_json([c.to_json() for c in claims]))
    if answers is not None:
        atomic_write_text(out / "questions.json", dumps_json(answers))


def export_bundle(build_dir: Path, bundle: Path) -> int:
    """Zip a build's results/ and manifest.json into a bundle a CPU-only machine can render from."""
    files = BUNDLE_FILES
    missing = [f for f in files if not (build_dir / "results" / f).is_file()]
    if missing or not (build_dir / "manifest.json").is_file():
        raise DataError(f"{build_dir}: no complete build to export (missing {', '.join(missing) or 'manifest.json'}); "
                        "run `bubblelens build --out DIR` first")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in files:
            info = zipfile.ZipInfo(f"results/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, (build_dir / "results" / name).read_bytes(), zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo("manifest.json", date_time=(1980, 1, 1, 0, 0, 0)),
                    (build_dir / "manifest.json").read_bytes(), zipfile.ZIP_DEFLATED)
    atomic_write_bytes(bundle, buf.getvalue())
    return len(buf.getvalue())


def load_bundle(bundle: Path) -> tuple[Evaluated, str]:
    """The evaluated results of a bundle and the bundle's content hash (for the manifest's input hashes)."""
    try:
        with zipfile.ZipFile(bundle) as zf:
            runs = json.loads(zf.read("results/runs.json"))
            meta = json.loads(zf.read("results/evaluation.json"))
            manifest = json.loads(zf.read("manifest.json"))
            with np.load(io.BytesIO(zf.read("results/arrays.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise DataError(f"--results: bundle '{bundle}' does not exist") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DataError(f"--results: '{bundle}' is not a bubblelens results bundle ({exc})") from None
    if meta.get("format") != RESULTS_FORMAT:
        raise DataError(f"--results: '{bundle}' has results format {meta.get('format')}, expected {RESULTS_FORMAT}")
    # Where the results were measured comes from the results themselves (a re-exported bundle keeps it).
    measured = meta.get("origin") or {}
    if measured.get("kind") == "bundle":
        measured = measured.get("measured", {})
    origin = {"kind": "bundle", "bundle": Path(bundle).name, "measured": measured,
              "profile": measured.get("profile") or manifest.get("profile"),
              "hardware": measured.get("hardware") or manifest.get("hardware"),
              "bubblelens_version": measured.get("bubblelens_version") or manifest.get("bubblelens_version"),
              "seeds": measured.get("seeds") or manifest.get("seeds"), "libraries": manifest.get("libraries")}
    digest = hashlib.sha256(Path(bundle).read_bytes()).hexdigest()[:16]
    try:
        records = tuple(RunRecord.from_json(r) for r in runs)
        sweep = tuple(SweepRow(**s) for s in meta.get("sweep", []))
        nfe = tuple(NfeRow(**s) for s in meta.get("nfe", []))
    except (KeyError, TypeError) as exc:
        raise DataError(f"--results: '{bundle}' has a run or sweep record this version cannot read ({exc})") from None
    return Evaluated(records, arrays, meta["features"], meta["real"], origin, sweep, digest, nfe), digest
