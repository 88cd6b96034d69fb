"""A sieve wild bootstrap for "is there an explosive episode in this date window?" (sup BSADF over it).

Why: `critical_values` simulates the PSY (2015) statistics under a driftless *Gaussian* random walk with
lag 0. Valuation ratios of the S&P 500 (price/dividend, price/earnings, CAPE; monthly since 1871) are not
that: their monthly changes are autocorrelated (lag-1 ~ 0.56) and their spread roughly triples over the
sample. Autocorrelated changes push the lag-0 ADF t-ratio to the right, and late, large shocks make the
last windows' statistics more extreme, so a simulated unit root with such changes is "explosive" about
half the time at a nominal 5 %. Here the null is rebuilt from the data instead: an AR sieve on the
differences (lag chosen by BIC, as in the test regression) keeps the autocorrelation, and wild weights on
the residuals, left at their own dates, keep the path of the variance (Harvey, Leybourne, Sollis & Taylor
2016, J. Empirical Finance 38; the AR sieve as in Phillips & Shi 2020, Handbook of Statistics 42 and the
psymonitor R package). The statistic is the sup of BSADF over the windows ending inside the date window,
computed on the data and on every bootstrap series with the same lag and minimum window.

`bsadf_at_ends` computes BSADF only at the requested window ends, each in O(T) (one sum per window start),
instead of `timeseries.radf`'s O(T^2) for the whole sequence: the p-value needs BSADF at ~40-80 ends of
hundreds of bootstrap series. It equals `radf(...).bsadf` at those ends up to rounding (tested to 1e-9).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import lfilter, lfiltic
from statsmodels.tsa.stattools import adfuller

from bubblelens.analysis.timeseries import default_min_window

DEFAULT_MAX_LAG = 6             # psymonitor's S&P 500 example (Phillips & Shi 2020): BIC, at most 6 lags, monthly
BATCH = 64                      # replicates per kernel call: its (lag+2)^2 x BATCH sums stay in L1/L2 cache
RNG_KINDS = ("rademacher", "normal")
# statsmodels >= 0.15 warns unless told which return type to give; 0.14 has no such argument.
_ADF_KW = {"result_object": False} if "result_object" in inspect.signature(adfuller).parameters else {}


def select_lag(y: Any, max_lag: int = DEFAULT_MAX_LAG) -> int:
    """Lag order of the ADF regression (Δy_t on a constant, y_{t-1} and p lagged differences) chosen by BIC
    over p = 0..max_lag, by statsmodels' `adfuller(..., regression="c", autolag="BIC")` (all candidates
    fitted on the same rows, then the chosen one refitted). max_lag 6 follows psymonitor's S&P 500 example
    (Phillips & Shi 2020: BIC with at most 6 lags on monthly data); BIC is consistent for a finite AR order
    and picks short lags, which keeps the minimum window's regressions well determined."""
    arr = np.asarray(y, dtype=np.float64).ravel()
    if max_lag < 0:
        raise ValueError(f"select_lag: max_lag must be >= 0, got {max_lag}")
    return int(adfuller(arr, maxlag=int(max_lag), regression="c", autolag="BIC", **_ADF_KW)[2])


# ------------------------------------------------------------------------------------ BSADF at ends
def bsadf_at_ends(y: Any, min_window: int, lag: int, first_obs: int, last_obs: int) -> np.ndarray:
    """BSADF of the windows ending at 1-based observations first_obs..last_obs: for each end, the sup over
    all admissible starts (at least min_window regression rows) of the ADF t-ratio, as `timeseries.radf`
    (same regression, same error variance SSR / (rows - lag - 2)).

    y: (R, T) or (T,). Returns (R, last_obs - first_obs + 1), or (last_obs - first_obs + 1,) for 1-D y.
    Regression row r (0-based) is observation r + lag + 2; the window [a, e] of rows ends at observation
    e + lag + 2. The windows' sums, centring and sweep are compiled (`bsadf_kernel.bsadf_columns`: one pass
    per end over the starts, BATCH replicates side by side); equal to `timeseries.radf` to 1e-9 (tested).
    """
    arr = np.asarray(y, dtype=np.float64)
    one = arr.ndim == 1
    arr = np.atleast_2d(arr)
    if arr.ndim != 2:
        raise ValueError(f"bsadf_at_ends: y must be 1-D or 2-D, got shape {np.shape(y)}")
    t_len, minw, lag = arr.shape[1], int(min_window), int(lag)
    first, last = int(first_obs), int(last_obs)
    if lag < 0:
        raise ValueError(f"bsadf_at_ends: lag must be >= 0, got {lag}")
    if minw <= lag + 2:
        raise ValueError(f"min_window={minw} rows leaves no residual degrees of freedom with lag={lag}")
    if not minw + lag + 1 <= first <= last <= t_len:
        raise ValueError(f"window ends {first}..{last} outside {minw + lag + 1}..{t_len} "
                         f"(n={t_len}, min_window={minw}, lag={lag})")
    if not np.all(np.isfinite(arr)):
        raise ValueError("bsadf_at_ends: y contains NaN or infinite values")
    # Imported here: numba costs 0.3 s to import, and a rebuild that reads every claim from the cache never
    # calls this (the pool's workers have it preloaded, pipeline/executor.WORKER_PRELOAD).
    from bubblelens.analysis.bsadf_kernel import bsadf_columns

    ends = np.arange(first, last + 1) - lag - 2               # end rows, (E,)
    out = np.empty((arr.shape[0], ends.size))
    for lo in range(0, arr.shape[0], BATCH):                  # replicates in columns: the kernel's fast axis
        # A fresh C-ordered, writable copy even of one row, whose transpose is already contiguous (and
        # read-only when it came from pandas): one array type, so numba compiles one specialisation.
        batch = np.array(arr[lo:lo + BATCH, :last].T, order="C")          # (last, B)
        out[lo:lo + BATCH] = bsadf_columns(batch, minw, lag, ends).T
    return out[0] if one else out


