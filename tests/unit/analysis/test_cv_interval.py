"""Coefficient-of-variation intervals (McKay 1932, Vangel 1996): formulas, exact references, coverage.

References used: the exact interval for normal data (sqrt(n)/k is noncentral t with n - 1 df and
noncentrality sqrt(n)/CV, inverted with brentq), the small-CV limit (the chi-square interval for sigma
divided by the mean), McKay's pivot evaluated at the bounds, and a published numerical example. Coverage
is simulated from normal samples with a fixed seed, vectorised over replications.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats as sps

from bubblelens.analysis.stats import bootstrap_ci, cv_bounds, cv_interval

NS = (5, 8, 10, 16)
CVS = (0.05, 0.1, 0.2)
REPS = 20000         # per (n, CV) cell: SE of a 95 % coverage is 0.15 points, the 93-97 band is +-13 SE


def exact_cv_interval(k: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact interval for a normal CV: invert T = sqrt(n)/k ~ nct(n - 1, sqrt(n)/CV) in the noncentrality.

    P(T <= t_obs) falls as the noncentrality d grows; the upper d (lower CV) solves cdf = alpha/2, the lower
    d (upper CV) solves cdf = 1 - alpha/2, and when even d -> 0 leaves cdf < 1 - alpha/2 the CV has no upper
    bound (inf).
    """
    alpha, t, df = 1.0 - level, math.sqrt(n) / k, n - 1

    def f(d: float, q: float) -> float:
        return float(sps.nct.cdf(t, df, d)) - q

    d_hi = optimize.brentq(f, 1e-9, 10 * t + 50, args=(alpha / 2,), xtol=1e-13)
    if f(1e-9, 1 - alpha / 2) <= 0:
        return math.sqrt(n) / d_hi, math.inf
    d_lo = optimize.brentq(f, 1e-9, d_hi, args=(1 - alpha / 2,), xtol=1e-13)
    return math.sqrt(n) / d_hi, math.sqrt(n) / d_lo


# ------------------------------------------------------------------------------- formulas and references
# Relative tolerances from the measured gaps (largest at n=5, CV=0.2: Vangel upper +0.6 %, McKay +9.7 %).
@pytest.mark.parametrize("n, k", [(5, 0.05), (5, 0.1), (5, 0.2), (8, 0.1), (10, 0.1), (10, 0.2), (16, 0.05),
                                  (16, 0.2), (40, 0.2)])
def test_bounds_match_exact_noncentral_t(n, k):
    e_lo, e_hi = exact_cv_interval(k, n)
    v_lo, v_hi = (float(b) for b in cv_bounds(k, n, method="vangel"))
    m_lo, m_hi = (float(b) for b in cv_bounds(k, n, method="mckay"))
    assert v_lo == pytest.approx(e_lo, rel=1e-3) and v_hi == pytest.approx(e_hi, rel=1e-2)
    assert m_lo == pytest.approx(e_lo, rel=5e-3) and m_hi == pytest.approx(e_hi, rel=0.1)
    assert abs(v_hi - e_hi) <= abs(m_hi - e_hi) and abs(v_lo - e_lo) <= abs(m_lo - e_lo)   # Vangel closer
    assert m_hi >= v_hi >= e_hi                 # both approximations err on the wide side above


def test_unbounded_upper_agrees_with_exact():
    # n = 3, CV 0.5: neither the exact interval nor Vangel's has an upper bound at 95 %
    e_lo, e_hi = exact_cv_interval(0.5, 3)
    r = cv_interval([1.0, 2.0, 3.0])            # mean 2, sd 1: CV 0.5
    assert r["estimate"] == pytest.approx(0.5)
    assert math.isinf(e_hi) and math.isinf(r["hi"]) and r["upper_unbounded"] is True
    assert r["lo"] == pytest.approx(e_lo, rel=2e-3)
    assert cv_interval([1.0, 1.1, 0.9])["upper_unbounded"] is False


def test_small_cv_limit_is_chi_square_interval_for_sigma():
    n, k = 10, 1e-5
    lo, hi = (float(b) for b in cv_bounds(k, n, method="vangel"))
    assert lo == pytest.approx(k * math.sqrt((n - 1) / sps.chi2.ppf(0.975, n - 1)), rel=1e-8)
    assert hi == pytest.approx(k * math.sqrt((n - 1) / sps.chi2.ppf(0.025, n - 1)), rel=1e-8)


