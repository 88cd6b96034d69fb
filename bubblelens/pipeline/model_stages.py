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

import numpy as np

from bubblelens import __version__
from bubblelens.core.config import canonical
from bubblelens.core.errors import UsageError
from bubblelens.core.lazy_arrays import select
from bubblelens.datasets.images import file_digest, load_split, resolve_image_dir
from bubblelens.evaluation.names import GRID_SIZE, KEY_MIN_CLASS_SHARE_LABELS, KEY_MIN_CLASS_SHARE_REAL
from bubblelens.pipeline.cache import fingerprint
from bubblelens.pipeline.context import BuildContext, CachedUnit, StageCode, UnitResult
from bubblelens.pipeline.state import (EnsembleChunk, EnsembleMember, Evaluated, FeatureExtractor, Features, Images,
                                       MixtureEvaluations, NfeRow, RealReference, ReferenceRun, RunEvaluation,
                                       RunRecord, SweepPoint, SweepRow, TrainedRun, run_id)
from bubblelens.pipeline.work import UnitFunction
from bubblelens.training.run_result import RunResult
from bubblelens.training.names import FLOW_VARIANT, SAMPLES, mixture_array

# Each stage's code is what its unit functions import (pipeline/code_graph.py), never a hand-kept list.
TRAIN_CODE = StageCode(("bubblelens.training.units",))
FEATURES_CODE = StageCode(("bubblelens.evaluation.features",))
EVAL_CODE = StageCode(("bubblelens.evaluation.units",))


def training_units():
    """training/units.py, imported where a training unit runs (it imports torch): work.py's UnitFunction."""
    from bubblelens.training import units

    return units


def evaluation_units():
    """evaluation/units.py, imported where an evaluation unit runs (it imports torch)."""
    from bubblelens.evaluation import units

    return units


def load_images(ctx: BuildContext) -> Images:
    cfg = ctx.cfg.images
    directory = resolve_image_dir(cfg.source, ctx.opts.images_dir)
    train_split = load_split(directory, "train", cfg.n_train)
    test_split = load_split(directory, "test", cfg.n_eval)
    digest = file_digest(train_split.files + test_split.files)
    # The fingerprint of what models see: the files *and* how many images of them are used.
    fp = hashlib.sha256(f"{digest}:{json.dumps(canonical(cfg))}".encode()).hexdigest()[:16]
    ctx.reporter.info(f"data: {len(train_split.images)} training and {len(test_split.images)} held-out images "
                      f"from {directory}")
    return Images(train_split, test_split, fp, str(directory), digest)


def _features_unit(ctx: BuildContext, images: Images) -> CachedUnit:
    return CachedUnit("features", "classifier", ctx.cfg.features, {"images": images.fingerprint, "device": ctx.device},
                      FEATURES_CODE, UnitFunction(evaluation_units, "feature_unit"),
                      {"params": ctx.cfg.features, "train_images": images.train.images,
                       "train_labels": images.train.labels, "test_images": images.test.images,
                       "test_labels": images.test.labels, "device": ctx.device}, trained=True,
                      role=FeatureExtractor())


def _image_unit(ctx: BuildContext, model: str, params, images: Images, seed: int,
                role: ReferenceRun | SweepPoint) -> CachedUnit:
    return CachedUnit("train", run_id(model, "fashion_mnist", "reference", seed), params,
                      {"images": images.fingerprint, "device": ctx.device, "seed": str(seed)}, TRAIN_CODE,
                      UnitFunction(training_units, "train_image_unit"),
                      {"model": model, "params": params, "train_images": images.train.images,
                       "test_images": images.test.images, "seed": seed, "device": ctx.device},
                      trained=True, scratch=True, progress=True, role=role)


def _seed_chunks(seeds: tuple[int, ...], size: int, section: str) -> list[tuple[int, ...]]:
    """The seeds in ensembles of `size` (all of them in one when 0); `section` names the config table."""
    if size < 0:
        raise UsageError(f"[{section}] ensemble_size must be 0 (all seeds in one unit) or positive, got {size}")
    size = size or len(seeds)
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def _chunk_key(name: str, chunk: tuple[int, ...], chunks: list) -> str:
    return name + (f"-s{chunk[0]}-{chunk[-1]}" if len(chunks) > 1 else "")