# -------------------------------------------------------------------------------- bootstrap series
def sieve_wild_bootstrap(y: Any, lag: int, reps: int, seed: int, *, rng_kind: str = "rademacher",
                         drift: bool = False) -> np.ndarray:
    """`reps` bootstrap series (reps, T) under the unit-root null, keeping the autocorrelation of the
    differences (an AR(lag) sieve) and the path of their variance (wild weights on dated residuals).

    1. OLS on the full sample of the restricted (null) model Δy_t = a + sum_{j=1..lag} φ_j Δy_{t-j} + e_t,
       t = lag+2..T (1-based observations); residuals ê_t (mean zero, the constant is in the fit).
    2. w_t iid from `np.random.default_rng(seed)`, shape (reps, T - 1 - lag); e*_t = w_t ê_t, each residual
       kept at its own date, so a replicate's shocks are large exactly where the data's are.
    3. Δy*_t = [a] + sum_j φ_j Δy*_{t-j} + e*_t, started from the observed Δy_2..Δy_{lag+1}, computed by
       `scipy.signal.lfilter` (exact for this linear recursion); y*_1 = y_1, y*_t = y_1 + cumsum Δy*.

    rng_kind "rademacher" (default: w = ±1 with probability 1/2) or "normal" (N(0, 1), HLST's choice;
    exuber's implementation of HLST offers both). Rademacher reproduces |ê_t| exactly in every replicate,
    so the variance path is copied, not merely matched on average, and E w^4 = 1 adds no kurtosis to the
    shocks (Davidson & Flachaire 2008 recommend it for the wild bootstrap); both are asymptotically valid.
    drift: False (default) drops â from step 3, imposing PSY's null of a random walk without (or with an
    asymptotically negligible) drift, as HLST (Δy*_t = w_t Δy_t) and psymonitor (which keeps only the
    lag coefficients) do; â is still estimated in step 1 so that φ̂ is not biased by a mean. A drift in
    the bootstrap series makes y_{t-1} trend, which pulls the no-trend ADF t-ratio towards N(0, 1), whose
    right tail is longer than Dickey-Fuller's: critical values rise, and with no true drift the test
    rejects about a point less often (AR(1) changes, rising variance, n = 300, 4,000 warp-speed series:
    0.043 with the drift, 0.054 without).
    With lag 0 and drift False, Δy*_t = w_t (Δy_t - mean Δy): HLST's scheme on demeaned differences.
    Unlike psymonitor, residuals are not resampled across dates (that would discard the variance path).
    """
    arr = np.asarray(y, dtype=np.float64).ravel()
    lag, reps = int(lag), int(reps)
    if rng_kind not in RNG_KINDS:
        raise ValueError(f"rng_kind must be one of {RNG_KINDS}, got '{rng_kind}'")
    if lag < 0 or reps < 1:
        raise ValueError(f"sieve_wild_bootstrap: need lag >= 0 and reps >= 1, got lag={lag}, reps={reps}")
    if arr.size < 2 * lag + 4 or not np.all(np.isfinite(arr)):
        raise ValueError(f"sieve_wild_bootstrap: need {2 * lag + 4}+ finite observations for lag {lag}")
    dy = np.diff(arr)                                         # (T-1,), dy[i] = Δy at observation i + 2
    rows = dy.size - lag
    z = np.column_stack([np.ones(rows)] + [dy[lag - j: dy.size - j] for j in range(1, lag + 1)])  # (rows, 1+lag)
    beta, *_ = np.linalg.lstsq(z, dy[lag:], rcond=None)
    resid = dy[lag:] - z @ beta                               # (rows,) ê_t
    rng = np.random.default_rng(seed)
    w = (rng.integers(0, 2, size=(reps, rows)) * 2.0 - 1.0 if rng_kind == "rademacher"
         else rng.standard_normal((reps, rows)))
    drive = w * resid + (beta[0] if drift else 0.0)           # (reps, rows): [â] + e*_t
    if lag:
        a_poly = np.concatenate([[1.0], -beta[1:]])           # Δy*_t - sum φ_j Δy*_{t-j} = drive_t
        zi = lfiltic([1.0], a_poly, dy[lag - 1::-1])         # state from Δy_{lag+1}, ..., Δy_2 (latest first)
        drive = lfilter([1.0], a_poly, drive, axis=1, zi=np.tile(zi, (reps, 1)))[0]
    out = np.empty((reps, arr.size))
    out[:, 0] = arr[0]
    out[:, 1:lag + 1] = arr[1:lag + 1]                        # the observed start: Δy*_j = Δy_j, j <= lag+1
    out[:, lag + 1:] = arr[lag] + np.cumsum(drive, axis=1)
    return out


