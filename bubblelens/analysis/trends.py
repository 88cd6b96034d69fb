"""Growth-rate statistics: log-linear trends with errors that fit how the data were observed.

A market series observed monthly has autocorrelated residuals around its trend, and classical OLS errors
then overstate precision; `growth_rate` uses Newey-West (HAC) errors on equally spaced series. A
cross-section (AI models by publication date, many a year) gets errors clustered by calendar year
(`cross_section_growth`). `regime_growth` fits pre-declared regimes in one model, `compare_growth` sets
two independent fits against each other (Welch), `holm` adjusts a family of p-values. The estimators are
statsmodels'; this module only chooses them and reads them out. `drift_growth` is the other model of a
regular series: a random walk with drift in logs, whose growth is the mean step (closed form).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import OLS   # = statsmodels.api.OLS, without api's imports

SPACING_TOLERANCE = 0.1         # gaps may differ from their median by 10 % (months are 28-31 days)
DAYS_PER_YEAR = 365.25          # Julian year: the time unit of growth fits
MIN_OBS_HAC = 12                # fewest equally spaced points that get HAC errors under errors="auto"
RANDOM_WALK = "random walk with drift"      # GrowthFit.errors of `drift_growth`


@dataclass(frozen=True)
class GrowthFit:
    """Log-linear trend log(value) = a + b * years.

    annual_factor = exp(b), with [lo, hi] the `level` interval exp(b -/+ t_{df} se_log). doubling_years =
    ln 2 / b is *signed*: a negative value means the series declines and halves every |doubling_years|
    years (see `halving_years`). [doubling_lo, doubling_hi] maps the slope interval through ln 2 / b; when
    the slope interval contains 0 the bound on the far side is infinite (+inf for growth, -inf for
    decline). With n = 2 the fit is a point estimate: lo, hi, doubling_lo, doubling_hi, p_value, se_log are
    NaN. errors says which standard error was used ("hac", "ols", "cluster", "hc1") or, for
    `drift_growth`, the model (RANDOM_WALK; its r2 is NaN: there is no trend line), lags the HAC lags.
    """

    annual_factor: float
    lo: float
    hi: float
    doubling_years: float
    doubling_lo: float
    doubling_hi: float
    n: int
    r2: float
    p_value: float               # two-sided t test of slope = 0
    first_date: pd.Timestamp
    last_date: pd.Timestamp
    level: float = 0.95
    se_log: float = math.nan     # standard error of b (log slope per year)
    df: float = math.nan         # degrees of freedom of the t reference
    errors: str = "ols"
    lags: int = 0

    @property
    def halving_years(self) -> float:
        """Years to halve for a declining series (positive), NaN for a growing one."""
        return -self.doubling_years if self.doubling_years < 0 else math.nan


def equally_spaced(dates: Sequence[Any]) -> tuple[bool, str]:
    """Are `dates` strictly increasing and equally spaced? (ok, reason); no minimum length.

    Equally spaced means pandas infers a regular frequency (daily, weekly, monthly, quarterly, ...) or
    every gap is within SPACING_TOLERANCE of the median gap (calendar months and fiscal quarters vary).
    """
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    n = len(idx)
    if n < 2:
        return False, f"{n} observation(s): no spacing to judge"
    gaps = np.diff(idx.asi8).astype(np.float64)
    if np.any(gaps <= 0):
        return False, "dates are not strictly increasing"
    freq = None
    if n >= 3:                                   # infer_freq needs three dates
        with warnings.catch_warnings():          # pandas 3 warns that infer_freq will return an offset
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(idx)
    if freq is not None:
        return True, f"{n} equally spaced observations (frequency {getattr(freq, 'freqstr', freq)})"
    med = float(np.median(gaps))
    worst = float(np.max(np.abs(gaps - med)) / med)
    if worst > SPACING_TOLERANCE:
        return False, f"observations are not equally spaced (a gap differs from the median gap by {worst:.0%})"
    return True, f"{n} equally spaced observations (median gap {med / 86400e9:.1f} days)"


def newey_west_lags(n: int) -> int:
    """Newey-West (1994) rule floor(4 (n/100)^(2/9)), at least 1; lags count observations."""
    return max(1, int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))))


def _prepare(dates: Any, values: Any, name: str) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Validated (years since first date, log values, dates), sorted by date (stable)."""
    vals = np.asarray(values, dtype=np.float64).ravel()
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    if len(idx) != vals.size:
        raise ValueError(f"{name}: {len(idx)} dates but {vals.size} values")
    if vals.size < 2:
        raise ValueError(f"{name}: need at least 2 points")
    if not np.all(np.isfinite(vals)) or np.any(vals <= 0):
        raise ValueError(f"{name}: values must be finite and > 0 for a log-linear fit")
    order = np.argsort(idx.asi8, kind="stable")
    idx, vals = idx[order], vals[order]
    years = np.asarray((idx - idx[0]) / pd.Timedelta(days=1), dtype=np.float64) / DAYS_PER_YEAR
    if np.ptp(years) == 0:
        raise ValueError(f"{name}: all dates are equal; no time span to fit a rate on")
    return years, np.log(vals), idx