def _mixture_units(ctx: BuildContext, dataset: str, variant: str) -> list[CachedUnit]:
    """The seeds of one (dataset, variant), in ensembles of `ensemble_size` (all at once when 0)."""
    cfg = ctx.cfg
    # One unit per (dataset, variant) and seed chunk: dropping grid25 from the profile must not retrain ring8.
    params = replace(cfg.mixture, datasets=(dataset,), variants=(variant,))
    chunks = _seed_chunks(tuple(cfg.seeds_mixture), cfg.mixture.ensemble_size, "mixture")
    return [CachedUnit("train", _chunk_key(f"mlp_gan-{dataset}-{variant}", c, chunks),
                       params, {"seeds": json.dumps(list(c)), "device": ctx.device}, TRAIN_CODE,
                       UnitFunction(training_units, "train_mixture_unit"),
                       {"params": params, "dataset": dataset, "variant": variant, "seeds": c, "device": ctx.device},
                       trained=True, scratch=True, progress=True, role=EnsembleChunk(dataset, variant, c))
            for c in chunks]


def _flow_mixture_units(ctx: BuildContext, dataset: str) -> list[CachedUnit]:
    """Flow matching's seeds on one mixture, in ensembles of `ensemble_size` (all at once when 0)."""
    params = replace(ctx.cfg.flow_mixture, datasets=(dataset,))
    chunks = _seed_chunks(tuple(ctx.cfg.seeds_mixture), params.ensemble_size, "flow_mixture")
    return [CachedUnit("train", _chunk_key(f"flow-{dataset}", c, chunks),
                       params, {"seeds": json.dumps(list(c)), "device": ctx.device}, TRAIN_CODE,
                       UnitFunction(training_units, "train_flow_mixture_unit"),
                       {"params": params, "dataset": dataset, "seeds": c, "device": ctx.device},
                       trained=True, progress=True, role=EnsembleChunk(dataset, FLOW_VARIANT, c, "flow"))
            for c in chunks]


def train_models(ctx: BuildContext, images: Images, features: bool = True, train: bool = True,
                 alongside: list[CachedUnit] | tuple = ()) -> tuple[Features | None, list[TrainedRun] | None]:
    """The domain classifier and every training run of the profile, as one batch of independent units
    (the executor runs them in parallel where it can). Each unit carries its role; the runs come back in
    unit order, an ensemble chunk's seeds in its own order. `alongside`: other stages' units that need
    no model (the market claims) and run in the same batch, first, so that no worker idles while they run
    alone later; they are only cached here, for their own stage to look up."""
    cfg = ctx.cfg
    units = [_features_unit(ctx, images)] if features else []
    if train:
        for seed in cfg.seeds_image:
            units += [_image_unit(ctx, m, p, images, seed, ReferenceRun(m, seed))
                      for m, p in (("dcgan", cfg.dcgan), ("vae", cfg.vae), ("flow", cfg.flow))]
        for dataset in cfg.mixture.datasets:
            for variant in cfg.mixture.variants:
                units += _mixture_units(ctx, dataset, variant)
        for dataset in cfg.flow_mixture.datasets:
            units += _flow_mixture_units(ctx, dataset)
        for width in cfg.sweep.widths:
            for epochs in cfg.sweep.epochs:
                # A sweep point equal to the reference configuration is the seed-0 reference run (same fingerprint).
                units.append(_image_unit(ctx, "dcgan", replace(cfg.dcgan, width=width, epochs=epochs), images, 0,
                                         SweepPoint("dcgan", width, epochs)))
    if alongside and ctx.all_cached(units):
        alongside = ()       # nothing to train: the claims stage computes what is missing in this process
    done = ctx.run_units([*alongside, *units])[len(alongside):]
    feats = next((Features(res.arrays, res.result, res.fingerprint) for u, res in done
                  if isinstance(u.role, FeatureExtractor)), None)
    if not train:
        return feats, None
    return feats, [run for u, res in done if not isinstance(u.role, FeatureExtractor)
                   for run in trained_runs(u.role, res)]


def trained_runs(role: ReferenceRun | SweepPoint | EnsembleChunk, res: UnitResult) -> list[TrainedRun]:
    """The runs of one training unit, rebuilt from its cache form: one for an image unit, one per seed for
    an ensemble chunk (whose arrays are named per seed, training/names.py: mixture_array)."""
    if not isinstance(role, EnsembleChunk):
        return [TrainedRun(RunResult.from_parts(res.result, res.arrays), role, res.fingerprint)]
    out = []
    for data in res.result["runs"]:
        seed = data["seed"]
        names = {name: mixture_array(seed) if name == SAMPLES else mixture_array(seed, name)
                 for name in data["array_names"]}
        out.append(TrainedRun(RunResult.from_parts(data, select(res.arrays, names)),     # unread if lazy
                              EnsembleMember(role.dataset, role.variant, seed, role.model), res.fingerprint))
    return out


