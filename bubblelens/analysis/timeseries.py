"""Growth rates of irregular series and explosive-root (SADF/GSADF) bubble tests.

Two questions about a market series: *how fast is it growing* (a log-linear trend with a confidence
interval, fitted on whatever dates the sources give; the fits live in `trends`) and *is it growing explosively* (the recursive
right-tailed ADF tests of Phillips, Wu & Yu 2011 and Phillips, Shi & Yu 2015, "PSY", with the names and
window convention of the R package exuber, so an R user can check any number here against `exuber::radf`).

The explosive-root engine computes all O(T^2) window regressions from per-start cumulative sums of the
regressors' cross-products (one vectorised pass per window start). It is exact up to rounding: the
golden tests match exuber to 1e-10 and a test compares it with per-window `np.linalg.lstsq`.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# The growth fits live in trends.py; re-exported so that timeseries.growth_rate keeps working.
from bubblelens.analysis.trends import (DAYS_PER_YEAR, SPACING_TOLERANCE, GrowthFit,  # noqa: F401
                                        equally_spaced, growth_rate)

log = logging.getLogger(__name__)

MIN_OBS_EXPLOSIVE = 24          # fewest equally spaced observations we run an explosive-root test on


# ----------------------------------------------------------------------------------------- testability
def check_testable(dates: Sequence[Any]) -> tuple[bool, str]:
    """Can an explosive-root test be run on a series observed at `dates`?

    Rule: at least MIN_OBS_EXPLOSIVE (24) strictly increasing, equally spaced observations. Equally
    spaced means pandas infers a regular frequency (daily, business-daily, weekly, monthly, quarterly,
    annual, ...) or every gap is within SPACING_TOLERANCE of the median gap (calendar months and fiscal
    quarters vary by a few days). The recursive ADF regressions treat observations as consecutive
    periods; irregular points would silently mix horizons, and with fewer than 24 points the minimum
    window has fewer than ~10 regression rows, where the test has almost no power.
    """
    n = len(list(dates))
    if n < MIN_OBS_EXPLOSIVE:
        return False, f"insufficient data: {n} observations, explosive-root tests need >= {MIN_OBS_EXPLOSIVE}"
    ok, why = equally_spaced(dates)
    if not ok and why.startswith("observations are not equally spaced"):
        why += "; explosive-root tests need a regular frequency"
    return ok, why


def regular_tail(frame: pd.DataFrame) -> pd.DataFrame:
    """The longest run of equally spaced observations that ends at the last one (a series with an early
    gap, like NVIDIA's data-centre revenue before Q3 FY2017, is tested from after its gap)."""
    if len(frame) < 3:
        return frame
    gaps = np.diff(frame["date"].to_numpy().astype("datetime64[D]").astype(np.int64)).astype(float)
    med = float(np.median(gaps))
    bad = np.flatnonzero(np.abs(gaps - med) > SPACING_TOLERANCE * med)
    return frame.iloc[bad[-1] + 1:] if len(bad) else frame


# ------------------------------------------------------------------------------------ explosive roots
def default_min_window(n: int) -> int:
    """PSY (2015) rule floor((0.01 + 1.8/sqrt(T)) * T), as exuber's psy_minw; counted in regression rows."""
    return int(math.floor((0.01 + 1.8 / math.sqrt(n)) * n))


def adf_engine(y: np.ndarray, min_window: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """BADF and BSADF sequences for a batch of series, exactly as per-window OLS would give them.

    y: (R, T). Returns badf, bsadf, each (R, N - min_window + 1) with N = T - 1 - lag regression rows;
    element i belongs to the window ending at regression row min_window - 1 + i (0-based), i.e. at
    observation min_window + lag + 1 + i (1-based). For each window start a, cumulative sums over rows
    a..e of the regressors and their cross-products give every window [a, e] at once (O(T) per start,
    O(T^2) in all, no per-window solve); the constant is removed by centring (S_ij - S_i S_j / n), lagged
    differences by Gaussian elimination (Frisch-Waugh), leaving the 2x2 block of [y_{t-1}, Δy_t] from
    which the t-ratio follows. y_{t-1} is shifted by its value at the window start before summing, so
    the centring never cancels large numbers (prefix sums over the whole series would).
    """
    y = np.asarray(y, dtype=np.float64)
    rows = y.shape[1] - 1 - lag
    if min_window <= lag + 2:
        raise ValueError(f"min_window={min_window} rows leaves no residual degrees of freedom with lag={lag}")
    if rows < min_window:
        raise ValueError(f"series too short: {rows} regression rows < min_window={min_window}")
    return _engine_lag0(y, min_window) if lag == 0 else _engine_lags(y, min_window, lag)


def _engine_lag0(y: np.ndarray, minw: int) -> tuple[np.ndarray, np.ndarray]:
    """Lag-0 special case of `adf_engine` (the Monte Carlo hot loop): five sums, closed-form t-ratio."""
    reps, t_len = y.shape
    rows = t_len - 1
    x, d = y[:, :-1], np.diff(y, axis=1)                     # (R, N): y_{t-1}, Δy_t
    pdd = np.concatenate([np.zeros((reps, 1)), np.cumsum(d * d, axis=1)], axis=1)  # (R, N+1), sums of d^2 >= 0
    n_out = rows - minw + 1
    badf = np.empty((reps, n_out))
    bsadf = np.full((reps, n_out), -np.inf)
    cnt = np.arange(minw, rows + 1, dtype=np.float64)        # rows in each window, (n_out,)
    inv_cnt, dof = 1.0 / cnt, cnt - 2.0
    for a in range(n_out):
        k = n_out - a                                        # windows starting at row a
        xc = x[:, a:] - x[:, a:a + 1]                        # (R, N-a), shifted y_{t-1}
        sxy = np.cumsum(xc * d[:, a:], axis=1)[:, minw - 1:]
        sx = np.cumsum(xc, axis=1)[:, minw - 1:]
        np.multiply(xc, xc, out=xc)
        sxx = np.cumsum(xc, axis=1)[:, minw - 1:]           # (R, k)
        sy = y[:, a + minw:] - y[:, a:a + 1]                 # sum of Δy over the window, exact
        syy = pdd[:, a + minw:] - pdd[:, a:a + 1]
        mx = sx * inv_cnt[:k]
        cxx, cxy = sxx - sx * mx, sxy - sy * mx
        ssr = syy - sy * sy * inv_cnt[:k] - cxy * cxy / cxx
        tstat = cxy * np.sqrt(dof[:k] / (cxx * ssr))         # (R, k)
        if a == 0:
            badf[:] = tstat
        np.maximum(bsadf[:, a:], tstat, out=bsadf[:, a:])
    return badf, bsadf


def _regressors(y: np.ndarray, lag: int) -> np.ndarray:
    """(R, T) levels -> (R, N, lag + 2) rows [Δy_{t-1}, ..., Δy_{t-lag}, y_{t-1}, Δy_t], t = lag+2..T.

    N = T - 1 - lag regression rows; the constant is handled by centring.
    """
    dy = np.diff(y, axis=1)                                  # (R, T-1), dy[:, j] = Δy at obs j+2
    t_len = y.shape[1]
    cols = [dy[:, lag - j: t_len - 1 - j] for j in range(1, lag + 1)]
    cols += [y[:, lag: t_len - 1], dy[:, lag:]]
    return np.stack(cols, axis=-1)


def _engine_lags(y: np.ndarray, minw: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """General-lag case of `adf_engine`: cumulative cross-product matrices, then elimination."""
    w = _regressors(y, lag)                                  # (R, N, m), m = lag + 2
    reps, rows, m = w.shape
    n_out = rows - minw + 1
    badf = np.empty((reps, n_out))
    bsadf = np.full((reps, n_out), -np.inf)
    cnt = np.arange(minw, rows + 1, dtype=np.float64)[None, :, None, None]
    for a in range(n_out):
        v = w[:, a:, :].copy()                               # (R, L, m)
        v[:, :, m - 2] -= v[:, :1, m - 2]
        s1 = np.cumsum(v, axis=1)[:, minw - 1:]              # (R, k, m)
        s2 = np.cumsum(v[..., :, None] * v[..., None, :], axis=1)[:, minw - 1:]  # (R, k, m, m)
        c = s2 - s1[..., :, None] * s1[..., None, :] / cnt[:, : n_out - a]
        for _ in range(lag):                                 # sweep out the lagged differences
            c = c[..., 1:, 1:] - c[..., 1:, :1] * c[..., :1, 1:] / c[..., :1, :1]
        sxx, sxy, syy = c[..., 0, 0], c[..., 0, 1], c[..., 1, 1]
        ssr = syy - sxy * sxy / sxx
        tstat = sxy * np.sqrt((cnt[0, : n_out - a, 0, 0] - lag - 2) / (sxx * ssr))   # (R, k)
        if a == 0:
            badf[:] = tstat
        np.maximum(bsadf[:, a:], tstat, out=bsadf[:, a:])
    return badf, bsadf


@dataclass(frozen=True, eq=False)
class RadfResult:
    """Recursive ADF statistics in exuber's convention.

    min_window is counted in regression rows; element i (0-based) of `badf` and `bsadf` belongs to the
    window ending at observation min_window + lag + 1 + i (1-based), as in exuber: the smallest window
    spans min_window regression rows, i.e. min_window + lag + 1 observations. `obs` holds those 1-based
    observation numbers, `index` the matching dates when the input had a DatetimeIndex (else the same
    numbers). badf: windows starting at the first row; bsadf: sup over window starts; adf = full sample, sadf = max(badf), gsadf = max(bsadf).
    """

    adf: float
    sadf: float
    gsadf: float
    badf: np.ndarray             # (n - lag - min_window,)
    bsadf: np.ndarray            # (n - lag - min_window,)
    min_window: int
    lag: int
    n: int
    index: pd.Index
    obs: np.ndarray              # 1-based observation ending each window
    y: np.ndarray                # (n,) the levels tested, for peak dating


def radf(y: Any, min_window: int | None = None, lag: int = 0) -> RadfResult:
    """ADF, SADF and GSADF statistics with BADF/BSADF sequences (exuber::radf for one series).

    Regression: Δy_t on a constant, y_{t-1} and `lag` lagged differences, no trend; statistic = t-ratio
    of the y_{t-1} coefficient with error variance SSR / (rows - regressors). min_window (regression rows)
    defaults to floor((0.01 + 1.8/sqrt(T)) T). y: array or pandas Series (a DatetimeIndex is kept).
    """
    dates = y.index if isinstance(y, pd.Series) and isinstance(y.index, pd.DatetimeIndex) else None
    arr = np.asarray(y, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError("radf: y contains NaN or infinite values")
    if lag < 0:
        raise ValueError(f"radf: lag must be >= 0, got {lag}")
    n = int(arr.size)
    minw = default_min_window(n) if min_window is None else int(min_window)
    badf, bsadf = adf_engine(arr[None, :], minw, lag)
    badf, bsadf = badf[0], bsadf[0]
    obs = np.arange(minw + lag + 1, n + 1)
    index = dates[obs - 1] if dates is not None else pd.Index(obs, name="obs")
    return RadfResult(adf=float(badf[-1]), sadf=float(badf.max()), gsadf=float(bsadf.max()), badf=badf,
                      bsadf=bsadf, min_window=minw, lag=lag, n=n, index=index, obs=obs, y=arr)


# ------------------------------------------------------------------------------------------ datestamp
@dataclass(frozen=True)
class Episode:
    """A run of consecutive observations with BSADF above its critical value.

    start/end are the first and last exceeding observations (inclusive), peak the observation with the
    highest level y inside the run; duration counts observations (end - start + 1). Each is a date when
    the input had dates, else a 1-based observation number; *_obs always hold the numbers.
    """

    start: Any
    peak: Any
    end: Any
    duration: int
    start_obs: int
    peak_obs: int
    end_obs: int


def datestamp(result: RadfResult, crit: np.ndarray, min_duration: int = 0) -> list[Episode]:
    """Episodes where BSADF exceeds the critical-value sequence `crit` (aligned with `result.bsadf`, e.g.
    `CriticalValues.sequence_for(result)`); runs shorter than min_duration dropped. PSY suggest
    min_duration ~ log(T)."""
    crit = np.asarray(crit, dtype=float)
    if crit.shape != result.bsadf.shape:
        raise ValueError(f"critical-value sequence has shape {crit.shape}, BSADF has {result.bsadf.shape}")
    above = result.bsadf > crit
    # run boundaries of `above`: +1 where a run starts, -1 after it ends
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)   # stop exclusive
    dated = isinstance(result.index, pd.DatetimeIndex)

    def label(o: int) -> Any:                        # 1-based observation -> date (if any) or number
        return result.index[o - int(result.obs[0])] if dated else o

    episodes = []
    for s, e in zip(starts, stops):
        if e - s < min_duration:
            continue
        o_s, o_e = int(result.obs[s]), int(result.obs[e - 1])
        o_p = o_s + int(np.argmax(result.y[o_s - 1:o_e]))
        episodes.append(Episode(label(o_s), label(o_p), label(o_e), o_e - o_s + 1, o_s, o_p, o_e))
    log.debug("datestamp: %d episodes", len(episodes))
    return episodes


def episodes_frame(episodes: Sequence[Episode]) -> pd.DataFrame:
    """Episodes as a table (one row each), for charts and reports."""
    cols = ["start", "peak", "end", "duration", "start_obs", "peak_obs", "end_obs"]
    return pd.DataFrame([e.__dict__ for e in episodes], columns=cols)
