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
from bubblelens.datasets.images import file_digest, load_split, resolve_image_dir
from bubblelens.evaluation import units as eval_units
from bubblelens.pipeline.context import BuildContext, StageCode
from bubblelens.pipeline.state import Evaluated, Features, Images, TrainedRun, run_id
from bubblelens.training import units as train_units

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


def train_features(ctx: BuildContext, images: Images) -> Features:
    """The domain classifier; its extractor is rebuilt from the arrays only where features are needed."""
    params = ctx.cfg.features

    def compute(fp):
        with ctx.reporter.task("features: training the domain classifier", 1) as cb:
            info, arrays = eval_units.feature_unit(params, images.train.images, images.train.labels,
                                                   images.test.images, images.test.labels, ctx.device)
            cb(1, 1, {"test_acc": info["test_accuracy"]})
        return info, arrays

    info, arrays, fp = ctx.cached("features", "classifier", params, {"images": images.fingerprint, "device": ctx.device},
                                  FEATURES_CODE, compute, trained=True)
    return Features(arrays, info, fp)


def _image_run(ctx: BuildContext, model: str, params, images: Images, seed: int, label: str = "") -> TrainedRun:
    key = run_id(model, "fashion_mnist", "reference", seed)
    fp_inputs = {"images": images.fingerprint, "device": ctx.device, "seed": str(seed)}

    def compute(fp):
        with ctx.reporter.task(f"train {key}{label}", 1) as cb:
            return train_units.train_image_unit(model, params, images.train.images, images.test.images, seed,
                                                ctx.device, ckpt_dir=ctx.cache.scratch_dir("train", fp), progress=cb)

    return TrainedRun(*ctx.cached("train", key, params, fp_inputs, TRAIN_CODE, compute, trained=True))


def _mixture_runs(ctx: BuildContext, dataset: str, variant: str) -> list[TrainedRun]:
    cfg = ctx.cfg
    key = f"mlp_gan-{dataset}-{variant}"
    # One unit per (dataset, variant): dropping grid25 from the profile must not retrain ring8.
    params = replace(cfg.mixture, datasets=(dataset,), variants=(variant,))

    def compute(fp):
        with ctx.reporter.task(f"train {key} × {len(cfg.seeds_mixture)} seeds", 1) as cb:
            return train_units.train_mixture_unit(cfg.mixture, dataset, variant, tuple(cfg.seeds_mixture),
                                                  ctx.device, progress=cb)

    result, arrays, fp = ctx.cached("train", key, params,
                                    {"seeds": json.dumps(list(cfg.seeds_mixture)), "device": ctx.device},
                                    TRAIN_CODE, compute, trained=True)
    return [TrainedRun(r, {"samples": arrays[f"s{r['seed']}"]}, fp) for r in result["runs"]]


def train_all(ctx: BuildContext, images: Images) -> list[TrainedRun]:
    """Every training run of the profile."""
    cfg = ctx.cfg
    runs = []
    for seed in cfg.seeds_image:
        runs.append(_image_run(ctx, "dcgan", cfg.dcgan, images, seed))
        runs.append(_image_run(ctx, "vae", cfg.vae, images, seed))
    for dataset in cfg.mixture.datasets:
        for variant in cfg.mixture.variants:
            runs += _mixture_runs(ctx, dataset, variant)
    for width in cfg.sweep.widths:
        for epochs in cfg.sweep.epochs:
            params = replace(cfg.dcgan, width=width, epochs=epochs)
            # A sweep point equal to the reference configuration is the seed-0 reference run (same fingerprint).
            run = _image_run(ctx, "dcgan", params, images, 0, label=f" (sweep w{width} e{epochs})")
            run.record = dict(run.record, sweep={"width": width, "epochs": run.record["compute"].get("epochs", epochs)})
            runs.append(run)
    return runs


def _real_reference(ctx: BuildContext, images: Images, feats: Features) -> tuple[dict, dict]:
    n = min(ctx.cfg.eval.n_fid, len(images.test.images), len(images.train.images))

    def compute(fp):
        return eval_units.real_reference_unit(ctx.cfg.features, feats.state, images.train.images,
                                              images.test.images, n, ctx.device)

    return ctx.cached("evaluate", "real-reference", ctx.cfg.eval, {"images": images.fingerprint,
                                                                   "features": feats.fingerprint},
                      EVAL_CODE, compute)[:2]


def _evaluate_image_run(ctx: BuildContext, run: TrainedRun, images: Images, feats: Features,
                        real: tuple[dict, dict]) -> tuple[dict, dict]:
    real_info, real_arrays = real

    def compute(fp):
        return eval_units.image_eval_unit(ctx.cfg.eval, ctx.cfg.features, feats.state, run.arrays,
                                          images.test.images, real_arrays, real_info["n"], ctx.device)

    return ctx.cached("evaluate", run.run_id, ctx.cfg.eval, {"run": run.fingerprint, "features": feats.fingerprint},
                      EVAL_CODE, compute)[:2]


RECORD_FIELDS = ("model", "dataset", "variant", "seed", "config", "compute", "failure_events", "history")


def evaluate_all(ctx: BuildContext, images: Images, feats: Features, runs: list[TrainedRun]) -> Evaluated:
    real = _real_reference(ctx, images, feats)
    records, sweep = [], []
    arrays = {"real__spectrum": real[1]["spectrum"], "real__grid": images.test.images[:eval_units.GRID_SIZE]}
    real_summary = {"fid_train_vs_test": real[0]["fid_train_vs_test"], "n_fid": real[0]["n"], "mixtures": {}}
    for name in ctx.cfg.mixture.datasets:
        real_summary["mixtures"][name], arrays[f"real-{name}__samples"] = eval_units.true_mixture_check(
            name, ctx.cfg.mixture.n_samples)
    with ctx.reporter.task("evaluate", len(runs)) as cb:
        for i, run in enumerate(runs):
            rec, rid = run.record, run.run_id
            if rec["dataset"] == "fashion_mnist":
                result, ev_arrays = _evaluate_image_run(ctx, run, images, feats, real)
                metric_values = result["metrics"]
                if result.get("error"):
                    ctx.reporter.info(f"evaluate {rid}: metrics unavailable ({result['error']})")
                if "sweep" in rec:
                    sweep.append({"model": rec["model"], **rec["sweep"], "seed": rec["seed"],
                                  "flops_total": rec["compute"]["flops_total"], "fid": metric_values.get("fid")})
                    cb(i + 1, len(runs), {})
                    continue
                arrays[f"{rid}__grid"], arrays[f"{rid}__spectrum"] = ev_arrays["grid"], ev_arrays["spectrum"]
            else:
                metric_values = eval_units.mixture_metrics(run.arrays["samples"], rec["dataset"])
                arrays[f"{rid}__samples"] = run.arrays["samples"]
            records.append({k: rec[k] for k in RECORD_FIELDS} | {"metrics": metric_values})
            cb(i + 1, len(runs), {})
    origin = {"kind": "build", "profile": ctx.cfg.profile, "device": ctx.device,
              "seeds": {"image": list(ctx.cfg.seeds_image), "mixture": list(ctx.cfg.seeds_mixture)},
              "hardware": ctx.hardware, "bubblelens_version": __version__}
    return Evaluated(records, arrays, feats.info, real_summary, origin, sweep)
