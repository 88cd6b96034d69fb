"""Confidence-interval helpers against textbook formulas and known values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from bubblelens.analysis import stats


def test_mean_ci_matches_t_formula():
    x = [1.0, 2.0, 4.0, 7.0]
    res = stats.mean_ci(x, level=0.95)
    sd = np.std(x, ddof=1)
    half = sps.t.ppf(0.975, df=3) * sd / 2.0           # t_{0.975, 3} = 3.182
    assert res["mean"] == pytest.approx(3.5)
    assert res["sd"] == pytest.approx(sd)
    assert res["lo"] == pytest.approx(3.5 - half) and res["hi"] == pytest.approx(3.5 + half)
    assert res["n"] == 4 and half == pytest.approx(3.182446 * sd / 2, rel=1e-6)


def test_mean_ci_is_clipped_to_a_bounded_support():
    """20 ring-8 runs, 19 with all 8 modes and one with 7: the t interval's upper end passes 8; clipped to
    [0, 8] it stops there, and the lower end (inside the range) is the plain t bound."""
    x = [8.0] * 19 + [7.0]
    plain, clipped = stats.mean_ci(x), stats.mean_ci(x, support=(0.0, 8.0))
    assert plain["hi"] > 8.0 and clipped["hi"] == 8.0
    assert clipped["lo"] == plain["lo"] and clipped["mean"] == plain["mean"] == pytest.approx(7.95)


def test_mean_ci_single_and_constant():
    one = stats.mean_ci([2.5])
    assert one["mean"] == 2.5 and one["lo"] is None and one["hi"] is None and one["n"] == 1
    const = stats.mean_ci([3.0, 3.0, 3.0])
    assert const["lo"] == const["hi"] == 3.0


def test_mean_ci_bad_input():
    with pytest.raises(ValueError, match="no values"):
        stats.mean_ci([])
    with pytest.raises(ValueError, match="NaN"):
        stats.mean_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="level"):
        stats.mean_ci([1.0, 2.0], level=1.5)


def test_bootstrap_ci_covers_mean_and_is_reproducible():
    x = np.random.default_rng(0).normal(10.0, 2.0, size=200)
    a = stats.bootstrap_ci(x, np.mean, reps=999, seed=1)
    b = stats.bootstrap_ci(x, np.mean, reps=999, seed=1)
    assert a == b
    assert a["lo"] < a["estimate"] < a["hi"]
    # BCa interval of the mean is close to the t interval for a normal sample of 200
    t = stats.mean_ci(x)
    assert a["lo"] == pytest.approx(t["lo"], abs=0.1) and a["hi"] == pytest.approx(t["hi"], abs=0.1)


def test_bootstrap_ci_paired_difference():
    rng = np.random.default_rng(2)
    base = rng.normal(size=50)
    a, b = base + 1.0 + 0.1 * rng.normal(size=50), base
    res = stats.bootstrap_ci((a, b), lambda u, v, axis: np.mean(u - v, axis=axis), reps=500, seed=0)
    assert res["lo"] > 0.9 and res["hi"] < 1.1   # pairing removes the shared noise


def test_bootstrap_ci_constant_sample_falls_back_to_percentile():
    res = stats.bootstrap_ci(np.full(10, 4.0), np.mean, reps=200, seed=0)
    assert res["lo"] == res["hi"] == 4.0 and res["method"] == "percentile"


def test_clopper_pearson_known_values():
    zero = stats.clopper_pearson(0, 10)
    assert zero["lo"] == 0.0 and zero["hi"] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)  # 0.3085
    full = stats.clopper_pearson(10, 10)
    assert full["hi"] == 1.0 and full["lo"] == pytest.approx(0.025 ** (1 / 10), rel=1e-9)
    mid = stats.clopper_pearson(5, 10)
    assert mid["lo"] == pytest.approx(sps.beta.ppf(0.025, 5, 6)) and mid["hi"] == pytest.approx(sps.beta.ppf(0.975, 6, 5))
    with pytest.raises(ValueError):
        stats.clopper_pearson(11, 10)
    assert math.isclose(mid["estimate"], 0.5)
