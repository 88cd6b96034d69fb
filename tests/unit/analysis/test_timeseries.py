"""bubblelens.analysis.timeseries: growth fits, the exact recursive ADF engine, date-stamping, testability.

References: R exuber (golden cases, 1e-10), per-window np.linalg.lstsq (1e-9), closed-form OLS for
growth fits, exuber's simulated bubbles and the PSY (2015) S&P 500 application.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bubblelens.analysis.critical_values import CriticalValues, load_or_compute_critical_values
from bubblelens.analysis.timeseries import (MIN_OBS_EXPLOSIVE, RadfResult, adf_engine, check_testable, datestamp,
                                   default_min_window, episodes_frame, growth_rate, radf)

DATA = Path(__file__).resolve().parents[2] / "data"
GOLDEN = ["small_lag0", "small_lag1", "medium_lag0", "medium_lag2"]


# --------------------------------------------------------------------------------------- exuber golden
@pytest.mark.parametrize("case", GOLDEN)
def test_radf_matches_exuber_golden(case):
    base = DATA / "exuber_golden" / case
    y = pd.read_csv(f"{base}_series.csv").y.to_numpy()
    params = pd.read_csv(f"{base}_params.csv").iloc[0]
    exp = pd.read_csv(f"{base}_expected.csv")
    res = radf(y, min_window=int(params.minw), lag=int(params.lag))
    for comp in ("badf", "bsadf"):
        part = exp[exp.component == comp]
        np.testing.assert_array_equal(res.obs, part.obs_index_1based.to_numpy())
        np.testing.assert_allclose(getattr(res, comp), part.value.to_numpy(), rtol=0, atol=1e-10)
    for comp in ("adf", "sadf", "gsadf"):
        assert abs(getattr(res, comp) - exp[exp.component == comp].value.iloc[0]) < 1e-10
    assert res.n == int(params.n_obs) and res.lag == int(params.lag)


def _adf_lstsq(y: np.ndarray, lag: int, first_row: int, last_row: int) -> float:
    """Plain OLS t-ratio of y_{t-1} on regression rows [first_row, last_row] (0-based, inclusive)."""
    dy = np.diff(y)
    t_idx = np.arange(lag + 1, len(y))                    # 0-based obs of each regression row
    rows = t_idx[first_row:last_row + 1]
    z = np.column_stack([np.ones(len(rows)), y[rows - 1]] + [dy[rows - 1 - j] for j in range(1, lag + 1)])
    beta, ssr, *_ = np.linalg.lstsq(z, dy[rows - 1], rcond=None)
    s2 = ssr[0] / (len(rows) - z.shape[1])
    return beta[1] / math.sqrt(s2 * np.linalg.inv(z.T @ z)[1, 1])


@pytest.mark.parametrize("lag", [0, 1, 3])
def test_engine_equals_per_window_lstsq(lag):
    rng = np.random.default_rng(lag)
    y = np.cumsum(rng.standard_normal(45)) + 50.0           # a level far from zero on purpose
    minw = 8
    res = radf(y, min_window=minw, lag=lag)
    rows = len(y) - 1 - lag
    brute_badf = [_adf_lstsq(y, lag, 0, e) for e in range(minw - 1, rows)]
    brute_bsadf = [max(_adf_lstsq(y, lag, s, e) for s in range(0, e - minw + 2)) for e in range(minw - 1, rows)]
    np.testing.assert_allclose(res.badf, brute_badf, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.bsadf, brute_bsadf, rtol=0, atol=1e-9)


def test_engine_is_invariant_to_level_and_scale_numerically():
    """t-ratios do not depend on the level or scale of y; the engine must not lose that to rounding."""
    rng = np.random.default_rng(7)
    y = np.cumsum(rng.standard_normal((3, 300)), axis=1)    # (3, 300)
    badf, bsadf = adf_engine(y, 30, 0)
    badf2, bsadf2 = adf_engine(1e6 + 1e-3 * y, 30, 0)
    np.testing.assert_allclose(badf2, badf, atol=1e-7)
    np.testing.assert_allclose(bsadf2, bsadf, atol=1e-7)


def test_default_min_window_matches_exuber_for_every_tabulated_n():
    table = pd.read_csv(DATA / "exuber_radf_crit_mc.csv")
    assert [default_min_window(int(n)) for n in table.n] == table.minw.tolist()


def test_radf_keeps_dates_and_rejects_bad_input():
    idx = pd.date_range("2000-01-01", periods=60, freq="MS")
    y = pd.Series(np.cumsum(np.random.default_rng(0).standard_normal(60)), index=idx)
    res = radf(y, lag=1)
    assert res.min_window == default_min_window(60) == 14
    assert len(res.badf) == len(res.index) == 60 - 1 - 14
    assert res.index[0] == idx[res.min_window + res.lag]          # observation minw + lag + 1, 1-based
    assert res.obs[0] == 14 + 1 + 1 and res.obs[-1] == 60 and res.adf == res.badf[-1]
    with pytest.raises(ValueError):
        radf(np.r_[1.0, np.nan, np.ones(40)])
    with pytest.raises(ValueError):
        radf(np.arange(10.0), min_window=2)


# ----------------------------------------------------------------------------------------- datestamp
def test_datestamp_finds_exuber_simulated_bubbles():
    sim = pd.read_csv(DATA / "exuber_sim_data.csv", parse_dates=["date"]).set_index("date")
    cvs = load_or_compute_critical_values(100, reps=400, seed=11)
    min_dur = math.ceil(math.log(100))                            # PSY's log(T) rule
    truth = {"psy1": [(40, 55)], "psy2": [(20, 40), (60, 70)]}
    for col, windows in truth.items():
        res = radf(sim[col])
        assert res.gsadf > cvs.value("gsadf", 0.99)
        for method in ("psy", "exuber"):
            eps = datestamp(res, cvs.sequence_for(res, 0.95, method), min_duration=min_dur)
            assert len(eps) == len(windows), (col, method, episodes_frame(eps))
            for ep, (lo, hi) in zip(eps, windows):
                assert lo <= ep.start_obs <= lo + 6 and hi - 2 <= ep.end_obs <= hi + 2, (col, ep)
                assert ep.start == sim.index[ep.start_obs - 1] and ep.duration == ep.end_obs - ep.start_obs + 1


def test_datestamp_run_logic_and_min_duration():
    n, minw = 30, 5
    obs = np.arange(minw + 1, n + 1)                              # 25 elements
    bsadf = np.zeros(len(obs))
    bsadf[[2, 3, 4, 10, 20, 21]] = 5.0
    y = np.arange(n, dtype=float)
    res = RadfResult(0.0, 0.0, 5.0, bsadf, bsadf, minw, 0, n, pd.Index(obs), obs, y)
    ones = np.ones((len(obs), 3))
    cvs = CriticalValues(n, minw, 0, 10, 0, 0.0, np.ones(3), np.ones(3), np.ones(3), ones, ones, obs)
    eps = datestamp(res, cvs.sequence_for(res))
    assert [(e.start, e.end, e.peak, e.duration) for e in eps] == [(8, 10, 10, 3), (16, 16, 16, 1), (26, 27, 27, 2)]
    assert [e.start for e in datestamp(res, cvs.sequence_for(res), min_duration=2)] == [8, 26]
    wrong = CriticalValues(n + 1, minw, 0, 10, 0, 0.0, np.ones(3), np.ones(3), np.ones(3), ones, ones, obs)
    with pytest.raises(ValueError):
        wrong.sequence_for(res)


def test_psy2015_sp500_gsadf_significant_and_dotcom_dated():
    sp = pd.read_csv(DATA / "psy2015_sp500_pd.csv")
    sp = sp[sp.in_psy2015_sample == 1]
    y = pd.Series(sp.pd_ratio.to_numpy(), index=pd.to_datetime(sp.month))
    assert len(y) == 1680
    res = radf(y)
    cvs = load_or_compute_critical_values(1680)                   # the shipped 2,000-replication table
    assert cvs.source.startswith("shipped")
    assert res.gsadf > cvs.value("gsadf", 0.95)
    eps = datestamp(res, cvs.sequence_for(res, 0.95), min_duration=math.ceil(math.log(1680)))
    dotcom = [e for e in eps if e.start <= pd.Timestamp("2000-03-01") and e.end >= pd.Timestamp("1998-01-01")]
    assert len(dotcom) == 1 and pd.Timestamp("1995-01-01") <= dotcom[0].start <= pd.Timestamp("1998-12-01")


# ------------------------------------------------------------------------------------------- growth
def test_growth_exact_exponential_irregular_dates():
    dates = pd.to_datetime(["2019-03-01", "2019-11-17", "2021-02-02", "2023-07-30", "2024-01-05"])
    years = (dates - dates[0]).days.to_numpy() / 365.25
    fit = growth_rate(list(dates), 3.0 * 2.0 ** (years / 1.5))     # doubles every 1.5 years
    assert fit.annual_factor == pytest.approx(2 ** (1 / 1.5), rel=1e-12)
    assert fit.doubling_years == pytest.approx(1.5, rel=1e-12)
    assert fit.lo == pytest.approx(fit.hi, rel=1e-9) and fit.r2 == pytest.approx(1.0)
    assert fit.n == 5 and fit.first_date == dates[0] and fit.last_date == dates[-1]


def test_growth_interval_matches_closed_form_ols():
    rng = np.random.default_rng(3)
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 2000, 9)), unit="D")
    years = np.asarray((dates - dates[0]) / pd.Timedelta(days=1)) / 365.25
    logv = 1.0 + 0.4 * years + rng.normal(0, 0.3, 9)
    fit = growth_rate(dates, np.exp(logv), level=0.9)
    xc = years - years.mean()
    b = (xc @ (logv - logv.mean())) / (xc @ xc)
    resid = logv - logv.mean() - b * xc
    se = math.sqrt(resid @ resid / 7 / (xc @ xc))
    tq = stats.t.ppf(0.95, 7)
    assert fit.annual_factor == pytest.approx(math.exp(b), rel=1e-12)
    assert (fit.lo, fit.hi) == pytest.approx((math.exp(b - tq * se), math.exp(b + tq * se)), rel=1e-12)
    assert fit.p_value == pytest.approx(2 * stats.t.sf(abs(b / se), 7), rel=1e-9)
    assert fit.doubling_lo == pytest.approx(math.log(2) / (b + tq * se), rel=1e-12)


def test_growth_interval_coverage():
    """95 % intervals must cover the true factor in ~95 % of simulated data sets (binomial bounds)."""
    rng = np.random.default_rng(5)
    dates = pd.to_datetime(["2018-01-01", "2018-09-01", "2019-06-15", "2021-01-01", "2022-03-01", "2024-12-01"])
    years = (dates - dates[0]).days.to_numpy() / 365.25
    hits = 0
    for _ in range(400):
        fit = growth_rate(dates, np.exp(0.7 * years + rng.normal(0, 0.5, len(years))))
        hits += fit.lo <= math.exp(0.7) <= fit.hi
    assert 0.92 <= hits / 400 <= 0.98


def test_growth_decline_two_points_and_errors():
    fit = growth_rate(["2020-01-01", "2022-01-01", "2024-01-01"], [100.0, 50.0, 24.0])
    assert fit.doubling_years < 0 and fit.halving_years == pytest.approx(-fit.doubling_years)
    assert fit.annual_factor < 1
    two = growth_rate(["2020-01-01", "2021-01-01"], [1.0, 4.0])
    assert two.annual_factor == pytest.approx(4 ** (365.25 / 366), rel=1e-12) and two.n == 2
    assert all(math.isnan(v) for v in (two.lo, two.hi, two.doubling_lo, two.doubling_hi, two.p_value))
    flat = growth_rate(["2020-01-01", "2021-01-01", "2022-01-01"], [1.0, 2.0, 1.1])
    assert flat.doubling_hi == math.inf                           # slope interval contains 0
    for dates, vals in ((["2020-01-01", "2021-01-01"], [1.0, 0.0]), (["2020-01-01"], [1.0]),
                        (["2020-01-01", "2020-01-01"], [1.0, 2.0]), (["2020-01-01", "2021-01-01"], [1.0])):
        with pytest.raises(ValueError):
            growth_rate(dates, vals)


# ------------------------------------------------------------------------------------- testability
def test_check_testable_rules():
    monthly = pd.date_range("2020-01-31", periods=MIN_OBS_EXPLOSIVE, freq="ME")
    assert check_testable(monthly)[0]
    assert not check_testable(monthly[:-1])[0]
    assert "insufficient" in check_testable(monthly[:5])[1]
    mid_month = [pd.Timestamp(2020 + i // 12, i % 12 + 1, 15) for i in range(30)]
    assert check_testable(mid_month)[0]
    fiscal = pd.to_datetime(["2022-05-01", "2022-07-31", "2022-10-30", "2023-01-29"] * 1)
    quarters = list(fiscal) + [d + pd.DateOffset(weeks=52 * k) for k in range(1, 6) for d in fiscal]
    assert check_testable(sorted(quarters))[0]
    gap = list(monthly[:10]) + list(monthly[11:]) + [monthly[-1] + pd.offsets.MonthEnd(k) for k in (1, 2)]
    ok, reason = check_testable(gap)
    assert not ok and "equally spaced" in reason
    assert not check_testable(list(monthly[:1]) + list(monthly))[0]   # duplicate date
