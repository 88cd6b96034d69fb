"""Evaluation work units: top-level functions of plain, picklable inputs, returning (record, arrays).

Like training/units.py, these never see the build context, so an executor can run them elsewhere, and
they are the entry points of the evaluation stages' code versions: editing any metric they reach
invalidates cached evaluations, and nothing else does.
"""
from __future__ import annotations

import json

import numpy as np
import torch

from bubblelens.core.config import EvalParams, FeatureParams
from bubblelens.core.io import dumps_json
from bubblelens.datasets.mixtures import mixture_spec, sample_mixture
from bubblelens.evaluation import failures, quality
from bubblelens.evaluation.features import FeatureExtractor, train_classifier
from bubblelens.training.names import (BATCH_STATS_SAMPLES, CHECKPOINT_SAMPLES, LATENT_MU, NFE_PREFIX, SAMPLES,
                                      SNAPSHOT_PREFIX)
from bubblelens.evaluation.names import GRID_SIZE, KEY_COVERAGE, KEY_DENSITY, KEY_PRECISION, KEY_RECALL
from bubblelens.evaluation.names import (CONVERGENCE_FLOOR, KEY_ACTIVE_UNITS, KEY_CONVERGED, KEY_FID, KEY_FID_BATCH_STATS,
                                         KEY_CHECKPOINT_EVERY, KEY_FLOPS_PER_STEP, KEY_FLOPS_TO_TARGET,
                                         KEY_HIGH_QUALITY, KEY_REACHED_TARGET, KEY_TARGET_STEP, KEY_KID_MEAN, KEY_KID_STD, KEY_MIN_CLASS_SHARE,
                                         KEY_MIN_CLASS_SHARE_LABELS, KEY_MIN_CLASS_SHARE_REAL, KEY_MODE_KL, KEY_MODES,
                                         KEY_NON_FINITE_FRAC)

TRUE_MIXTURE_SEED = 12345   # the draw of true mixture samples that checks the mode-coverage metric


def feature_unit(params: FeatureParams, train_images: np.ndarray, train_labels: np.ndarray,
                 test_images: np.ndarray, test_labels: np.ndarray, device: str) -> tuple[dict, dict]:
    """Train the domain classifier: (info, state-dict arrays)."""
    state, info = train_classifier(params, train_images, train_labels, test_images, test_labels, seed=0,
                                   device=device)
    return info, {k: v.detach().cpu().numpy() for k, v in state.items()}


def extractor(params: FeatureParams, state: dict[str, np.ndarray], device: str) -> FeatureExtractor:
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    return FeatureExtractor.from_state(tensors, params, device=device)


def real_reference_unit(feature_params: FeatureParams, feature_state: dict, train_images: np.ndarray,
                        test_images: np.ndarray, test_labels: np.ndarray, n: int, device: str) -> tuple[dict, dict]:
    """What real data score: the FID floor (n training vs n held-out images), the least-made class share of
    the n held-out images by the same classifier (what a generator of test-like images would score) beside
    that of their true labels (the first n test images are not exactly balanced), and the features and
    spectrum every generated set is compared with."""
    ext = extractor(feature_params, feature_state, device)
    real_test = ext.features(test_images[:n])
    real_train = ext.features(train_images[:n])
    floor = quality.fid(real_train, real_test)
    predicted = failures.class_coverage(ext.predict(test_images[:n]))[KEY_MIN_CLASS_SHARE]
    labelled = failures.class_coverage(np.asarray(test_labels[:n], dtype=np.int64))[KEY_MIN_CLASS_SHARE]
    return ({"fid_train_vs_test": floor, "n": n, KEY_MIN_CLASS_SHARE_REAL: predicted,
             KEY_MIN_CLASS_SHARE_LABELS: labelled},
            {"test_features": real_test, "train_features": real_train,
             "spectrum": failures.spectrum(test_images[:n])})


def image_metrics(ev: EvalParams, samples: np.ndarray, latent_mu: np.ndarray | None, real_images: np.ndarray,
                  ext: FeatureExtractor, real_arrays: dict, device: str) -> dict:
    """Every image metric of one run's `samples` (uint8 (n, 28, 28)) against the real reference
    (`real_images`: the held-out images whose features are `real_arrays['test_features']`)."""
    fake = ext.features(samples)
    real = real_arrays["test_features"]
    m: dict[str, float] = {}
    if len(fake) == len(real):   # FID is compared only at equal n
        m[KEY_FID] = quality.fid(real, fake)
    m[KEY_KID_MEAN], m[KEY_KID_STD] = quality.kid(real, fake, subsets=ev.kid_subsets,
                                                  subset_size=ev.kid_subset_size, seed=0, device=device)
    m.update(quality.prdc(real, fake, k=ev.prdc_k, device=device))
    m.update(failures.class_coverage(ext.predict(samples)))
    m.update(failures.blur_report(real_images, samples))
    m.update(failures.memorisation(fake, real_arrays["train_features"], real))
    if latent_mu is not None:
        m.update(failures.active_units(latent_mu) if np.isfinite(latent_mu).all() else {KEY_ACTIVE_UNITS: np.nan})
    return m