def _doubling(slope: float) -> float:
    return math.log(2.0) / slope if slope != 0.0 else math.inf


def _fit_from(b: float, se: float, df: float, level: float, n: int, r2: float, idx: pd.DatetimeIndex,
              errors: str, lags: int) -> GrowthFit:
    """GrowthFit from a log slope, its standard error and the df of its t reference."""
    tcrit = float(stats.t.ppf(0.5 + level / 2.0, df))
    b_lo, b_hi = b - tcrit * se, b + tcrit * se
    if b_lo > 0 or b_hi < 0:            # interval excludes 0: ln2/b is monotone on it
        d_lo, d_hi = _doubling(b_hi), _doubling(b_lo)
    elif b >= 0:                        # growth, but flat is plausible
        d_lo, d_hi = _doubling(b_hi), math.inf
    else:                               # decline, but flat is plausible
        d_lo, d_hi = -math.inf, _doubling(b_lo)
    return GrowthFit(math.exp(b), math.exp(b_lo), math.exp(b_hi), _doubling(b), d_lo, d_hi, n, r2,
                     _p_two_sided(b, se, df), idx.min(), idx.max(), level, float(se), float(df), errors, lags)


def _p_two_sided(est: float, se: float, df: float) -> float:
    if not (np.isfinite(se) and df > 0):
        return math.nan
    if se == 0:
        return 0.0 if est != 0 else math.nan
    return float(2.0 * stats.t.sf(abs(est / se), df))


def _choose_errors(errors: str, idx: pd.DatetimeIndex, name: str) -> str:
    if errors not in ("auto", "hac", "ols"):
        raise ValueError(f"{name}: errors must be 'auto', 'hac' or 'ols', got {errors!r}")
    regular, why = equally_spaced(idx)
    if errors == "hac" and not regular:
        raise ValueError(f"{name}: HAC lags count observations, which needs equal spacing ({why})")
    if errors == "auto":
        return "hac" if regular and len(idx) >= MIN_OBS_HAC else "ols"
    return errors


def _ols(y: np.ndarray, x: np.ndarray, errors: str, maxlags: int, groups: np.ndarray | None = None):
    """statsmodels OLS with the chosen covariance. HAC: Bartlett kernel, no small-sample factor
    (use_correction=False, statsmodels' default for cov_type="HAC", stated so a default change cannot
    move our numbers)."""
    model = OLS(y, x)
    if errors == "hac":
        return model.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags, "use_correction": False}, use_t=True)
    if errors == "cluster":
        return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    if errors == "hc1":
        return model.fit(cov_type="HC1", use_t=True)
    return model.fit()


