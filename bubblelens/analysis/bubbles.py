"""Explosive-root tests of one series, date-stamped: the shared step of bubble claims and bubble charts.

PSY (2015) find the dot-com episode in the S&P 500 price/dividend ratio; the report shows it beside the AI
series so a reader sees what a detected bubble looks like under the same test and conventions. `scale`
says what is tested: in levels any exponential growth is explosive, in logs only faster-than-exponential
growth is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bubblelens.analysis import timeseries
from bubblelens.analysis.critical_values import CriticalValues, load_or_compute_critical_values
from bubblelens.market.reference import SP500_SERIES

SCALES = ("log", "levels")


@dataclass(frozen=True, eq=False)
class ExplosiveTest:
    series_id: str
    scale: str
    result: timeseries.RadfResult
    cvs: CriticalValues
    episodes: list                     # timeseries.Episode, at `level`, lasting >= min_duration
    level: float
    min_duration: int
    drift: float = 0.0                 # of the null random walk, in innovation standard deviations


def explosive_test(series_id: str, frame: pd.DataFrame, scale: str, *, min_window: int | None = None,
                   lag: int = 0, reps: int = 2000, seed: int = 123, level: float = 0.95, min_duration: int = 0,
                   need_draws: bool = True) -> ExplosiveTest:
    """GSADF/BSADF of `frame` (date, value; already the regular run to test) on `scale`, with its critical
    values (shipped where they match, else simulated) and the episodes PSY's rule dates (>= log T)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got '{scale}'")
    v = frame["value"].to_numpy(float)
    y = pd.Series(np.log(v) if scale == "log" else v, index=pd.DatetimeIndex(frame["date"]))
    res = timeseries.radf(y, min_window, lag)
    drift = null_drift(y.to_numpy()) if scale == "log" else 0.0
    cvs = load_or_compute_critical_values(res.n, res.min_window, res.lag, reps, seed, drift=drift,
                                          need_draws=need_draws)
    min_duration = min_duration or int(round(math.log(res.n)))
    episodes = timeseries.datestamp(res, cvs.sequence_for(res, level), min_duration)
    return ExplosiveTest(series_id, scale, res, cvs, episodes, level, min_duration, drift)


def null_drift(y: np.ndarray) -> float:
    """Drift of the null random walk for a series tested in logs: mean step over step sd (2 decimals).

    In logs, steady exponential growth is a random walk with drift. A driftless null calls such a walk
    explosive far too often (at 38 points it rejects about 30 % of drifting walks at drift/sd 0.6 and
    60 % at drift/sd 1, at a nominal 5 %), so the null walks carry the series' own drift; only growth that accelerates beyond
    it is explosive. Rounded so that series alike share one memoised simulation.
    """
    d = np.diff(np.asarray(y, dtype=float))
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    return round(float(d.mean()) / sd, 2) if sd > 0 else 0.0


def series_frame(mkt: Any, series_id: str) -> pd.DataFrame | None:
    """The regular (equally spaced) run that ends a series' numeric rows, or None without the series."""
    if series_id not in mkt.series:
        return None
    f = mkt.series[series_id].frame
    f = f[f["value"].notna() & (f["bound"] == "")].sort_values("date", kind="stable")
    return timeseries.regular_tail(f[["date", "value"]])


def sp500_reference(mkt: Any):
    """(radf result, critical values, episodes) of the PSY 2015 S&P 500 P/D sample, or None without it."""
    f = series_frame(mkt, SP500_SERIES)
    if f is None:
        return None
    t = explosive_test(SP500_SERIES, f, "levels", need_draws=False)
    return t.result, t.cvs, t.episodes