def batch_stats_fid(samples: np.ndarray, ext: FeatureExtractor, real_arrays: dict) -> dict:
    """FID of the same generator sampled with BatchNorm batch statistics: measured beside the scored
    eval-mode samples, so the report can say how much the declared sampling mode matters."""
    fake = ext.features(samples)
    real = real_arrays["test_features"]
    return {KEY_FID_BATCH_STATS: quality.fid(real, fake)} if len(fake) == len(real) else {}


def snapshot_fids(run_arrays: dict, ext: FeatureExtractor, real_arrays: dict, n: int) -> list[dict]:
    """FID of each snapshot a run took part-way through training ('snap_<step>'), by step."""
    out = []
    real = real_arrays["test_features"]
    for name in sorted((k for k in run_arrays if k.startswith(SNAPSHOT_PREFIX)), key=lambda k: int(k[len(SNAPSHOT_PREFIX):])):
        fake = ext.features(run_arrays[name][:n])
        if len(fake) == len(real):
            out.append({"step": int(name[len(SNAPSHOT_PREFIX):]), KEY_FID: quality.fid(real, fake)})
    return out


NFE_IMAGE_METRICS = (KEY_FID, KEY_KID_MEAN, KEY_PRECISION, KEY_RECALL, KEY_DENSITY, KEY_COVERAGE, KEY_MIN_CLASS_SHARE)


def nfe_arrays(run_arrays: dict) -> dict[int, np.ndarray]:
    """A flow run's samples by number of Euler steps ('nfe_<k>'), in increasing k; empty for other runs."""
    found = {int(k[len(NFE_PREFIX):]): v for k, v in run_arrays.items() if k.startswith(NFE_PREFIX)}
    return dict(sorted(found.items()))


def nfe_image_metrics(ev: EvalParams, run_arrays: dict, scored: dict, ext: FeatureExtractor, real_arrays: dict,
                      n: int, device: str) -> list[dict]:
    """Sample quality at each NFE of a flow run: the scored metrics at the largest NFE (its samples are the
    scored ones), the same metrics measured at every smaller one."""
    by_nfe = nfe_arrays(run_arrays)
    out = []
    for nfe, samples in by_nfe.items():
        if nfe == max(by_nfe):
            m = scored
        else:
            fake, real = ext.features(samples[:n]), real_arrays["test_features"]
            m = {KEY_KID_MEAN: quality.kid(real, fake, subsets=ev.kid_subsets, subset_size=ev.kid_subset_size,
                                          seed=0, device=device)[0]}
            if len(fake) == len(real):
                m[KEY_FID] = quality.fid(real, fake)
            m.update(quality.prdc(real, fake, k=ev.prdc_k, device=device))
            m.update(failures.class_coverage(ext.predict(samples[:n])))
        out.append({"nfe": nfe, **{k: float(m[k]) for k in NFE_IMAGE_METRICS if k in m}})
    return out


def image_eval_unit(ev: EvalParams, feature_params: FeatureParams, feature_state: dict, run_arrays: dict,
                    test_images: np.ndarray, real_arrays: dict, n: int, device: str) -> tuple[dict, dict]:
    """Metrics of one image run, or the reason they could not be computed (a diverged run's samples are
    evidence, not a crash), plus its sample grid and spectrum."""
    samples = run_arrays[SAMPLES][:n]
    try:
        ext = extractor(feature_params, feature_state, device)
        m = image_metrics(ev, samples, run_arrays.get(LATENT_MU), test_images[:n], ext, real_arrays, device)
        if BATCH_STATS_SAMPLES in run_arrays:
            m.update(batch_stats_fid(run_arrays[BATCH_STATS_SAMPLES][:n], ext, real_arrays))
        snapshots = snapshot_fids(run_arrays, ext, real_arrays, n)
        by_nfe = nfe_image_metrics(ev, run_arrays, m, ext, real_arrays, n, device)
        error = ""
    except ValueError as exc:
        m, snapshots, by_nfe, error = {}, [], [], str(exc)
    flat = {k: float(v) for k, v in m.items() if isinstance(v, (int, float, np.floating, np.integer))}
    return ({"metrics": flat, "n": int(n), "error": error, "snapshots": snapshots, "nfe": by_nfe},
            {"grid": samples[:GRID_SIZE], "spectrum": failures.spectrum(samples)})