def test_mckay_bounds_solve_mckays_pivot():
    # K = (1 + 1/CV^2) nu k^2 / (1 + nu k^2 / n) is ~ chi-square(nu); the bounds are where K hits its quantiles
    n, k, nu = 8, 0.15, 7
    lo, hi = (float(b) for b in cv_bounds(k, n, method="mckay"))
    pivot = lambda cv: (1 + 1 / cv ** 2) * nu * k ** 2 / (1 + nu * k ** 2 / n)   # noqa: E731
    assert pivot(lo) == pytest.approx(sps.chi2.ppf(0.975, nu), rel=1e-12)
    assert pivot(hi) == pytest.approx(sps.chi2.ppf(0.025, nu), rel=1e-12)


def test_published_example():
    # statpsych::ci.cv(.05, 24.5, 3.65, 40) prints LL 0.1214381, UL 0.1926778 (Bonett's approximate
    # method, not the same formula): Vangel and it agree to 0.1 %; the exact interval is [0.121587, 0.192543].
    lo, hi = (float(b) for b in cv_bounds(3.65 / 24.5, 40))
    assert lo == pytest.approx(0.1214381, rel=2e-3) and hi == pytest.approx(0.1926778, rel=2e-3)
    assert (lo, hi) == pytest.approx(exact_cv_interval(3.65 / 24.5, 40), rel=2e-4)


def test_cv_interval_agrees_with_vectorised_bounds():
    x = np.array([326.0, 302.0, 307.0, 299.0, 329.0])
    k = x.std(ddof=1) / x.mean()
    for method in ("vangel", "mckay"):
        r = cv_interval(x, level=0.9, method=method)
        lo, hi = cv_bounds(k, 5, 0.9, method)
        assert (r["lo"], r["hi"]) == pytest.approx((float(lo), float(hi)), rel=1e-14)
        assert r["method"] == method and r["n"] == 5 and r["estimate"] == pytest.approx(k)
        assert r["lo"] < k < r["hi"]


@pytest.mark.parametrize("values, match", [
    ([3.0], "at least 2"), ([-1.0, -2.0, 0.5], "mean must be > 0"), ([0.0, 0.0], "mean must be > 0"),
    ([2.0, 2.0, 2.0], "all 3 values are equal")])
def test_cv_interval_rejects_undefined_cases(values, match):
    with pytest.raises(ValueError, match=match):
        cv_interval(values)


def test_cv_interval_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        cv_interval([1.0, 2.0], method="percentile")


# ------------------------------------------------------------------------------------------ coverage
def _coverage(method: str, n: int, cv: float, rng: np.random.Generator) -> float:
    x = rng.normal(1.0, cv, size=(REPS, n))
    k = x.std(axis=1, ddof=1) / x.mean(axis=1)
    lo, hi = cv_bounds(k, n, 0.95, method)
    return float(np.mean((lo <= cv) & (cv <= hi)))


@pytest.mark.parametrize("method", ["vangel", "mckay"])
def test_coverage_of_95_percent_interval_is_right_for_normal_data(method):
    rng = np.random.default_rng(20261201)
    cover = {(n, cv): _coverage(method, n, cv, rng) for n in NS for cv in CVS}
    bad = {key: c for key, c in cover.items() if not 0.93 <= c <= 0.97}
    assert not bad, f"{method} coverage outside 93-97 %: {bad}"


def test_percentile_bootstrap_undercovers_at_five_seeds():
    # the rule it replaces: a percentile bootstrap over 5 seeds (200 resamples here to keep it fast; the
    # percentile interval's coverage hardly depends on the number of resamples)
    rng = np.random.default_rng(5)
    cv_of = lambda a, axis=-1: np.std(a, axis=axis, ddof=1) / np.mean(a, axis=axis)   # noqa: E731
    for cv in CVS:
        x = rng.normal(1.0, cv, size=(600, 5))
        hits = 0
        for i, row in enumerate(x):
            r = bootstrap_ci(row, cv_of, reps=200, seed=i, method="percentile")
            hits += r["lo"] <= cv <= r["hi"]
        assert hits / len(x) < 0.85, f"CV {cv}: bootstrap coverage {hits / len(x):.3f}"