def growth_rate(dates: Sequence[Any], values: Sequence[float], level: float = 0.95, *, errors: str = "auto",
                maxlags: int | None = None) -> GrowthFit:
    """Fit log(values) on time in years (days / 365.25) by OLS; dates may be irregularly spaced.

    errors="auto": Newey-West HAC errors when the dates are equally spaced (`equally_spaced`) and
    n >= 12, classical OLS errors otherwise (irregular dates have no lag structure to count). HAC uses
    the Bartlett kernel with L = maxlags or floor(4 (n/100)^(2/9)) lags (Newey-West 1994), at least 1,
    and no small-sample factor. The interval and p-value use a t reference with n - 2 df in both cases.
    errors="hac" or "ols" forces one (HAC on irregular dates raises). The fit's errors/lags say what was
    used. Raises ValueError for non-positive or non-finite values, fewer than 2 points, mismatched
    lengths or all dates equal; n = 2 returns the point estimate only.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    years, logv, idx = _prepare(dates, values, "growth_rate")
    n = int(logv.size)
    if n == 2:
        nan = math.nan
        slope = (logv[1] - logv[0]) / (years[1] - years[0])
        return GrowthFit(math.exp(slope), nan, nan, _doubling(slope), nan, nan, 2, 1.0, nan,
                         idx.min(), idx.max(), level, nan, 0.0, "ols", 0)
    kind = _choose_errors(errors, idx, "growth_rate")
    lags = 0
    if kind == "hac":
        lags = newey_west_lags(n) if maxlags is None else int(maxlags)
        if not 0 <= lags < n:
            raise ValueError(f"growth_rate: maxlags must be in [0, {n}), got {maxlags}")
    res = _ols(logv, np.column_stack([np.ones_like(years), years]), kind, lags)
    return _fit_from(float(res.params[1]), float(np.sqrt(res.cov_params()[1, 1])), n - 2, level, n,
                     float(res.rsquared), idx, kind, lags)


def drift_growth(dates: Sequence[Any], values: Sequence[float], level: float = 0.95) -> GrowthFit:
    """Growth of an equally spaced series modelled as a random walk with drift in logs:
    log y_t = log y_{t-1} + d + e_t, e_t independent with constant variance.

    d is the mean log step, its standard error sd(steps, ddof=1) / sqrt(m) for m steps (= OLS of the
    steps on a constant), the t reference has m - 1 df. Both are scaled to a year by the periods per
    year, m / (span in years), so the annual log growth is the endpoint slope (log y_T - log y_0) / span.
    Unlike `growth_rate` the shocks persist: a trend fit treats a run of good quarters as residuals that
    revert, this model as level shifts, which widens the interval when residuals are strongly
    autocorrelated. Raises ValueError on dates not equally spaced (`equally_spaced`: a step must be one
    period) and as `growth_rate` does; n = 2 (one step) returns the point estimate only (df 0).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    years, logv, idx = _prepare(dates, values, "drift_growth")
    regular, why = equally_spaced(idx)
    if not regular:
        raise ValueError(f"drift_growth: a random walk counts steps, which needs equally spaced dates ({why})")
    steps, per_year = np.diff(logv), (logv.size - 1) / float(years[-1])
    n = int(logv.size)
    if n == 2:
        nan, slope = math.nan, float(steps[0]) * per_year
        return GrowthFit(math.exp(slope), nan, nan, _doubling(slope), nan, nan, 2, nan, nan,
                         idx.min(), idx.max(), level, nan, 0.0, RANDOM_WALK, 0)
    se = float(np.std(steps, ddof=1)) / math.sqrt(steps.size) * per_year
    return _fit_from(float(np.mean(steps)) * per_year, se, steps.size - 1, level, n, math.nan, idx,
                     RANDOM_WALK, 0)