def mixture_metrics(samples: np.ndarray, dataset: str) -> dict:
    """Mode coverage of the finite samples; non-finite ones (a diverged generator) count as low quality."""
    means, std = mixture_spec(dataset)
    finite = np.isfinite(samples).all(axis=1)
    if not finite.any():
        return {KEY_MODES: 0.0, KEY_HIGH_QUALITY: 0.0, KEY_MODE_KL: np.nan, KEY_NON_FINITE_FRAC: 1.0,
                KEY_CONVERGED: 0.0}
    cov = failures.mode_coverage(samples[finite], means, std)
    hq = cov["high_quality"] * finite.mean()
    return {KEY_MODES: float(cov["modes"]), KEY_HIGH_QUALITY: hq, KEY_MODE_KL: cov["mode_kl"],
            KEY_NON_FINITE_FRAC: float(1 - finite.mean()), KEY_CONVERGED: float(hq >= CONVERGENCE_FLOOR)}


def target_metrics(checkpoints: np.ndarray | None, steps: list[int], steps_done: int, flops_per_step: float,
                   dataset: str) -> dict:
    """When a run first reached its target at a checkpoint (samples (C, n, 2) at `steps`, every
    `steps[0]` steps): every mode captured with a high-quality share of at least CONVERGENCE_FLOOR.
    The crossing lies after the previous checkpoint, so a claim compares intervals, never the checkpoint
    alone (claims/cost_statistics.py). Checkpoints after `steps_done` (a member stopped by its failure
    monitor while the ensemble trained on) do not count. Never reached: `target_step` is the last
    checkpoint looked at and `reached_target` 0 (censored)."""
    kept = [(s, c) for s, c in zip(steps, checkpoints if checkpoints is not None else []) if s <= steps_done]
    if not kept:
        return {}
    n_modes = len(mixture_spec(dataset)[0])
    base = {KEY_CHECKPOINT_EVERY: float(steps[0]), KEY_FLOPS_PER_STEP: float(flops_per_step)}
    for step, samples in kept:
        m = mixture_metrics(samples, dataset)
        if m[KEY_MODES] >= n_modes and m[KEY_HIGH_QUALITY] >= CONVERGENCE_FLOOR:
            return base | {KEY_TARGET_STEP: float(step), KEY_REACHED_TARGET: 1.0,
                           KEY_FLOPS_TO_TARGET: float(flops_per_step * step)}
    return base | {KEY_TARGET_STEP: float(kept[-1][0]), KEY_REACHED_TARGET: 0.0}


def true_mixture_check(dataset: str, n: int) -> tuple[dict, np.ndarray]:
    """Mode coverage of n true samples of the mixture (the metric's sanity check), and the samples."""
    means, std = mixture_spec(dataset)
    true = sample_mixture(dataset, n, np.random.default_rng(TRUE_MIXTURE_SEED))
    return failures.mode_coverage(true, means, std), true


def mixture_eval_unit(runs: dict[str, dict], datasets: list[str], n_true: int) -> tuple[dict, dict]:
    """Every mixture run's mode metrics, in one unit: for each run (by run id: its `dataset`, `samples`,
    `extras`, `checkpoint_steps`, `steps` and `flops_per_step`), those of its samples, when it first
    reached its target (`target_metrics`) and, for a flow run, those of its samples at each NFE; and the
    metric's check on `n_true` true samples of each mixture in `datasets`, with those samples.

    The result is returned in its cache form (non-finite numbers as None, cache.py), so that a build that
    computes it and one that reads it back see the same values."""
    out: dict[str, dict] = {}
    for rid, run in runs.items():
        dataset, extras = run["dataset"], run["extras"]
        metrics = mixture_metrics(run["samples"], dataset)
        metrics |= target_metrics(extras.get(CHECKPOINT_SAMPLES), run["checkpoint_steps"], run["steps"],
                                  run["flops_per_step"], dataset)
        out[rid] = {"metrics": metrics, "nfe": [{"nfe": k, **mixture_metrics(a, dataset)}
                                                 for k, a in nfe_arrays(extras).items()]}
    checks, true_samples = {}, {}
    for name in datasets:
        checks[name], true_samples[f"real-{name}__samples"] = true_mixture_check(name, n_true)
    return json.loads(dumps_json({"runs": out, "mixtures": checks})), true_samples