def _real_reference(ctx: BuildContext, images: Images, feats: Features) -> UnitResult:
    n = min(ctx.cfg.eval.n_fid, len(images.test.images), len(images.train.images))
    unit = CachedUnit("evaluate", "real-reference", ctx.cfg.eval,
                      {"images": images.fingerprint, "features": feats.fingerprint}, EVAL_CODE,
                      UnitFunction(evaluation_units, "real_reference_unit"),
                      {"feature_params": ctx.cfg.features, "feature_state": feats.state,
                       "train_images": images.train.images, "test_images": images.test.images,
                       "test_labels": images.test.labels, "n": n,
                       "device": ctx.device}, role=RealReference())
    return ctx.run_units([unit])[0][1]


def _image_eval_unit(ctx: BuildContext, run: TrainedRun, images: Images, feats: Features,
                     real: UnitResult) -> CachedUnit:
    # The run's arrays only if it is evaluated: read back from the cache, they are read when first used.
    return CachedUnit("evaluate", run.run_id, ctx.cfg.eval, {"run": run.fingerprint, "features": feats.fingerprint},
                      EVAL_CODE, UnitFunction(evaluation_units, "image_eval_unit"),
                      lambda: {"ev": ctx.cfg.eval, "feature_params": ctx.cfg.features, "feature_state": feats.state,
                               "run_arrays": run.arrays, "test_images": images.test.images,
                               "real_arrays": real.arrays, "n": real.result["n"], "device": ctx.device},
                      role=RunEvaluation(run.role))


def snapshot_sweep(run: RunResult, snapshots: list[dict], final_fid: float | None) -> list[SweepRow]:
    """Compute-sweep points of one reference run: each snapshot (training FLOPs counted to its step, as
    flops_total x step / steps: every step but an epoch's last partial batch has the same shape) and the
    run's end. Empty without snapshots."""
    if not snapshots:
        return []
    params = run.config["params"]
    c, width = run.compute, params.get("width", params.get("channels"))     # flow's U-Net: its base channels
    epochs = c.get("epochs") or run.config["params"]["epochs"]
    points = [(s["step"], s["fid"]) for s in snapshots] + [(c["steps"], final_fid)]
    return [SweepRow(run.model, width, epochs * step / c["steps"], run.seed, c["flops_total"] * step / c["steps"], fid)
            for step, fid in points]


def nfe_rows(run: RunResult, by_nfe: list[dict]) -> list[NfeRow]:
    """A flow run's metrics at each NFE as rows, with the counted FLOPs of one sample at that NFE. Metrics in
    name order: an evaluation read back from the cache lists them sorted, one just computed does not, and
    results/nfe.csv (and the charts drawn from it) should not depend on which it was."""
    flops = run.compute.get("flops_per_sample_by_nfe", {})
    return [NfeRow(run.model, run.dataset, run.variant, run.seed, int(row["nfe"]), float(flops[str(row["nfe"])]),
                   metric, None if value is None or not np.isfinite(value) else float(value))
            for row in by_nfe for metric, value in sorted(row.items()) if metric != "nfe"]


def nan_for_null(metrics: dict) -> dict:
    """A mixture run's metrics from their cache form, which writes NaN (no high-quality sample: no mode
    histogram) as null: the mixture metrics are all floats, so null is NaN, which results/metrics.csv keeps
    as an empty value (a null would drop the row)."""
    return {k: np.nan if v is None else v for k, v in metrics.items()}


