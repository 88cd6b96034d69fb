"""bubblelens.analysis.explosive_bootstrap: BSADF at chosen ends, the sieve wild bootstrap, BIC lags, and the
size of the window test under the nulls that break the Gaussian lag-0 test.

References: `timeseries.radf` (itself checked against exuber and per-window lstsq) for the statistics; a
plain Python loop of the AR recursion for the bootstrap; statsmodels' adfuller for the lag. The size check
uses the "warp-speed" Monte Carlo of Giacomini, Politis & White (2013, Econometric Theory 29): one
bootstrap replicate per simulated series, the critical value taken from the pooled bootstrap statistics.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.stattools import adfuller

from bubblelens.analysis import explosive_bootstrap as eb
from bubblelens.analysis.critical_values import critical_values
from bubblelens.analysis.explosive_bootstrap import (WindowTest, bsadf_at_ends, select_lag, sieve_wild_bootstrap,
                                                     window_test)
from bubblelens.analysis.timeseries import default_min_window, radf

DATA = Path(__file__).resolve().parents[2] / "data"


def _ar_unit_root(m: int, n: int, phi: tuple[float, ...], seed: int, sd_end: float = 1.0) -> np.ndarray:
    """(m, n) levels 50 + cumsum(u), u_t = sum_j phi_j u_{t-j} + s_t e_t, s_t rising linearly 1 -> sd_end."""
    rng = np.random.default_rng(seed)
    burn = 50
    e = rng.standard_normal((m, n + burn)) * np.r_[np.ones(burn), np.linspace(1.0, sd_end, n)]
    u = np.zeros_like(e)
    for t in range(len(phi), n + burn):
        u[:, t] = sum(p * u[:, t - 1 - j] for j, p in enumerate(phi)) + e[:, t]
    return 50.0 + np.cumsum(u[:, burn:], axis=1)


def _explosive(y: np.ndarray, length: int, growth: float, jump: float, sd: float, seed: int) -> np.ndarray:
    """y with its last `length` observations replaced by an explosive run (PSY's DGP around a shifted level):
    the deviation from y[-length-1] - jump starts at `jump` and follows d_t = growth d_{t-1} + sd e_t."""
    rng = np.random.default_rng(seed)
    out = np.array(y, dtype=np.float64)
    base, dev = out[-length - 1] - jump, jump
    for t in range(out.size - length, out.size):
        dev = growth * dev + sd * rng.standard_normal()
        out[t] = base + dev
    return out


def _series(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random_walk":
        return np.cumsum(rng.standard_normal(n))
    if kind == "explosive":                                   # 60 periods growing 2 % a period
        return _explosive(50.0 + np.cumsum(rng.standard_normal(n)), 60, 1.02, 50.0, 1.0, seed)
    return 50.0 + np.cumsum(rng.standard_normal(n))          # S&P-ratio-like: level ~50, changes ~1


# --------------------------------------------------------------------------------------- BSADF at ends
@pytest.mark.parametrize("lag", [0, 1, 3])
@pytest.mark.parametrize("kind", ["random_walk", "explosive", "ratio_like"])
def test_bsadf_at_ends_equals_radf(kind, lag):
    n = 260
    y = _series(kind, n, seed=10 + lag)
    minw = default_min_window(n)
    ref = radf(y, minw, lag)
    first = n - 40
    got = bsadf_at_ends(y, minw, lag, first, n)
    assert got.shape == (41,)
    np.testing.assert_allclose(got, ref.bsadf[ref.obs >= first], rtol=1e-9, atol=0)


@pytest.mark.parametrize("lag", [0, 2])
def test_bsadf_at_ends_every_end_across_blocks(lag):
    """All ends from the first admissible one: several blocks of min_window ends, each with its own shift."""
    y = _series("explosive", 120, seed=3)
    minw = 9
    ref = radf(y, minw, lag)
    got = bsadf_at_ends(y, minw, lag, int(ref.obs[0]), 120)
    np.testing.assert_allclose(got, ref.bsadf, rtol=1e-9, atol=0)


def test_bsadf_at_ends_on_sp500_pd_ratio_and_far_from_zero():
    """The PSY (2015) price/dividend ratio through the dot-com peak (levels 20-90), and a series at 1e6."""
    sp = pd.read_csv(DATA / "psy2015_sp500_pd.csv")
    y = sp.loc[sp.in_psy2015_sample == 1, "pd_ratio"].to_numpy()[1250:1560]     # 1975-03 .. 2000-12
    for series in (y, 1e6 + y):
        for lag in (0, 1):
            ref = radf(series, None, lag)
            got = bsadf_at_ends(series, ref.min_window, lag, 200, 310)
            np.testing.assert_allclose(got, ref.bsadf[ref.obs >= 200], rtol=1e-9, atol=0)


def test_bsadf_at_ends_on_a_batch():
    y = _ar_unit_root(5, 200, (0.5,), seed=4, sd_end=3.0)    # (5, 200)
    minw = default_min_window(200)
    got = bsadf_at_ends(y, minw, 1, 170, 200)
    assert got.shape == (5, 31)
    for r in range(5):
        ref = radf(y[r], minw, 1)
        np.testing.assert_allclose(got[r], ref.bsadf[ref.obs >= 170], rtol=1e-9, atol=0)


def test_bsadf_at_ends_across_kernel_batches_at_a_long_lag():
    """More replicates than one kernel call takes (eb.BATCH), at lag 6 (the S&P 500 P/E's BIC lag): every
    replicate equals its own radf, whichever batch and column it ran in."""
    reps = eb.BATCH + 3
    y = _ar_unit_root(reps, 150, (0.4, 0.2), seed=7, sd_end=2.0)
    minw = default_min_window(150)
    got = bsadf_at_ends(y, minw, 6, 130, 150)
    for r in (0, eb.BATCH - 1, eb.BATCH, reps - 1):
        ref = radf(y[r], minw, 6)
        np.testing.assert_allclose(got[r], ref.bsadf[ref.obs >= 130], rtol=1e-9, atol=0)


@pytest.mark.parametrize("flat", ["start", "end"])
def test_bsadf_at_ends_is_nan_where_radf_is(flat):
    """A flat stretch leaves windows with no variation: 0/0, NaN in radf (NumPy), and NaN here, not an
    error and not a value taken from the other windows. At the start, every window of the first ends is
    flat; at the end, the short windows are flat and the long ones not (the sup is NaN, as np.max's)."""
    walk = np.cumsum(np.random.default_rng(0).standard_normal(60))
    y = np.r_[np.full(40, 5.0), walk] if flat == "start" else np.r_[walk, np.full(40, walk[-1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = radf(y, 20, 0)
    got = bsadf_at_ends(y, 20, 0, int(ref.obs[0]), 100)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref.bsadf))
    assert np.isnan(got).any() and not np.isnan(got).all()
    np.testing.assert_allclose(got[~np.isnan(got)], ref.bsadf[~np.isnan(got)], rtol=1e-9, atol=0)


def test_bsadf_at_ends_before_the_last_observation_and_from_a_read_only_array():
    """Ends that stop short of the series (later observations must not enter), from a read-only array (as
    pandas hands out under copy-on-write): radf's values on the series cut at the last end, and one
    compiled specialisation of the kernel whatever array came in (each costs a compilation)."""
    from bubblelens.analysis.bsadf_kernel import bsadf_columns

    y = _series("explosive", 200, seed=8)
    y.flags.writeable = False
    minw = default_min_window(150)
    got = bsadf_at_ends(y, minw, 1, 120, 150)
    ref = radf(y[:150], minw, 1)
    np.testing.assert_allclose(got, ref.bsadf[ref.obs >= 120], rtol=1e-9, atol=0)
    bsadf_at_ends(np.asfortranarray(np.vstack([y, y])), minw, 1, 120, 150)
    assert len(bsadf_columns.signatures) == 1


def test_the_kernel_compiles_where_numba_cannot_cache(monkeypatch):
    """numba raises RuntimeError as it decorates when no cache location is writable: the kernel is then
    compiled without a cache (in each process) and gives the same values."""
    import importlib

    import numba

    from bubblelens.analysis import bsadf_kernel

    real = numba.njit

    def no_cache_location(*args, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function 'bsadf_columns': no locator available for file")
        return real(*args, cache=cache, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache_location)
    try:
        fresh = importlib.reload(bsadf_kernel)
        y = _series("ratio_like", 120, seed=5)
        ref = radf(y, 20, 1)
        ends = np.arange(100, 121) - 1 - 2
        got = fresh.bsadf_columns(np.array(y[:, None]), 20, 1, ends)[:, 0]
        np.testing.assert_allclose(got, ref.bsadf[ref.obs >= 100], rtol=1e-9, atol=0)
    finally:
        monkeypatch.undo()
        importlib.reload(bsadf_kernel)


def test_bsadf_at_ends_rejects_bad_windows():
    y = np.cumsum(np.random.default_rng(0).standard_normal(100))
    minw = default_min_window(100)
    with pytest.raises(ValueError):
        bsadf_at_ends(y, minw, 1, minw + 1, 100)              # first end before the smallest window
    with pytest.raises(ValueError):
        bsadf_at_ends(y, minw, 0, 90, 101)                    # past the last observation
    with pytest.raises(ValueError):
        bsadf_at_ends(y, 3, 1, 50, 60)                        # no residual degrees of freedom


# ---------------------------------------------------------------------------------------- bootstrap
def _null_fit(y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    dy = np.diff(y)
    z = np.column_stack([np.ones(dy.size - lag)] + [dy[lag - j: dy.size - j] for j in range(1, lag + 1)])
    beta = np.linalg.lstsq(z, dy[lag:], rcond=None)[0]
    return beta, dy[lag:] - z @ beta


def test_lag0_rademacher_bootstrap_keeps_each_residual_size():
    """|Δy*_t - â| = |ê_t| (with the drift) and |Δy*_t| = |ê_t| (default, no drift), to rounding on levels ~50."""
    y = _ar_unit_root(1, 300, (), seed=5, sd_end=3.0)[0]
    (a,), resid = _null_fit(y, 0)
    for drift, shift in ((True, a), (False, 0.0)):
        boot = sieve_wild_bootstrap(y, 0, 50, seed=1, drift=drift)
        assert boot.shape == (50, 300) and np.all(boot[:, 0] == y[0])
        np.testing.assert_allclose(np.abs(np.diff(boot, axis=1) - shift), np.broadcast_to(np.abs(resid), (50, 299)),
                                   rtol=0, atol=1e-10)
    signs = np.sign(np.diff(sieve_wild_bootstrap(y, 0, 400, seed=2), axis=1) * resid)
    assert abs(signs.mean()) < 0.01                            # weights are ±1 with probability 1/2


@pytest.mark.parametrize("rng_kind", ["rademacher", "normal"])
def test_sieve_bootstrap_follows_the_fitted_recursion(rng_kind):
    """Δy*_t - sum φ̂_j Δy*_{t-j} = w_t ê_t from the observed first differences (a plain loop as reference)."""
    y = _ar_unit_root(1, 200, (0.5, -0.2), seed=6)[0]
    lag = 2
    beta, resid = _null_fit(y, lag)
    boot = sieve_wild_bootstrap(y, lag, 7, seed=9, rng_kind=rng_kind)
    dyb = np.diff(boot, axis=1)                               # (7, 199)
    np.testing.assert_array_equal(boot[:, :lag + 1], np.broadcast_to(y[:lag + 1], (7, lag + 1)))
    shocks = dyb[:, lag:] - beta[1] * dyb[:, lag - 1:-1] - beta[2] * dyb[:, :-lag]
    w = shocks / resid
    if rng_kind == "rademacher":
        np.testing.assert_allclose(np.abs(w), 1.0, atol=1e-8)
    else:
        assert abs(w.std() - 1.0) < 0.1
    again = sieve_wild_bootstrap(y, lag, 7, seed=9, rng_kind=rng_kind)
    np.testing.assert_array_equal(boot, again)
    assert not np.array_equal(boot, sieve_wild_bootstrap(y, lag, 7, seed=10, rng_kind=rng_kind))


def test_sieve_bootstrap_rejects_bad_arguments():
    y = np.cumsum(np.random.default_rng(0).standard_normal(50))
    with pytest.raises(ValueError):
        sieve_wild_bootstrap(y, 1, 10, 0, rng_kind="mammen")
    with pytest.raises(ValueError):
        sieve_wild_bootstrap(y, -1, 10, 0)


# --------------------------------------------------------------------------------------------- lag
def test_select_lag_finds_ar2_and_matches_adfuller():
    ys = _ar_unit_root(15, 800, (0.5, -0.3), seed=8)
    picks = [select_lag(y, 6) for y in ys]
    assert sum(p == 2 for p in picks) > len(picks) / 2, picks
    for y, p in zip(ys[:3], picks):
        assert p == adfuller(y, maxlag=6, regression="c", autolag="BIC", **eb._ADF_KW)[2]
    assert select_lag(ys[0], 0) == 0


# --------------------------------------------------------------------------------------- the test
def test_window_test_is_consistent_and_deterministic():
    y = _ar_unit_root(1, 240, (0.56,), seed=11, sd_end=3.0)[0]
    res = window_test(pd.Series(y), 201, 240, reps=99, seed=4)
    assert isinstance(res, WindowTest)
    assert res.n == 240 and res.min_window == default_min_window(240) and res.lag == select_lag(y)
    ref = radf(y, res.min_window, res.lag)
    np.testing.assert_allclose(res.bsadf, ref.bsadf[ref.obs >= 201], rtol=1e-9)
    np.testing.assert_array_equal(res.obs, np.arange(201, 241))
    assert res.statistic == res.bsadf.max() and res.null.shape == (99,)
    assert res.p_value == (1 + np.sum(res.null >= res.statistic)) / 100
    assert res.cv95 == pytest.approx(np.quantile(res.null, 0.95))
    again = window_test(y, 201, 240, reps=99, seed=4)
    assert (again.statistic, again.p_value) == (res.statistic, res.p_value)
    np.testing.assert_array_equal(again.null, res.null)
    assert "sieve wild bootstrap" in res.method and window_test(y, 201, 240, lag=3, reps=9).lag == 3


def test_window_test_size_where_the_gaussian_lag0_test_fails_and_power():
    """Unit roots whose changes are AR(1) with φ = 0.56 and whose innovation sd rises linearly 1 -> 3
    (what S&P 500 valuation ratios look like), n = 300, window = the last 40 observations.

    (a) The bootstrap window test (BIC lag, max 6) rejects at 5 % close to 5 % of the time (0.043 here):
        warp-speed Monte Carlo over M = 800 series (MC standard error 0.0077); we allow [0.01, 0.10].
        Without the sieve (statistic and bootstrap at lag 0) it reads 0.47 and fails. The band is too wide
        to tell residuals kept at their dates from residuals drawn at random dates (0.084 here); that the
        dates are kept is checked exactly by `test_lag0_rademacher_bootstrap_keeps_each_residual_size`.
    (b) The lag-0 Gaussian-null window test (`critical_values(...).window_p_value`) rejects the same
        series far more often (> 0.2; about 0.6 here), so the size check can fail.
    (c) Power: series with a clear explosive episode (the last 60 observations, 3 % a period) are rejected
        by the full bootstrap (199 replicates) in at least 7 of 10 cases (9 here). Shorter or slower runs
        (e.g. 30 periods, i.e. fewer than the 34-row minimum window) are found far less often.
    """
    n, m, k = 300, 800, 40
    first, minw = n - k + 1, default_min_window(n)
    ys = _ar_unit_root(m, n, (0.56,), seed=2024, sd_end=3.0)           # (m, n)
    lags = np.array([select_lag(y) for y in ys])
    observed, boot_stat = np.empty(m), np.empty(m)
    for p in np.unique(lags):
        idx = np.flatnonzero(lags == p)
        observed[idx] = bsadf_at_ends(ys[idx], minw, p, first, n).max(axis=1)
        boot = np.concatenate([sieve_wild_bootstrap(ys[i], p, 1, seed=5000 + i) for i in idx])
        boot_stat[idx] = bsadf_at_ends(boot, minw, p, first, n).max(axis=1)
    size_boot = float(np.mean(observed > np.quantile(boot_stat, 0.95)))
    assert 0.01 <= size_boot <= 0.10, f"bootstrap window test rejects {size_boot:.3f} at 5 %"

    gauss = critical_values(n, None, 0, 499, 77)
    stat0 = bsadf_at_ends(ys, minw, 0, first, n).max(axis=1)
    tail = gauss.bsadf_tail[:, first - gauss.tail_obs[0]:].max(axis=1)
    p0 = (1 + (tail[None, :] >= stat0[:, None]).sum(axis=1)) / (len(tail) + 1)
    for i in range(3):                                        # the batch p-values are window_p_value's
        assert gauss.window_p_value(radf(ys[i], None, 0), first, n) == pytest.approx((stat0[i], p0[i]), rel=1e-9)
    size_gauss = float(np.mean(p0 <= 0.05))
    assert size_gauss > 0.2, f"Gaussian lag-0 window test rejects only {size_gauss:.3f}"
    assert size_gauss > size_boot + 0.15

    # (c) the last 60 observations explosive, 3 % a period from 20 above the base (+98 in all, shocks sd 3)
    tests = [window_test(_explosive(ys[i], 60, 1.03, 20.0, 3.0, seed=100 + i), first, n, reps=199, seed=1)
             for i in range(10)]
    rejected = sum(t.p_value <= 0.05 for t in tests)
    assert rejected >= 7, [(round(t.statistic, 2), t.p_value) for t in tests]
