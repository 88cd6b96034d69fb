"""Model-side stages: images, feature extractor, training, evaluation, results files and bundles.

Every trained or evaluated unit (one model × dataset × variant × seed) is its own cache entry, so adding a
seed or changing one model's params retrains only what changed.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, data_images, features, metric_failures, metric_quality, metrics, train
from .cache import atomic_write_bytes, atomic_write_text, dumps_json
from .config import canonical
from .data_images import file_digest, load_split, mixture_spec, resolve_image_dir
from .errors import DataError

GRID_SIZE = 64          # images kept per run for the report's sample grids
RESULTS_FORMAT = 1      # bump when the results/bundle layout changes


@dataclass
class Images:
    train: data_images.ImageSplit
    test: data_images.ImageSplit
    fingerprint: str
    directory: str


@dataclass
class Evaluated:
    """Everything the report needs from the models: per-run records, small arrays and where they came from."""

    runs: list[dict]                      # model, dataset, variant, seed, config, compute, failure_events, history, metrics
    arrays: dict[str, np.ndarray]         # "<run_id>__grid", "<run_id>__samples", "<run_id>__spectrum", "real__spectrum", ...
    features_info: dict
    real: dict                            # reference values measured on real data (FID floor, true mixture coverage)
    origin: dict                          # {"kind": "build"|"bundle", ...}
    sweep: list[dict] = field(default_factory=list)

    def runs_long(self) -> pd.DataFrame:
        """One row per (run, metric): the evidence table claims read."""
        rows = []
        for r in self.runs:
            values = dict(r["metrics"])
            values["flops_total"] = r["compute"].get("flops_total")
            values["wall_s"] = r["compute"].get("wall_s")
            values["n_failure_events"] = len(r["failure_events"])
            values["diverged"] = float(any(e["kind"] in ("non_finite", "divergence") for e in r["failure_events"]))
            for metric, value in values.items():
                if isinstance(value, (int, float)) and value is not None:
                    rows.append((r["model"], r["dataset"], r["variant"], r["seed"], metric, float(value)))
        return pd.DataFrame(rows, columns=["model", "dataset", "variant", "seed", "metric", "value"])

    def sweep_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.sweep, columns=["model", "width", "epochs", "seed", "flops_total", "fid"])


def run_id(model: str, dataset: str, variant: str, seed: int) -> str:
    return f"{model}-{dataset}-{variant}-s{seed}"


# The code whose edits invalidate a stage's entries (see cache.code_version).
TRAIN_CODE = ("train", "train_gan_images", "train_vae", "train_mixture", "model_dcgan", "model_vae",
              "model_mlp_gan", "compute", "data_images")
EVAL_CODE = ("metric_quality", "metric_failures", "metrics", "features")


def load_images(ctx) -> Images:
    cfg = ctx.cfg.images
    directory = resolve_image_dir(cfg.source, ctx.opts.images_dir)
    train_split = load_split(directory, "train", cfg.n_train)
    test_split = load_split(directory, "test", cfg.n_eval)
    digest = file_digest(train_split.files + test_split.files)
    ctx.input_hashes["images"] = digest
    # The fingerprint of what models see: the files *and* how many images of them are used.
    fp = hashlib.sha256(f"{digest}:{json.dumps(canonical(cfg))}".encode()).hexdigest()[:16]
    ctx.reporter.info(f"data: {len(train_split.images)} training and {len(test_split.images)} held-out images "
                      f"from {directory}")
    return Images(train_split, test_split, fp, str(directory))


def train_features(ctx, images: Images) -> tuple[dict, dict, str]:
    """The domain classifier, as (state arrays, info, fingerprint); the extractor is built only when needed."""
    params = ctx.cfg.features

    def compute(fp):
        with ctx.reporter.task("features: training the domain classifier", 1) as cb:
            state, info = features.train_classifier(
                params, images.train.images, images.train.labels, images.test.images, images.test.labels,
                seed=0, device=ctx.device)
            cb(1, 1, {"test_acc": info["test_accuracy"]})
        return info, {k: v.detach().cpu().numpy() for k, v in state.items()}

    info, arrays, fp = ctx.cached("features", "classifier", params, {"images": images.fingerprint, "device": ctx.device},
                                  ("features",), compute, trained=True)
    return arrays, info, fp


def _extractor(ctx, feats):
    import torch

    arrays, _, _ = feats
    state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
    return features.FeatureExtractor.from_state(state, ctx.cfg.features, device=ctx.device)


def _image_run(ctx, model: str, params, images: Images, seed: int, label: str = ""):
    key = run_id(model, "fashion_mnist", "reference", seed)
    fp_inputs = {"images": images.fingerprint, "device": ctx.device, "seed": str(seed)}

    def compute(fp):
        with ctx.reporter.task(f"train {key}{label}", 1) as cb:
            scratch = ctx.cache.scratch_dir("train", fp)
            if model == "dcgan":
                run = train.train_dcgan(params, images.train.images, seed, ctx.device, ckpt_dir=scratch, progress=cb)
            else:
                run = train.train_vae(params, images.train.images, images.test.images, seed, ctx.device,
                                      ckpt_dir=scratch, progress=cb)
        return run.to_json(), {"samples": run.samples, **run.extras}

    return ctx.cached("train", key, params, fp_inputs, TRAIN_CODE, compute, trained=True)


def train_all(ctx, images: Images) -> list[tuple[dict, dict, str]]:
    """Every training run of the profile: (run json, arrays, fingerprint)."""
    cfg = ctx.cfg
    runs = []
    for seed in cfg.seeds_image:
        runs.append(_image_run(ctx, "dcgan", cfg.dcgan, images, seed))
        runs.append(_image_run(ctx, "vae", cfg.vae, images, seed))
    for dataset in cfg.mixture.datasets:
        for variant in cfg.mixture.variants:
            key = f"mlp_gan-{dataset}-{variant}"
            # One unit per (dataset, variant): dropping grid25 from the profile must not retrain ring8.
            params = replace(cfg.mixture, datasets=(dataset,), variants=(variant,))

            def compute(fp, dataset=dataset, variant=variant, key=key):
                with ctx.reporter.task(f"train {key} × {len(cfg.seeds_mixture)} seeds", 1) as cb:
                    results = train.train_mixture_seeds(cfg.mixture, dataset, variant, tuple(cfg.seeds_mixture),
                                                        ctx.device, progress=cb)
                arrays = {f"s{r.seed}": r.samples for r in results}
                return {"runs": [r.to_json() for r in results]}, arrays

            result, arrays, fp = ctx.cached("train", key, params,
                                            {"seeds": json.dumps(list(cfg.seeds_mixture)), "device": ctx.device},
                                            TRAIN_CODE, compute, trained=True)
            for r in result["runs"]:
                runs.append((r, {"samples": arrays[f"s{r['seed']}"]}, fp))
    for width in cfg.sweep.widths:
        for epochs in cfg.sweep.epochs:
            params = replace(cfg.dcgan, width=width, epochs=epochs)
            # A sweep point equal to the reference configuration is the seed-0 reference run (same fingerprint).
            result, arrays, fp = _image_run(ctx, "dcgan", params, images, 0, label=f" (sweep w{width} e{epochs})")
            result = dict(result, sweep={"width": width, "epochs": result["compute"].get("epochs", epochs)})
            runs.append((result, arrays, fp))
    return runs


def _real_reference(ctx, images: Images, feats) -> tuple[dict, dict]:
    n = min(ctx.cfg.eval.n_fid, len(images.test.images), len(images.train.images))

    def compute(fp):
        extractor = _extractor(ctx, feats)
        real_test = extractor.features(images.test.images[:n])
        real_train = extractor.features(images.train.images[:n])
        floor = metric_quality.fid(real_train, real_test)
        spectrum = metric_failures.spectrum(images.test.images[:n])
        return ({"fid_train_vs_test": floor, "n": n},
                {"test_features": real_test, "train_features": real_train, "spectrum": spectrum})

    return ctx.cached("evaluate", "real-reference", ctx.cfg.eval, {"images": images.fingerprint, "features": feats[2]},
                      EVAL_CODE, compute)[:2]


def _image_metrics(ctx, arrays: dict, images: Images, extractor, real_arrays: dict, n: int) -> dict:
    ev = ctx.cfg.eval
    samples = arrays["samples"][:n]
    fake = extractor.features(samples)
    real = real_arrays["test_features"]
    m: dict[str, float] = {}
    if len(fake) == len(real):   # FID is compared only at equal n
        m[metrics.KEY_FID] = metric_quality.fid(real, fake)
    m[metrics.KEY_KID_MEAN], m[metrics.KEY_KID_STD] = metric_quality.kid(
        real, fake, subsets=ev.kid_subsets, subset_size=ev.kid_subset_size, seed=0, device=ctx.device)
    m.update(metric_quality.prdc(real, fake, k=ev.prdc_k, device=ctx.device))
    m.update(metric_failures.class_coverage(extractor.predict(samples)))
    m.update(metric_failures.blur_report(images.test.images[:n], samples))
    m.update(metric_failures.memorisation(fake, real_arrays["train_features"], real))
    mu = arrays.get("latent_mu")
    if mu is not None:
        m.update(metric_failures.active_units(mu) if np.isfinite(mu).all() else {metrics.KEY_ACTIVE_UNITS: np.nan})
    return m


def _evaluate_image_run(ctx, run: dict, arrays: dict, fp: str, images: Images, feats, real) -> tuple[dict, dict]:
    real_info, real_arrays = real
    n = real_info["n"]

    def compute(_fp):
        samples = arrays["samples"][:n]
        try:
            m = _image_metrics(ctx, arrays, images, _extractor(ctx, feats), real_arrays, n)
            error = ""
        except ValueError as exc:   # e.g. a diverged run's samples: evidence, not a crash
            m, error = {}, str(exc)
        flat = {k: float(v) for k, v in m.items() if isinstance(v, (int, float, np.floating, np.integer))}
        return {"metrics": flat, "n": int(n), "error": error}, {
            "grid": samples[:GRID_SIZE], "spectrum": metric_failures.spectrum(samples)}

    key = run_id(run["model"], run["dataset"], run["variant"], run["seed"])
    return ctx.cached("evaluate", key, ctx.cfg.eval, {"run": fp, "features": feats[2]}, EVAL_CODE,
                      compute)[:2]


def _mixture_metrics(samples: np.ndarray, dataset: str) -> dict:
    """Mode coverage of the finite samples; non-finite ones (a diverged generator) count as low quality."""
    means, std = mixture_spec(dataset)
    finite = np.isfinite(samples).all(axis=1)
    if not finite.any():
        return {metrics.KEY_MODES: 0.0, metrics.KEY_HIGH_QUALITY: 0.0, metrics.KEY_MODE_KL: np.nan,
                "non_finite_frac": 1.0}
    cov = metric_failures.mode_coverage(samples[finite], means, std)
    return {metrics.KEY_MODES: float(cov["modes"]), metrics.KEY_HIGH_QUALITY: cov["high_quality"] * finite.mean(),
            metrics.KEY_MODE_KL: cov["mode_kl"], "non_finite_frac": float(1 - finite.mean())}


def evaluate_all(ctx, images: Images, feats, runs) -> Evaluated:
    _, feat_info, _ = feats
    real = _real_reference(ctx, images, feats)
    records, arrays, sweep = [], {"real__spectrum": real[1]["spectrum"], "real__grid": images.test.images[:GRID_SIZE]}, []
    real_summary = {"fid_train_vs_test": real[0]["fid_train_vs_test"], "n_fid": real[0]["n"], "mixtures": {}}
    for name in ctx.cfg.mixture.datasets:
        means, std = mixture_spec(name)
        true = data_images.sample_mixture(name, ctx.cfg.mixture.n_samples, np.random.default_rng(12345))
        real_summary["mixtures"][name] = metric_failures.mode_coverage(true, means, std)
        arrays[f"real-{name}__samples"] = true
    with ctx.reporter.task("evaluate", len(runs)) as cb:
        for i, (run, run_arrays, fp) in enumerate(runs):
            rid = run_id(run["model"], run["dataset"], run["variant"], run["seed"])
            if run["dataset"] == "fashion_mnist":
                result, ev_arrays = _evaluate_image_run(ctx, run, run_arrays, fp, images, feats, real)
                metric_values = result["metrics"]
                if result.get("error"):
                    ctx.reporter.info(f"evaluate {rid}: metrics unavailable ({result['error']})")
                if "sweep" in run:
                    sweep.append({"model": run["model"], **run["sweep"], "seed": run["seed"],
                                  "flops_total": run["compute"]["flops_total"], "fid": metric_values.get("fid")})
                    cb(i + 1, len(runs), {})
                    continue
                arrays[f"{rid}__grid"], arrays[f"{rid}__spectrum"] = ev_arrays["grid"], ev_arrays["spectrum"]
            else:
                metric_values = _mixture_metrics(run_arrays["samples"], run["dataset"])
                arrays[f"{rid}__samples"] = run_arrays["samples"]
            records.append({k: run[k] for k in ("model", "dataset", "variant", "seed", "config", "compute",
                                                "failure_events", "history")} | {"metrics": metric_values})
            cb(i + 1, len(runs), {})
    origin = {"kind": "build", "profile": ctx.cfg.profile, "device": ctx.device,
              "seeds": {"image": list(ctx.cfg.seeds_image), "mixture": list(ctx.cfg.seeds_mixture)},
              "hardware": ctx.hardware, "bubblelens_version": __version__}
    return Evaluated(records, arrays, feat_info, real_summary, origin, sweep)


# ---- results files and bundles ----

def write_results(ctx, ev: Evaluated, claims: list | None) -> None:
    out = ctx.opts.out_dir / "results"
    atomic_write_text(out / "runs.json", dumps_json(ev.runs))
    atomic_write_text(out / "metrics.csv", ev.runs_long().to_csv(index=False))   # full precision: diffed by changes.py
    compute_rows = [{"model": r["model"], "dataset": r["dataset"], "variant": r["variant"], "seed": r["seed"],
                     **{k: v for k, v in r["compute"].items() if not isinstance(v, (dict, list))}} for r in ev.runs]
    atomic_write_text(out / "compute.csv", pd.DataFrame(compute_rows).to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out / "sweep.csv", ev.sweep_frame().to_csv(index=False, float_format="%.6g"))
    meta = {"format": RESULTS_FORMAT, "features": ev.features_info, "real": ev.real, "origin": ev.origin,
            "sweep": ev.sweep}
    atomic_write_text(out / "evaluation.json", dumps_json(meta))
    buf = io.BytesIO()
    np.savez_compressed(buf, **ev.arrays)
    atomic_write_bytes(out / "arrays.npz", buf.getvalue())
    if claims is not None:
        atomic_write_text(out / "claims.json", dumps_json([c.to_json() for c in claims]))


def export_bundle(build_dir: Path, bundle: Path) -> int:
    """Zip a build's results/ and manifest.json into a bundle a CPU-only machine can render from."""
    files = ["runs.json", "evaluation.json", "arrays.npz"]
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


def load_bundle(ctx, bundle: Path) -> Evaluated:
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
    ctx.input_hashes["results_bundle"] = hashlib.sha256(Path(bundle).read_bytes()).hexdigest()[:16]
    return Evaluated(runs, arrays, meta["features"], meta["real"], origin, meta.get("sweep", []))