def _mixture_eval_unit(ctx: BuildContext, runs: list[TrainedRun], mixtures: list[str]) -> CachedUnit:
    """Every mixture run's mode metrics and the true mixtures' check (evaluation/units.py:
    mixture_eval_unit) as one unit of the runs it reads: a rebuild that changed no run (one curated CSV
    edited) reads them back instead of importing torch to count them again."""
    members = [r for r in runs if not r.is_image]
    return CachedUnit("evaluate", "mixtures", {"n_true": ctx.cfg.mixture.n_samples, "mixtures": mixtures},
                      {r.run_id: r.fingerprint for r in members}, EVAL_CODE,
                      UnitFunction(evaluation_units, "mixture_eval_unit"),
                      lambda: {"runs": {r.run_id: {"dataset": r.result.dataset, "samples": r.result.samples,
                                                   "extras": dict(r.result.extras),
                                                   "checkpoint_steps": r.result.config.get("checkpoint_steps", []),
                                                   "steps": r.result.compute["steps"],
                                                   "flops_per_step": r.result.compute["flops_per_step"]}
                                        for r in members},
                               "datasets": mixtures, "n_true": ctx.cfg.mixture.n_samples},
                      role=MixtureEvaluations())


def evaluate_all(ctx: BuildContext, images: Images, feats: Features, runs: list[TrainedRun]) -> Evaluated:
    real = _real_reference(ctx, images, feats)
    records, sweep, nfe = [], [], []
    arrays = {"real__spectrum": real.arrays["spectrum"], "real__grid": images.test.images[:GRID_SIZE]}
    real_summary = {"fid_train_vs_test": real.result["fid_train_vs_test"], "n_fid": real.result["n"], "mixtures": {},
                    **{k: real.result.get(k) for k in (KEY_MIN_CLASS_SHARE_REAL, KEY_MIN_CLASS_SHARE_LABELS)}}
    mixtures = list(dict.fromkeys((*ctx.cfg.mixture.datasets, *ctx.cfg.flow_mixture.datasets)))
    # One batch on the executor, the mixture runs' unit first (it is the smallest): by the evaluated run's
    # role, as a sweep run may share its run id (and its training) with a reference run.
    done = ctx.run_units([_mixture_eval_unit(ctx, runs, mixtures),
                          *(_image_eval_unit(ctx, r, images, feats, real) for r in runs if r.is_image)])
    mixed = next(res for u, res in done if isinstance(u.role, MixtureEvaluations))
    evaluations = {u.role.of: res for u, res in done if isinstance(u.role, RunEvaluation)}
    real_summary["mixtures"] = {name: mixed.result["mixtures"][name] for name in mixtures}
    arrays |= mixed.arrays
    for run in runs:
        rr, rid = run.result, run.run_id
        if run.is_image:
            evaluation = evaluations[run.role]
            metric_values = evaluation.result["metrics"]
            if evaluation.result.get("error"):
                ctx.reporter.info(f"evaluate {rid}: metrics unavailable ({evaluation.result['error']})")
            if isinstance(run.role, SweepPoint):
                sweep.append(SweepRow(rr.model, run.role.width, rr.compute.get("epochs", run.role.epochs), rr.seed,
                                      rr.compute["flops_total"], metric_values.get("fid")))
                continue
            sweep += snapshot_sweep(rr, evaluation.result.get("snapshots", []), metric_values.get("fid"))
            nfe += nfe_rows(rr, evaluation.result.get("nfe", []))
            arrays[f"{rid}__grid"], arrays[f"{rid}__spectrum"] = (evaluation.arrays["grid"],
                                                                  evaluation.arrays["spectrum"])
        else:
            counted = mixed.result["runs"][rid]
            metric_values = nan_for_null(counted["metrics"])
            arrays[f"{rid}__samples"] = rr.samples
            nfe += nfe_rows(rr, counted["nfe"])
        records.append(RunRecord.of(rr, metric_values))
    origin = {"kind": "build", "profile": ctx.cfg.profile, "device": ctx.device,
              "seeds": {"image": list(ctx.cfg.seeds_image), "mixture": list(ctx.cfg.seeds_mixture)},
              "hardware": ctx.hardware, "bubblelens_version": __version__}
    # Of everything evaluated: the units read (trained runs in order, with their roles, and their
    # evaluations), the real reference, the classifier, the mixture check's size and the evaluation code.
    fp = fingerprint("evaluate:all", {"n_samples": ctx.cfg.mixture.n_samples, "mixtures": mixtures,
                                      "features": feats.fingerprint,
                                      "real": real.fingerprint},
                     {f"{i}:{r.role}": r.fingerprint + ":" + (evaluations[r.role].fingerprint if r.is_image else "")
                      for i, r in enumerate(runs)}, EVAL_CODE.version())
    return Evaluated(tuple(records), arrays, feats.info, real_summary, origin, tuple(sweep), fp, tuple(nfe))
