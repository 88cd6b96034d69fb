"""Growth of the curated series: log-linear fits in the direction of "more", for tables, charts and claims.

Analysis, not presentation: the report formats this table, the claims read the same fits. Which way is
"more" is decided by `Series.more_is_reciprocal` alone (a falling price, a falling error rate): such a
series' factor is inverted, so a factor above 1 always means more capability per dollar, more money, more
attention — in this table, its chart and the claims.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from bubblelens.analysis import timeseries, trends

GROWTH_CATEGORIES = ("hype", "adoption", "capability", "cost")
# What a growth row measures, by the series' transform (market/schema.py TRANSFORMS).
MEASURES = {"": "value", "error_rate": "100 − value (error rate)",
            "odds": "value / (100 − value) (odds; log = logit)"}
MIN_REGULAR = 12                 # a regular run this long is fitted alone (HAC errors need equal spacing)
MODELS = ("trend", "random_walk")  # fit_series: log-linear trend, or random walk with drift in logs


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


def growth_rows(s) -> pd.DataFrame:
    """Dated rows of a series with `v` on the analysis scale oriented so that larger means more
    (`Series.toward_more`); bounds ('<', '>') and missing values dropped.

    Remembered on the series for its frame object and scale (a claim reads them a dozen times per
    evaluation, and its verdict probabilities evaluate it hundreds of times): frames are never changed in
    place once loaded — a changed series is a new frame (dataclasses.replace) — so the key sees every
    change. Callers must not modify the returned frame."""
    key = (s.meta.direction, s.meta.transform)
    cached = getattr(s, "_growth_rows", None)         # (the frame itself, scale, rows): `is`, never a reused id
    if cached is not None and cached[0] is s.frame and cached[1] == key:
        return cached[2]
    f = s.frame.assign(v=s.toward_more())
    bound = f["bound"].fillna("") if "bound" in f else pd.Series("", index=f.index)
    rows = f[f["v"].notna() & (bound == "")].sort_values("date", kind="stable")
    s._growth_rows = (s.frame, key, rows)
    return rows


def fit_series(s, level: float = 0.95, since: str = "", cross_section: bool = False, until: str = "",
               model: str = "trend"):
    """(fit, rows fitted) of one series' growth toward "more" — the one fit the growth table, its chart
    and the claims share — on the dates from `since` to `until` (inclusive; "" = open). A cross-section
    (many models per year) gets errors clustered by calendar year; a time series with an early gap is
    fitted on its regular run when that has >= MIN_REGULAR points (HAC errors need equal spacing: e.g.
    NVIDIA data centre, the quarters after its gap); short irregular series get classical OLS
    (analysis/trends.py). model="random_walk" fits the same rows as a random walk with drift in logs
    (`trends.drift_growth`; equally spaced time series only). Raises ValueError as the fits do."""
    if model not in MODELS:
        raise ValueError(f"fit_series: model must be one of {', '.join(MODELS)}, got {model!r}")
    if model == "random_walk" and cross_section:
        raise ValueError(f"{s.meta.series_id}: a cross-section has no steps for a random walk")
    f = growth_rows(s)
    if since:
        f = f[f["date"] >= pd.Timestamp(since)]
    if until:
        f = f[f["date"] <= pd.Timestamp(until)]
    if not cross_section and len(timeseries.regular_tail(f)) >= MIN_REGULAR:
        f = timeseries.regular_tail(f)
    if model == "random_walk":
        return trends.drift_growth(f["date"], f["v"], level), f
    fit = trends.cross_section_growth(f["date"], f["v"], level) if cross_section \
        else trends.growth_rate(f["date"], f["v"], level)
    return fit, f


def growth_table(market) -> pd.DataFrame:
    """Log-linear growth of every numeric series of GROWTH_CATEGORIES, in the direction of "more"."""
    rows = []
    for s in numeric_series(market, GROWTH_CATEGORIES) + labelled_growth(market):
        rows_in = growth_rows(s)
        if len(rows_in) < 2 or (s.values_for_analysis().loc[rows_in.index] <= 0).any():
            continue
        fit, f = fit_series(s)
        factor, lo, hi = fit.annual_factor, fit.lo, fit.hi
        rows.append({"series_id": s.meta.series_id, "title": s.meta.title, "category": s.meta.category,
                     "measure": MEASURES.get(s.meta.transform, "value")
                     + (", inverted (falls = more)" if s.more_is_reciprocal else ""),
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


# The scales a bounded percentage score can be analysed on (market/schema.py TRANSFORMS).
SCORE_SCALES = {"odds": "odds (log = logit)", "error_rate": "error rate, inverted", "": "raw score"}


def scale_sensitivity(mkt, pairs: list[dict], level: float = 0.95) -> pd.DataFrame:
    """A growth comparison's pairs whose `slower` series is a bounded score, compared on every scale.

    A ratio of log growth rates is unit-free under rescaling, not under a change of scale: a score that
    saturates grows ever more slowly in points, steadily in odds, and its error rate falls ever faster.
    So the same data can put a benchmark behind or ahead of a money series; this table shows by how
    much, for the window each pair was tested on (pairs: the claim's details, with `window`; each series
    fitted by the model the claim used, `model_faster` / `model_slower`; pairs it left out are skipped)."""
    rows = []
    for q in pairs:
        a, s = mkt.series.get(q["faster"]), mkt.series.get(q["slower"])
        if a is None or s is None or s.meta.transform not in ("odds", "error_rate") or not q.get("window") \
                or q.get("left_out"):
            continue
        first, last = q["window"]
        fit_a, _ = fit_series(a, level, first, until=last, model=q.get("model_faster", "trend"))
        for transform, label in SCORE_SCALES.items():
            alt = dataclasses.replace(s, meta=dataclasses.replace(s.meta, transform=transform))
            fit_b, f = fit_series(alt, level, first, until=last, model=q.get("model_slower", "trend"))
            c = trends.compare_growth(fit_a, fit_b, level)
            rows.append({"faster": q["faster"], "slower": q["slower"], "scale": label, "declared": transform ==
                         s.meta.transform, "n": len(f), "factor_slower": fit_b.annual_factor, "ratio": c.ratio,
                         "lo": c.lo, "hi": c.hi, "p_value": c.p_value})
    return pd.DataFrame(rows)