# ------------------------------------------------------------------------------------------ the test
@dataclass(frozen=True, eq=False)
class WindowTest:
    """Sup BSADF over the windows ending at observations first_obs..last_obs (1-based), against its sieve
    wild bootstrap null: p = (1 + #{null >= statistic}) / (reps + 1) (Davison & Hinkley 1997, eq. 4.11).

    bsadf: (last_obs - first_obs + 1,) the observed BSADF at each end (`obs`); null: (reps,) the bootstrap
    statistics; cv95 their 0.95 quantile (numpy "linear", R type 7).
    """

    n: int
    lag: int
    min_window: int
    first_obs: int
    last_obs: int
    obs: np.ndarray
    statistic: float
    p_value: float
    cv95: float
    reps: int
    seed: int
    bsadf: np.ndarray
    null: np.ndarray
    method: str


def window_test(y: Any, first_obs: int, last_obs: int, *, min_window: int | None = None, lag: int | None = None,
                max_lag: int = DEFAULT_MAX_LAG, reps: int = 499, seed: int = 123,
                rng_kind: str = "rademacher", drift: bool = False) -> WindowTest:
    """Is there an explosive episode in the windows ending at observations first_obs..last_obs of y?

    y: array or pandas Series, the series up to and including the window's last observation (cut it there:
    the lag choice and the sieve use every observation given, so later data would leak into the test).
    min_window (regression rows) defaults to PSY's rule `timeseries.default_min_window(n)`; lag None:
    `select_lag(y, max_lag)` on the data, then kept fixed for the bootstrap series. rng_kind and drift:
    see `sieve_wild_bootstrap`. Deterministic in seed. The sieve is fitted under the null, so a bubble in
    the data enters the residuals: its large increments widen the bootstrap's shocks where it happened,
    which keeps the size but costs power against episodes near the end of the sample.
    """
    arr = np.asarray(y, dtype=np.float64).ravel()
    n = int(arr.size)
    minw = default_min_window(n) if min_window is None else int(min_window)
    p = select_lag(arr, max_lag) if lag is None else int(lag)
    observed = bsadf_at_ends(arr, minw, p, first_obs, last_obs)            # (E,)
    boot = sieve_wild_bootstrap(arr, p, reps, seed, rng_kind=rng_kind, drift=drift)   # (reps, n)
    null = bsadf_at_ends(boot, minw, p, first_obs, last_obs).max(axis=1)    # (reps,)
    stat = float(observed.max())
    pval = (1 + int(np.count_nonzero(null >= stat))) / (reps + 1)
    how = f"BIC lag (max {max_lag})" if lag is None else "fixed lag"
    return WindowTest(n=n, lag=p, min_window=minw, first_obs=int(first_obs), last_obs=int(last_obs),
                      obs=np.arange(int(first_obs), int(last_obs) + 1), statistic=stat, p_value=pval,
                      cv95=float(np.quantile(null, 0.95)), reps=int(reps), seed=int(seed), bsadf=observed,
                      null=null, method=f"sup BSADF, AR({p}) sieve wild bootstrap ({rng_kind}"
                      f"{', with drift' if drift else ''}), {how}")

