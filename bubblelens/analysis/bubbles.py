"""The bubble yardstick: explosive-root tests of the S&P 500 price/dividend ratio, date-stamped.

PSY (2015) find the dot-com episode in this series; the report shows it beside the AI series so a reader
sees what a detected bubble looks like under the same test and conventions.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bubblelens.analysis import timeseries
from bubblelens.analysis.critical_values import load_or_compute_critical_values
from bubblelens.market.reference import SP500_SERIES


def sp500_reference(mkt: Any):
    """(radf result, critical values, episodes) of the S&P 500 P/D ratio in `mkt`, or None without it."""
    if SP500_SERIES not in mkt.series:
        return None
    frame = mkt.series[SP500_SERIES].frame.sort_values("date")
    y = pd.Series(frame["value"].to_numpy(), index=pd.DatetimeIndex(frame["date"]))
    result = timeseries.radf(y)
    cvs = load_or_compute_critical_values(result.n, result.min_window, result.lag)
    # PSY (2015) require an episode to last at least log(T) observations.
    episodes = timeseries.datestamp(result, cvs.sequence_for(result, 0.95), min_duration=int(round(math.log(result.n))))
    return result, cvs, episodes
