"""Growth of the curated series: log-linear fits in the direction of "more", for tables, charts and claims.

Analysis, not presentation: the report formats this table, the claims read the same fits. Which way is
"more" is decided by `Series.more_is_reciprocal` alone (a falling price, a falling error rate): such a
series' factor is inverted, so a factor above 1 always means more capability per dollar, more money, more
attention — in this table, its chart and the claims.
"""
from __future__ import annotations

import math

import pandas as pd

from bubblelens.analysis import timeseries

GROWTH_CATEGORIES = ("hype", "adoption", "capability", "cost")


def numeric_series(market, categories) -> list:
    """Series of the given categories with numeric values and one value per date (no labels)."""
    out = []
    for s in market.series.values():
        if s.meta.category not in categories or s.meta.unit in ("category", "x_per_year"):
            continue
        f = s.frame
        if f["value"].isna().all() or (f["label"] != "").any():
            continue
        out.append(s)
    return sorted(out, key=lambda s: (categories.index(s.meta.category), s.meta.series_id))


def growth_table(market) -> pd.DataFrame:
    """Log-linear growth of every numeric series of GROWTH_CATEGORIES, in the direction of "more"."""
    rows = []
    for s in numeric_series(market, GROWTH_CATEGORIES) + labelled_growth(market):
        f = s.frame[s.frame["bound"] == ""]
        values = s.values_for_analysis().loc[f.index]
        if len(f) < 2 or (values <= 0).any():
            continue
        fit = timeseries.growth_rate(list(f["date"]), list(values))
        flip = s.more_is_reciprocal
        factor, lo, hi = (1 / fit.annual_factor, 1 / fit.hi, 1 / fit.lo) if flip else (fit.annual_factor, fit.lo, fit.hi)
        rows.append({"series_id": s.meta.series_id, "title": s.meta.title, "category": s.meta.category,
                     "measure": ("100 − value (error rate)" if s.meta.transform == "error_rate" else "value")
                     + (", inverted (falls = more)" if flip else ""),
                     "n": fit.n, "first": f["date"].min().date().isoformat(), "last": f["date"].max().date().isoformat(),
                     "annual_factor": factor, "lo": lo, "hi": hi,
                     "doubling_years": math.log(2) / math.log(factor) if factor > 0 and factor != 1 else math.nan,
                     "p_value": fit.p_value, "reliability": s.meta.reliability})
    return pd.DataFrame(rows)


def labelled_growth(market) -> list:
    """Labelled series whose labels are distinct entities along one trend (e.g. training cost per model)."""
    return [s for s in market.series.values() if s.meta.category in GROWTH_CATEGORIES
            and s.meta.unit not in ("category", "x_per_year") and (s.frame["label"] != "").any()
            and s.frame["date"].is_unique and not s.frame["value"].isna().any()]
