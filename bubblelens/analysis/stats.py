"""Confidence intervals for the numbers a report prints: t intervals, bootstrap, exact binomial.

Thin wrappers over scipy.stats so every interval in a report is computed one documented way and comes back
as a plain dict (JSON-ready, floats or None) that charts and the claims registry can read by key.
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

log = logging.getLogger(__name__)

KEY_MEAN = "mean"
KEY_LO = "lo"
KEY_HI = "hi"
KEY_N = "n"
KEY_SD = "sd"
KEY_ESTIMATE = "estimate"
KEY_LEVEL = "level"


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")


def _finite_1d(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what}: no values")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: contains NaN or infinite values")
    return arr


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> dict:
    """Mean with a Student-t interval (seeds are few, so t rather than normal).

    n = 1 has no spread estimate: lo, hi and sd are None rather than a fake zero-width interval.
    Identical values give a zero-width interval at the mean.
    """
    _check_level(level)
    arr = _finite_1d(values, "mean_ci")
    n = int(arr.size)
    mean = float(arr.mean())
    if n == 1:
        return {KEY_MEAN: mean, KEY_LO: None, KEY_HI: None, KEY_N: 1, KEY_SD: None, KEY_LEVEL: level}
    sd = float(arr.std(ddof=1))
    if sd == 0.0:
        lo = hi = mean
    else:
        lo, hi = stats.t.interval(level, df=n - 1, loc=mean, scale=sd / math.sqrt(n))
    return {KEY_MEAN: mean, KEY_LO: float(lo), KEY_HI: float(hi), KEY_N: n, KEY_SD: sd, KEY_LEVEL: level}


def bootstrap_ci(
    values_or_pairs: Sequence[float] | np.ndarray | tuple[np.ndarray, ...],
    statistic: Callable[..., float],
    reps: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    method: str = "BCa",
) -> dict:
    """Bootstrap interval of `statistic` via scipy.stats.bootstrap.

    `values_or_pairs` is one 1-D sample, or a tuple of equal-length samples resampled together (paired,
    e.g. (metric_model_a, metric_model_b) per seed); `statistic` then takes that many arrays. It must accept
    an `axis` keyword (numpy reductions do) — scipy vectorises over resamples with it.
    BCa is undefined for a constant sample (scipy returns NaN); we then fall back to the percentile
    interval, which is the honest zero-width answer, and say so in `method`.
    """
    _check_level(level)
    if reps < 1:
        raise ValueError(f"bootstrap_ci: reps must be >= 1, got {reps}")
    if isinstance(values_or_pairs, tuple):
        data = tuple(_finite_1d(v, "bootstrap_ci") for v in values_or_pairs)
        if len({len(d) for d in data}) != 1:
            raise ValueError(f"bootstrap_ci: paired samples differ in length: {[len(d) for d in data]}")
        paired = True
    else:
        data = (_finite_1d(values_or_pairs, "bootstrap_ci"),)
        paired = False
    estimate = float(statistic(*data, axis=-1))
    if len(data[0]) < 2:
        return {KEY_ESTIMATE: estimate, KEY_LO: None, KEY_HI: None, KEY_N: 1, KEY_LEVEL: level,
                "reps": reps, "method": method}
    used = method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on degenerate BCa; handled below
        res = stats.bootstrap(data, statistic, n_resamples=reps, confidence_level=level, method=method,
                              paired=paired, vectorized=True, rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isfinite(lo) and math.isfinite(hi)) and method.lower() != "percentile":
            used = "percentile"
            res = stats.bootstrap(data, statistic, n_resamples=reps, confidence_level=level,
                                  method="percentile", paired=paired, vectorized=True,
                                  rng=np.random.default_rng(seed))
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {KEY_ESTIMATE: estimate, KEY_LO: lo, KEY_HI: hi, KEY_N: int(len(data[0])), KEY_LEVEL: level,
            "reps": reps, "method": used}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> dict:
    """Exact (Clopper-Pearson) interval for a binomial proportion k/n, e.g. modes captured or runs collapsed."""
    _check_level(level)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"clopper_pearson: need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return {KEY_ESTIMATE: k / n, KEY_LO: float(ci.low), KEY_HI: float(ci.high), "k": int(k), KEY_N: int(n),
            KEY_LEVEL: level}
