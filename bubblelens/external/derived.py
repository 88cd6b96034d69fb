"""Series derived from the external data sets, in the shapes the analysis layer consumes.

Why here and not in analysis/: each function only re-expresses a loaded frame (a ratio, a comparison)
with no statistics, and each encodes a data-set convention that belongs beside the loader (Shiller's
0.0-means-missing months, month-end dating). The analysis layer then tests and fits plain month-end
series without knowing where they came from; `views.py` turns these into the id'd views claims cite.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# denominator -> the name the ratio series carries (and the series id a report may show)
RATIO_NAMES = {"dividend": "sp500_pd_ratio", "earnings": "sp500_pe_ratio"}


def valuation_ratio(shiller: pd.DataFrame, denominator: str) -> pd.Series:
    """S&P 500 price over dividends ("dividend") or over earnings ("earnings"), one value per month.

    Indexed by month-end dates (as `External.shiller["date"]` is); only the months where the denominator
    was published are kept, so the series ends with Shiller's last dividend or earnings month (2026-03 in
    the workbook of 2026-05) even though the price goes on. Dropping, rather than carrying the last
    dividend forward, keeps every point a ratio Shiller's
    own data state: the bubble tests must not see a valuation the producer never published. This is the
    series Phillips, Shi & Yu (2015) tested (`data/market/sp500_pd_ratio_psy2015.csv` for 1871-2010),
    built from monthly average prices and annualised dividends.
    """
    if denominator not in RATIO_NAMES:
        raise ValueError(f"denominator must be one of {', '.join(RATIO_NAMES)}, not {denominator!r}")
    frame = shiller.loc[shiller[denominator].notna() & (shiller[denominator] > 0)]
    ratio = frame["price"].to_numpy(dtype=float) / frame[denominator].to_numpy(dtype=float)
    index = pd.DatetimeIndex(frame["date"], name="date")
    return pd.Series(ratio, index=index, name=RATIO_NAMES[denominator])


def cape(shiller: pd.DataFrame) -> pd.Series:
    """Shiller's CAPE (cyclically adjusted P/E: real price over the ten-year average of real earnings), one
    value per month, from its first month (1881) to the last month with published earnings.

    The workbook prints CAPE for a month or two past its last earnings (2026-04 and 2026-05 in the 2026-05
    copy), on earnings Shiller had not yet published; those months are left out, so that CAPE, P/D and P/E
    share one sample and a bubble test sees no valuation resting on estimated fundamentals.
    """
    last = shiller.loc[shiller["earnings"].notna() & (shiller["earnings"] > 0), "date"].max()
    frame = shiller.loc[shiller["cape"].notna() & (shiller["cape"] > 0) & (shiller["date"] <= last)]
    return pd.Series(frame["cape"].to_numpy(dtype=float), index=pd.DatetimeIndex(frame["date"], name="date"),
                     name="sp500_cape")


def relative_difference(series: pd.Series, reference: pd.Series) -> dict[str, float | int]:
    """How far `series` is from `reference` on the dates both have: mean and max |a - b| / |b|, count.

    Used to show that a series rebuilt from the external data agrees with the one a paper tested (the
    report quotes these numbers rather than asserting "the same series"). Dates missing from either side
    are left out, not filled; `months` says how many were compared.
    """
    joined = pd.concat([series.rename("a"), reference.rename("b")], axis=1, join="inner").dropna()
    if joined.empty:
        return {"mean": float("nan"), "max": float("nan"), "months": 0}
    rel = np.abs(joined["a"].to_numpy() - joined["b"].to_numpy()) / np.abs(joined["b"].to_numpy())
    return {"mean": float(rel.mean()), "max": float(rel.max()), "months": int(len(rel))}