def cross_section_growth(dates: Sequence[Any], values: Sequence[float], level: float = 0.95,
                         cluster: str | None = "year") -> GrowthFit:
    """Trend of a cross-section (e.g. AI models by publication date): OLS of ln(value) on years.

    Points of the same calendar year share shocks (a benchmark season, a hardware generation), so by
    default the errors are clustered by year (statsmodels CRV1 with its factor G/(G-1) (n-1)/(n-2)) and
    the t reference has G - 1 df, G the number of years; at least 3 years are needed. cluster=None gives
    HC1 (heteroskedasticity-robust, factor n/(n-2)) with n - 2 df.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if cluster not in ("year", None):
        raise ValueError(f"cross_section_growth: cluster must be 'year' or None, got {cluster!r}")
    years, logv, idx = _prepare(dates, values, "cross_section_growth")
    n = int(logv.size)
    if n < 3:
        raise ValueError("cross_section_growth: need at least 3 points for an interval")
    x = np.column_stack([np.ones_like(years), years])
    if cluster == "year":
        groups = np.asarray(idx.year)
        g = len(np.unique(groups))
        if g < 3:
            raise ValueError(f"cross_section_growth: {g} calendar year(s); clustering needs >= 3 (or cluster=None)")
        res, kind, df = _ols(logv, x, "cluster", 0, groups), "cluster", g - 1
    else:
        res, kind, df = _ols(logv, x, "hc1", 0), "hc1", n - 2
    return _fit_from(float(res.params[1]), float(np.sqrt(res.cov_params()[1, 1])), df, level, n,
                     float(res.rsquared), idx, kind, 0)


@dataclass(frozen=True)
class BreakTest:
    """t test that the log slope changes at a pre-declared break: estimate = b_after - b_before."""

    date: pd.Timestamp
    estimate: float
    se: float
    df: float
    p_value: float


@dataclass(frozen=True)
class RegimeGrowth:
    """Per-regime fits (first_date/last_date = the regime's observed span) and one test per break."""

    regimes: list[GrowthFit]
    breaks: list[BreakTest]
    errors: str
    lags: int


def regime_growth(dates: Sequence[Any], values: Sequence[float], breaks: Sequence[Any], level: float = 0.95,
                  errors: str = "auto") -> RegimeGrowth:
    """Log-linear growth with a separate intercept and slope in each regime between pre-declared breaks.

    A break date starts a new regime (regime r holds the dates in [break_{r-1}, break_r)). One OLS on the
    full series with regime dummies and regime x years interactions, so the slopes equal per-regime fits
    while the errors (HAC on the full model when equally spaced and n >= 12, as in `growth_rate`; else
    classical with a pooled variance) see the whole series and give the covariance between regimes for
    the slope-change tests. t references have n - 2R df. Breaks must be declared before looking at the
    data (e.g. a product launch): a break chosen where the data change most makes the slope-change t
    test far too liberal, and needs sup-F critical values (Andrews 1993) instead. Raises ValueError for a
    regime with fewer than 3 points.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    years, logv, idx = _prepare(dates, values, "regime_growth")
    cuts = pd.DatetimeIndex(pd.to_datetime(list(breaks))).sort_values()
    if len(cuts) == 0 or not cuts.is_unique:
        raise ValueError("regime_growth: give one or more distinct break dates")
    # Compare in one unit: pandas may parse the breaks to seconds while the series is in nanoseconds.
    regime = np.searchsorted(cuts.as_unit("ns").asi8, idx.as_unit("ns").asi8, side="right")   # 0..R-1
    n, n_reg = int(logv.size), len(cuts) + 1
    counts = np.bincount(regime, minlength=n_reg)
    if counts.min() < 3:
        r = int(np.argmin(counts))
        raise ValueError(f"regime_growth: regime {r + 1} of {n_reg} has {counts[r]} point(s); each needs >= 3")
    kind = _choose_errors(errors, idx, "regime_growth")
    lags = newey_west_lags(n) if kind == "hac" else 0
    dummies = (regime[:, None] == np.arange(n_reg)[None, :]).astype(np.float64)
    x = np.hstack([dummies, dummies * years[:, None]])              # [a_1..a_R, b_1..b_R]
    res = _ols(logv, x, kind, lags)
    beta, cov, df = np.asarray(res.params), np.asarray(res.cov_params()), n - 2 * n_reg
    fits = []
    for r in range(n_reg):
        m = regime == r
        resid = logv[m] - x[m] @ beta
        tss = float(np.sum((logv[m] - logv[m].mean()) ** 2))
        r2 = 1.0 - float(resid @ resid) / tss if tss > 0 else math.nan
        fits.append(_fit_from(float(beta[n_reg + r]), math.sqrt(cov[n_reg + r, n_reg + r]), df, level,
                              int(counts[r]), r2, idx[m], kind, lags))
    tests = []
    for r in range(n_reg - 1):
        i, j = n_reg + r, n_reg + r + 1
        est = float(beta[j] - beta[i])
        se = math.sqrt(max(cov[i, i] + cov[j, j] - 2.0 * cov[i, j], 0.0))
        tests.append(BreakTest(cuts[r], est, se, float(df), _p_two_sided(est, se, df)))
    return RegimeGrowth(fits, tests, kind, lags)


@dataclass(frozen=True)
class GrowthComparison:
    """a versus b: ratio = a.annual_factor / b.annual_factor with its `level` interval; d = difference of
    log slopes, se = sqrt(se_a^2 + se_b^2), Welch-Satterthwaite df, t = d / se, two-sided p (t reference)."""

    ratio: float
    lo: float
    hi: float
    d: float
    se: float
    df: float
    t: float
    p_value: float
    level: float = 0.95


def compare_growth(a: GrowthFit, b: GrowthFit, level: float = 0.95) -> GrowthComparison:
    """Welch comparison of two independent growth fits; NaN interval and p when either has no se."""
    d = math.log(a.annual_factor) - math.log(b.annual_factor)
    ratio, nan = math.exp(d), math.nan
    va, vb = a.se_log ** 2, b.se_log ** 2
    if not (math.isfinite(va) and math.isfinite(vb)) or va + vb == 0 or a.df <= 0 or b.df <= 0:
        return GrowthComparison(ratio, nan, nan, d, math.sqrt(va + vb), nan, nan, nan, level)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / a.df + vb ** 2 / b.df)
    tcrit = float(stats.t.ppf(0.5 + level / 2.0, df))
    return GrowthComparison(ratio, math.exp(d - tcrit * se), math.exp(d + tcrit * se), d, se, df, d / se,
                            _p_two_sided(d, se, df), level)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values, in the input order, monotone, capped at 1.

    NaN p-values stay NaN and do not count in the family size k.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    k = ok.size
    if k:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.minimum(1.0, np.maximum.accumulate((k - np.arange(k)) * p[order]))
        out[order] = adj
    return out.tolist()
