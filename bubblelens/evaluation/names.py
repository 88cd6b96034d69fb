"""Result names: the keys under which evaluation reports each metric, and which claims, tables and the
results files read. One list, so a renamed metric cannot leave a reader behind (torch-fidelity's KEY_*).
"""
from __future__ import annotations

GRID_SIZE = 64              # images kept per run for the report's sample grids

# Sample quality in feature space (evaluation/quality.py).
KEY_FID = "fid"
KEY_FID_BATCH_STATS = "fid_batch_stats"   # DCGAN samples drawn with BatchNorm batch statistics (not scored)
KEY_KID_MEAN = "kid_mean"
KEY_KID_STD = "kid_std"
KEY_PRECISION = "precision"
KEY_RECALL = "recall"
KEY_DENSITY = "density"
KEY_COVERAGE = "coverage"

# Failure modes (evaluation/failures.py).
KEY_MODES = "modes"
KEY_HIGH_QUALITY = "high_quality"
KEY_MODE_KL = "mode_kl"
KEY_NON_FINITE_FRAC = "non_finite_frac"
KEY_CONVERGED = "converged"               # 1.0 when a mixture run's high-quality share reaches the floor
# Declared before the runs were trained (issue 10): a mixture run that puts fewer than half its samples
# within 3 standard deviations of a mode has not learned the mixture. Its missing modes are a failure to
# converge, its own failure mode, never counted as mode dropping.
CONVERGENCE_FLOOR = 0.5
# Training compute to target (mixture runs, checkpoint samples every eval_every steps): target_step is the
# first checkpoint with every mode captured and a high-quality share of at least CONVERGENCE_FLOOR (the
# crossing lies after the checkpoint before it); flops_to_target = target_step x flops_per_step. A run
# that never gets there is censored: reached_target = 0, target_step = the last checkpoint looked at.
KEY_TARGET_STEP = "target_step"
KEY_REACHED_TARGET = "reached_target"
KEY_FLOPS_TO_TARGET = "flops_to_target"
KEY_CHECKPOINT_EVERY = "checkpoint_every"
KEY_FLOPS_PER_STEP = "flops_per_step"
KEY_CLASSES_COVERED = "classes_covered"
KEY_CLASS_KL = "class_kl"
# The least-generated class's share of the samples, relative to a fair 1/10 share (1 = balanced, 0 = a
# class never made). Argmax labels over 5,000 samples almost always hit all 10 classes, so
# `classes_covered` can hardly fail; a class generated at under half its share can.
KEY_MIN_CLASS_SHARE = "min_class_share"
# The same share for held-out real images: the classifier's own imbalance, the calibration of the above.
KEY_MIN_CLASS_SHARE_REAL = "min_class_share_real"
KEY_MIN_CLASS_SHARE_LABELS = "min_class_share_labels"   # of the same images' true labels
KEY_LAPLACIAN_RATIO = "laplacian_ratio"
KEY_HF_RATIO = "hf_ratio"
KEY_ACTIVE_UNITS = "active_units"
KEY_MEMORISATION_RATIO = "memorisation_ratio"

# Per-run bookkeeping the evidence table adds beside the metrics (pipeline state: Evaluated.runs_long).
KEY_FLOPS_TOTAL = "flops_total"
KEY_WALL_S = "wall_s"
KEY_N_FAILURE_EVENTS = "n_failure_events"
KEY_DIVERGED = "diverged"

QUALITY_METRICS = (KEY_FID, KEY_KID_MEAN, KEY_PRECISION, KEY_RECALL, KEY_DENSITY, KEY_COVERAGE)
FAILURE_METRICS = (KEY_CLASSES_COVERED, KEY_CLASS_KL, KEY_MIN_CLASS_SHARE, KEY_LAPLACIAN_RATIO, KEY_HF_RATIO, KEY_MEMORISATION_RATIO,
                   KEY_ACTIVE_UNITS, KEY_MODES, KEY_HIGH_QUALITY, KEY_MODE_KL, KEY_CONVERGED, KEY_FID_BATCH_STATS,
                   KEY_TARGET_STEP, KEY_REACHED_TARGET, KEY_FLOPS_TO_TARGET, KEY_CHECKPOINT_EVERY, KEY_FLOPS_PER_STEP)
RUN_METRICS = (KEY_FLOPS_TOTAL, KEY_WALL_S, KEY_N_FAILURE_EVENTS, KEY_DIVERGED)
# Every metric a claim may name in data/claims.toml.
KNOWN_METRICS = QUALITY_METRICS + FAILURE_METRICS + RUN_METRICS
