"""Public face of the metrics: `from bubblelens import metrics`.

Quality metrics (FID, KID, PRDC) live in `metric_quality`, failure-mode metrics (modes, classes, blur,
posterior collapse, memorisation) in `metric_failures`; this module re-exports both under one name with
the result-name constants, so callers never depend on where a metric is implemented.
Features are (N, D) numpy arrays or torch tensors; bad input raises ValueError naming the problem.
"""
from __future__ import annotations

from .metric_failures import (
    ACTIVE_UNIT_THRESHOLD,
    HIGH_QUALITY_SIGMAS,
    KEY_ACTIVE_UNITS,
    KEY_CLASS_KL,
    KEY_CLASSES_COVERED,
    KEY_HF_RATIO,
    KEY_HIGH_QUALITY,
    KEY_LAPLACIAN_RATIO,
    KEY_MEMORISATION_RATIO,
    KEY_MODE_KL,
    KEY_MODES,
    TRUE_HIGH_QUALITY,
    active_units,
    blur_report,
    class_coverage,
    high_freq_share,
    laplacian_variance,
    memorisation,
    mode_coverage,
    spectrum,
)
from .metric_quality import (
    KEY_COVERAGE,
    KEY_DENSITY,
    KEY_FID,
    KEY_KID_MEAN,
    KEY_KID_STD,
    KEY_PRECISION,
    KEY_RECALL,
    fid,
    kid,
    prdc,
)

__all__ = [
    "ACTIVE_UNIT_THRESHOLD", "HIGH_QUALITY_SIGMAS", "TRUE_HIGH_QUALITY",
    "KEY_FID", "KEY_KID_MEAN", "KEY_KID_STD", "KEY_PRECISION", "KEY_RECALL", "KEY_DENSITY", "KEY_COVERAGE",
    "KEY_MODES", "KEY_HIGH_QUALITY", "KEY_MODE_KL", "KEY_CLASSES_COVERED", "KEY_CLASS_KL",
    "KEY_LAPLACIAN_RATIO", "KEY_HF_RATIO", "KEY_ACTIVE_UNITS", "KEY_MEMORISATION_RATIO",
    "fid", "kid", "prdc", "mode_coverage", "class_coverage", "laplacian_variance", "spectrum",
    "high_freq_share", "blur_report", "active_units", "memorisation", "quality_report",
]


def quality_report(real, fake, k: int = 5, kid_subsets: int = 100, kid_subset_size: int = 1000,
                   seed: int = 0, device=None) -> dict:
    """FID, KID and PRDC of one (real, fake) feature pair in one flat dict keyed by the KEY_* names."""
    kid_mean, kid_std = kid(real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed, device=device)
    out = {KEY_FID: fid(real, fake), KEY_KID_MEAN: kid_mean, KEY_KID_STD: kid_std}
    out.update(prdc(real, fake, k=k, device=device))
    return out
