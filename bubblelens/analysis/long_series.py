"""The long market series the report sets out in full: NVIDIA's revenue by regime, Epoch's compute and cost
trends beside Epoch's own published rates, and the two explosive-root panels.

Breaks are pre-declared here, with the event that fixes each date, never chosen from the data (a break
picked where the fit improves most would need sup-F critical values, Andrews 1993). Epoch's published
rates are read from the curated series `ai_trend_rates_epoch` (each quoted with its passage), so the
comparison says which of our intervals contains which quoted figure.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bubblelens.analysis import trends
from bubblelens.analysis.bubbles import ExplosiveTest, explosive_test, series_frame
from bubblelens.analysis.growth import fit_series

# Pre-declared breaks of the NVIDIA series (issue 12): the dates are events, not fits.
NVIDIA_BREAKS = (("2020-07-26", "Mellanox networking enters Data Center (Q2 FY2021, first full quarter)"),
                 ("2022-11-30", "ChatGPT launched"))
NVIDIA_SERIES = ("nvidia_quarterly_revenue", "nvidia_datacenter_revenue")
# The panel of the Monte Carlo explosive-root figure: a fundamental in logs. The valuation ratios are tested
# with a bootstrap null over two windows (claims/explosive_statistics.explosive_window) and drawn from that
# claim's own details, not re-tested here.
PANELS = (("nvidia_datacenter_revenue", "log"),)
# (view, since, label of the published rate in ai_trend_rates_epoch, what the quoted rate covers)
EPOCH_TRENDS = (
    ("epoch_training_compute", "2010-01-01", "", "all notable models"),
    ("epoch_frontier_training_compute", "2010-01-01", "", "frontier models"),
    ("epoch_frontier_training_compute", "2018-01-01", "training_compute_growth_frontier_since_2018",
     "frontier models since 2018"),
    ("epoch_training_cost", "2010-01-01", "", "all notable models with a cost estimate"),
    ("epoch_frontier_training_cost", "2016-01-01", "amortized_training_cost_growth_since_2016",
     "frontier models since 2016"),
)


def nvidia_regimes(mkt: Any, level: float = 0.95) -> list[dict]:
    """Per series: growth in each regime between the pre-declared breaks, and a test of each slope change."""
    out = []
    for sid in NVIDIA_SERIES:
        f = series_frame(mkt, sid)
        if f is None:
            continue
        try:
            rg = trends.regime_growth(f["date"], f["value"], [d for d, _ in NVIDIA_BREAKS], level)
        except ValueError as exc:
            out.append({"series": sid, "error": str(exc)})
            continue
        out.append({"series": sid, "title": mkt.series[sid].meta.title, "n": len(f), "errors": rg.errors,
                    "lags": rg.lags, "regimes": rg.regimes, "breaks": list(zip(rg.breaks, NVIDIA_BREAKS))})
    return out


def _published(mkt: Any, label: str) -> dict | None:
    if not label or "ai_trend_rates_epoch" not in mkt.series:
        return None
    f = mkt.series["ai_trend_rates_epoch"].frame
    hit = f[f["label"] == label]
    if hit.empty:
        return None
    r = hit.iloc[0]
    return {"label": label, "value": float(r["value"]), "note": r["note"], "source_id": r["source_id"]}


def epoch_trends(mkt: Any, level: float = 0.95) -> pd.DataFrame:
    """Log-linear growth of Epoch's training compute and cost (errors clustered by calendar year), each
    row beside the rate Epoch published for the same subset and period, where one is quoted."""
    rows = []
    for view, since, label, subset in EPOCH_TRENDS:
        if view not in mkt.series:
            continue
        try:
            fit, f = fit_series(mkt.series[view], level, since, cross_section=True)
        except ValueError:
            continue
        pub = _published(mkt, label)
        rows.append({"view": view, "subset": subset, "since": since[:4], "n": fit.n,
                     "years": f["date"].dt.year.nunique(), "factor": fit.annual_factor, "lo": fit.lo, "hi": fit.hi,
                     "errors": fit.errors, "df": fit.df,
                     "published": pub["value"] if pub else math.nan, "published_note": pub["note"] if pub else "",
                     "inside": (fit.lo <= pub["value"] <= fit.hi) if pub else None})
    return pd.DataFrame(rows)


def explosive_panels(mkt: Any) -> list[ExplosiveTest]:
    """The figure's two panels, tested as the claims test them (regular run, PSY window, log T episodes)."""
    out = []
    for sid, scale in PANELS:
        f = series_frame(mkt, sid)
        if f is not None and len(f) >= 24:
            out.append(explosive_test(sid, f, scale))
    return out
