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


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95,
            support: tuple[float, float] | None = None) -> dict:
    """Mean with a Student-t interval (seeds are few, so t rather than normal).

    n = 1 has no spread estimate: lo, hi and sd are None rather than a fake zero-width interval.
    Identical values give a zero-width interval at the mean. `support` is the range a bounded quantity
    lives in (a share in [0, 1], modes in [0, 8]): the interval is clipped to it, which keeps its coverage
    (the true mean lies in the range, so an interval that covered it still does) and never shows a
    bound no run could have.
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
        if support is not None:
            lo, hi = max(lo, support[0]), min(hi, support[1])
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


CV_METHODS = ("mckay", "vangel")


def cv_bounds(k: Any, n: int, level: float = 0.95, method: str = "vangel") -> tuple[np.ndarray, np.ndarray]:
    """Vectorised McKay / Vangel bounds for sample CVs `k` (array or scalar) at one sample size `n`.

    The formulas are those of `cv_interval` (see there). Returns (lo, hi) as float arrays shaped like `k`;
    hi is +inf where the upper bound does not exist (term under the root <= 0), lo is NaN where the
    lower bound does not exist (only possible for McKay at confidence levels far below 95 %).
    """
    _check_level(level)
    method = method.lower()
    if method not in CV_METHODS:
        raise ValueError(f"cv_bounds: method must be one of {CV_METHODS}, got {method!r}")
    if n < 2:
        raise ValueError(f"cv_bounds: need n >= 2, got {n}")
    nu = n - 1
    alpha = 1.0 - level
    u1 = float(stats.chi2.ppf(1.0 - alpha / 2, nu))      # upper quantile -> lower bound of the CV
    u2 = float(stats.chi2.ppf(alpha / 2, nu))            # lower quantile -> upper bound of the CV
    shift = 2.0 if method == "vangel" else 0.0
    k2 = np.square(np.asarray(k, dtype=np.float64))

    def bound(u: float) -> np.ndarray:
        den = ((u + shift) / n - 1.0) * k2 + u / nu
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, np.sqrt(k2) / np.sqrt(np.where(den > 0, den, 1.0)), np.nan)

    lo, hi = bound(u1), bound(u2)
    hi = np.where(np.isnan(hi), np.inf, hi)
    return lo, hi


def cv_interval(values: Sequence[float] | np.ndarray, level: float = 0.95, method: str = "vangel") -> dict:
    """Coefficient of variation CV = s / mean (s with ddof=1) with a chi-square interval for normal data.

    With k the sample CV, nu = n - 1 and u the chi-square(nu) quantile:

    * McKay (1932): (1 + 1/CV^2) * nu k^2 / (1 + nu k^2 / n) is approximately chi-square(nu), which gives
      CV bound = k / sqrt((u / n - 1) k^2 + u / nu)
      (McKay, A. T. (1932), "Distribution of the coefficient of variation and the extended 't'
      distribution", J. R. Stat. Soc. 95(4):695-698; written here for s with divisor n - 1.)
    * Vangel (1996) modified McKay: CV bound = k / sqrt(((u + 2) / n - 1) k^2 + u / nu),
      closer to the exact (noncentral-t) interval than McKay's (Vangel, M. G. (1996), "Confidence
      intervals for a normal coefficient of variation", The American Statistician 50(1):21-26).

    The lower bound uses u = chi2.ppf(1 - alpha/2, nu), the upper u = chi2.ppf(alpha/2, nu). For a large
    k at small n the term under the upper root is <= 0: the data do not bound the CV from above at this
    level, so hi = inf and `upper_unbounded` is True (never a made-up number). Both are approximations
    for normal data with a small CV (they are accurate for CV below about 1/3).

    Raises ValueError for n < 2, a mean <= 0 (the CV of a positive metric is meant here), all values equal
    (sample CV 0: the interval would have zero width) or, for McKay at very low levels, no lower bound.
    """
    _check_level(level)
    method = method.lower()
    if method not in CV_METHODS:
        raise ValueError(f"cv_interval: method must be one of {CV_METHODS}, got {method!r}")
    arr = _finite_1d(values, "cv_interval")
    n = int(arr.size)
    if n < 2:
        raise ValueError(f"cv_interval: need at least 2 values, got {n}")
    mean = float(arr.mean())
    if mean <= 0.0:
        raise ValueError(f"cv_interval: mean must be > 0 for a coefficient of variation, got {mean:g}")
    sd = float(arr.std(ddof=1))
    if sd == 0.0:
        raise ValueError(f"cv_interval: all {n} values are equal (sample CV 0), no interval of non-zero width")
    k = sd / mean
    lo, hi = (float(b) for b in cv_bounds(k, n, level, method))
    if math.isnan(lo):
        raise ValueError(f"cv_interval: the {method} lower bound does not exist for CV {k:.3g} at n={n}, "
                         f"level {level}")
    unbounded = math.isinf(hi)
    return {KEY_ESTIMATE: k, KEY_LO: lo, KEY_HI: hi, "method": method, KEY_N: n, KEY_LEVEL: level,
            KEY_MEAN: mean, KEY_SD: sd, "upper_unbounded": unbounded}
