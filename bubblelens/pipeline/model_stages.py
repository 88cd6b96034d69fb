"""Model-side stages: images, feature extractor, training and evaluation, each unit its own cache entry.

This module is glue: it names each unit's cache key, params and inputs, and calls the unit function
(training/units.py, evaluation/units.py) with plain inputs. Every trained or evaluated unit (one model ×
dataset × variant × seed, or one seed ensemble of a mixture) is cached on its own, so adding a seed or
changing one model's params retrains only what changed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from bubblelens import __version__
from bubblelens.core.config import canonical
from bubblelens.core.errors import UsageError
from bubblelens.datasets.images import file_digest, load_split, resolve_image_dir
from bubblelens.evaluation import units as eval_units
from bubblelens.evaluation.names import KEY_MIN_CLASS_SHARE_LABELS, KEY_MIN_CLASS_SHARE_REAL
from bubblelens.pipeline.context import BuildContext, CachedUnit, StageCode
from bubblelens.pipeline.state import Evaluated, Features, Images, TrainedRun, run_id
from bubblelens.training import units as train_units
from bubblelens.training.names import CHECKPOINT_SAMPLES, SAMPLES

# Each stage's code is what its unit functions import (pipeline/code_graph.py), never a hand-kept list.
TRAIN_CODE = StageCode(("bubblelens.training.units",))
FEATURES_CODE = StageCode(("bubblelens.evaluation.features",))
EVAL_CODE = StageCode(("bubblelens.evaluation.units",))


def load_images(ctx: BuildContext) -> Images:
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


def _features_unit(ctx: BuildContext, images: Images) -> CachedUnit:
    return CachedUnit("features", "classifier", ctx.cfg.features, {"images": images.fingerprint, "device": ctx.device},
                      FEATURES_CODE, eval_units.feature_unit,
                      {"params": ctx.cfg.features, "train_images": images.train.images,
                       "train_labels": images.train.labels, "test_images": images.test.images,
                       "test_labels": images.test.labels, "device": ctx.device}, trained=True)


def _image_unit(ctx: BuildContext, model: str, params, images: Images, seed: int) -> CachedUnit:
    return CachedUnit("train", run_id(model, "fashion_mnist", "reference", seed), params,
                      {"images": images.fingerprint, "device": ctx.device, "seed": str(seed)}, TRAIN_CODE,
                      train_units.train_image_unit,
                      {"model": model, "params": params, "train_images": images.train.images,
                       "test_images": images.test.images, "seed": seed, "device": ctx.device},
                      trained=True, scratch=True, progress=True)


def _mixture_units(ctx: BuildContext, dataset: str, variant: str) -> list[CachedUnit]:
    """The seeds of one (dataset, variant), in ensembles of `ensemble_size` (all at once when 0)."""
    cfg = ctx.cfg
    # One unit per (dataset, variant) and seed chunk: dropping grid25 from the profile must not retrain ring8.
    params = replace(cfg.mixture, datasets=(dataset,), variants=(variant,))
    if cfg.mixture.ensemble_size < 0:
        raise UsageError(f"[mixture] ensemble_size must be 0 (all seeds in one unit) or positive, "
                         f"got {cfg.mixture.ensemble_size}")
    seeds, size = tuple(cfg.seeds_mixture), cfg.mixture.ensemble_size or len(cfg.seeds_mixture)
    chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    return [CachedUnit("train", f"mlp_gan-{dataset}-{variant}" + (f"-s{c[0]}-{c[-1]}" if len(chunks) > 1 else ""),
                       params, {"seeds": json.dumps(list(c)), "device": ctx.device}, TRAIN_CODE,
                       train_units.train_mixture_unit,
                       {"params": params, "dataset": dataset, "variant": variant, "seeds": c, "device": ctx.device},
                       trained=True, scratch=True, progress=True) for c in chunks]


def train_models(ctx: BuildContext, images: Images, features: bool = True,
                 train: bool = True) -> tuple[Features | None, list[TrainedRun] | None]:
    """The domain classifier and every training run of the profile, as one batch of independent units
    (the executor runs them in parallel where it can)."""
    cfg = ctx.cfg
    units = [_features_unit(ctx, images)] if features else []
    tags: list[tuple[str, dict | None]] = []
    if train:
        for seed in cfg.seeds_image:
            units += [_image_unit(ctx, "dcgan", cfg.dcgan, images, seed), _image_unit(ctx, "vae", cfg.vae, images, seed)]
            tags += [("image", None), ("image", None)]
        for dataset in cfg.mixture.datasets:
            for variant in cfg.mixture.variants:
                chunk_units = _mixture_units(ctx, dataset, variant)
                units += chunk_units
                tags += [("mixture", None)] * len(chunk_units)
        for width in cfg.sweep.widths:
            for epochs in cfg.sweep.epochs:
                # A sweep point equal to the reference configuration is the seed-0 reference run (same fingerprint).
                units.append(_image_unit(ctx, "dcgan", replace(cfg.dcgan, width=width, epochs=epochs), images, 0))
                tags.append(("image", {"width": width, "epochs": epochs}))
    done = ctx.run_units(units)
    feats = Features(done[0][1], done[0][0], done[0][2]) if features else None
    if not train:
        return feats, None
    runs: list[TrainedRun] = []
    for (kind, sweep), (result, arrays, fp) in zip(tags, done[1:] if features else done):
        if kind == "mixture":
            runs += [TrainedRun(r, {SAMPLES: arrays[train_units.mixture_array(r["seed"])],
                                    **{name: arrays[train_units.mixture_array(r["seed"], name)]
                                       for name in r["array_names"] if name != SAMPLES}}, fp)
                     for r in result["runs"]]
            continue
        run = TrainedRun(result, arrays, fp)
        if sweep is not None:
            run.record = dict(result, sweep={"width": sweep["width"],
                                             "epochs": result["compute"].get("epochs", sweep["epochs"])})
        runs.append(run)
    return feats, runs


def _real_reference(ctx: BuildContext, images: Images, feats: Features) -> tuple[dict, dict]:
    n = min(ctx.cfg.eval.n_fid, len(images.test.images), len(images.train.images))
    unit = CachedUnit("evaluate", "real-reference", ctx.cfg.eval,
                      {"images": images.fingerprint, "features": feats.fingerprint}, EVAL_CODE,
                      eval_units.real_reference_unit,
                      {"feature_params": ctx.cfg.features, "feature_state": feats.state,
                       "train_images": images.train.images, "test_images": images.test.images,
                       "test_labels": images.test.labels, "n": n,
                       "device": ctx.device})
    return ctx.run_units([unit])[0][:2]


def _image_eval_unit(ctx: BuildContext, run: TrainedRun, images: Images, feats: Features,
                     real: tuple[dict, dict]) -> CachedUnit:
    real_info, real_arrays = real
    return CachedUnit("evaluate", run.run_id, ctx.cfg.eval, {"run": run.fingerprint, "features": feats.fingerprint},
                      EVAL_CODE, eval_units.image_eval_unit,
                      {"ev": ctx.cfg.eval, "feature_params": ctx.cfg.features, "feature_state": feats.state,
                       "run_arrays": run.arrays, "test_images": images.test.images, "real_arrays": real_arrays,
                       "n": real_info["n"], "device": ctx.device})


def snapshot_sweep(rec: dict, snapshots: list[dict], final_fid: float | None) -> list[dict]:
    """Compute-sweep points of one reference run: each snapshot (training FLOPs counted to its step, as
    flops_total x step / steps: every step but an epoch's last partial batch has the same shape) and the
    run's end. Empty without snapshots."""
    if not snapshots:
        return []
    c, width = rec["compute"], rec["config"]["params"]["width"]
    epochs = c.get("epochs") or rec["config"]["params"]["epochs"]
    points = [(s["step"], s["fid"]) for s in snapshots] + [(c["steps"], final_fid)]
    return [{"model": rec["model"], "width": width, "epochs": epochs * step / c["steps"], "seed": rec["seed"],
             "flops_total": c["flops_total"] * step / c["steps"], "fid": fid} for step, fid in points]


RECORD_FIELDS = ("model", "dataset", "variant", "seed", "config", "compute", "failure_events", "history")


def evaluate_all(ctx: BuildContext, images: Images, feats: Features, runs: list[TrainedRun]) -> Evaluated:
    real = _real_reference(ctx, images, feats)
    records, sweep = [], []
    arrays = {"real__spectrum": real[1]["spectrum"], "real__grid": images.test.images[:eval_units.GRID_SIZE]}
    real_summary = {"fid_train_vs_test": real[0]["fid_train_vs_test"], "n_fid": real[0]["n"], "mixtures": {},
                    **{k: real[0].get(k) for k in (KEY_MIN_CLASS_SHARE_REAL, KEY_MIN_CLASS_SHARE_LABELS)}}
    for name in ctx.cfg.mixture.datasets:
        real_summary["mixtures"][name], arrays[f"real-{name}__samples"] = eval_units.true_mixture_check(
            name, ctx.cfg.mixture.n_samples)
    image_runs = [r for r in runs if r.record["dataset"] == "fashion_mnist"]
    # Keyed by object: a sweep run may share its run id with a reference run.
    evaluated = dict(zip((id(r) for r in image_runs),
                         ctx.run_units([_image_eval_unit(ctx, r, images, feats, real) for r in image_runs])))
    for run in runs:
        rec, rid = run.record, run.run_id
        if rec["dataset"] == "fashion_mnist":
            result, ev_arrays, _ = evaluated[id(run)]
            metric_values = result["metrics"]
            if result.get("error"):
                ctx.reporter.info(f"evaluate {rid}: metrics unavailable ({result['error']})")
            if "sweep" in rec:
                sweep.append({"model": rec["model"], **rec["sweep"], "seed": rec["seed"],
                              "flops_total": rec["compute"]["flops_total"], "fid": metric_values.get("fid")})
                continue
            sweep += snapshot_sweep(rec, result.get("snapshots", []), metric_values.get("fid"))
            arrays[f"{rid}__grid"], arrays[f"{rid}__spectrum"] = ev_arrays["grid"], ev_arrays["spectrum"]
        else:
            metric_values = eval_units.mixture_metrics(run.arrays[SAMPLES], rec["dataset"])
            metric_values |= eval_units.target_metrics(run.arrays.get(CHECKPOINT_SAMPLES),
                                                       rec["config"].get("checkpoint_steps", []),
                                                       rec["compute"]["steps"], rec["compute"]["flops_per_step"],
                                                       rec["dataset"])
            arrays[f"{rid}__samples"] = run.arrays[SAMPLES]
        records.append({k: rec[k] for k in RECORD_FIELDS} | {"metrics": metric_values})
    origin = {"kind": "build", "profile": ctx.cfg.profile, "device": ctx.device,
              "seeds": {"image": list(ctx.cfg.seeds_image), "mixture": list(ctx.cfg.seeds_mixture)},
              "hardware": ctx.hardware, "bubblelens_version": __version__}
    return Evaluated(records, arrays, feats.info, real_summary, origin, sweep)
