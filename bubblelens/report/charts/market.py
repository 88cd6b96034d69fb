"""Charts of the curated market data and the time-series tests: one function per chart id -> ChartSpec.

Every plotted value comes from a validated series row; each chart lists the sources (with quotes) of
exactly the rows it plots, so `charts/<id>.json` is enough to trace a number back to its passage.
"""
from __future__ import annotations

import math
import textwrap
import warnings

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from bubblelens.analysis.growth import labelled_growth, numeric_series
from bubblelens.report.charts.io import draw_chart
from bubblelens.report.model import ChartSpec, Source

# Two-point annual series leave AutoDateLocator no natural interval; its fallback is fine, its warning noise.
warnings.filterwarnings("ignore", message="AutoDateLocator was unable to pick an appropriate interval")



def sources_of(market, series_ids) -> list[Source]:
    ids: list[str] = []
    for sid in series_ids:
        ids += [s for s in market.series[sid].source_ids() if s not in ids]
    return [market.sources[s] for s in ids if s in market.sources]


def series_titles(market, series_ids) -> dict[str, str]:
    """The titles a drawing prints (the id of a series the market data lacks), read before it draws: a draw
    function closes over only what it plots, so that editing another series leaves its image reusable
    (charts/reuse.py)."""
    return {sid: market.series[sid].meta.title if sid in market.series else sid for sid in series_ids}


def hype_vs_capability(market, env) -> ChartSpec | None:
    picked = numeric_series(market, ("hype", "capability"))
    picked += [s for s in labelled_growth(market) if s.meta.category in ("hype", "capability")]
    rows = []
    for s in picked:
        f = s.frame[s.frame["bound"] == ""].sort_values("date")
        v = s.values_for_analysis().loc[f.index].to_numpy(dtype=float)
        if len(f) < 2 or (v <= 0).any():
            continue
        index = v[0] / v if s.more_is_reciprocal else v / v[0]
        rows += [(s.meta.series_id, s.meta.category, d.date().isoformat(), float(x), float(i))
                 for d, x, i in zip(f["date"], v, index)]
    if not rows:
        return None
    data = pd.DataFrame(rows, columns=["series_id", "category", "date", "value", "index_first_eq_1"])
    spec = ChartSpec(
        "fig-hype-vs-capability", "Hype against capability on one time axis",
        "Each series indexed to its first value (= 1) in the direction of 'more': falling prices and error rates are "
        "inverted so that up means more capability per dollar. Solid lines: hype; dashed: capability.",
        "index, first value = 1 (log scale)", data, sources_of(market, data.series_id.unique()), "")

    def draw(fig, ax):
        for sid, g in data.groupby("series_id", sort=False):
            style = "-" if g.category.iloc[0] == "hype" else "--"
            ax.plot(pd.to_datetime(g.date), g.index_first_eq_1, style, marker="o", ms=3, lw=1.2, label=sid)
        ax.set_yscale("log")
        ax.set_ylabel("index (first = 1)")
        ax.legend(fontsize=6, ncol=2, loc="upper left")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 4.2))


def growth_rates(market, table: pd.DataFrame, env) -> ChartSpec | None:
    if table.empty:
        return None
    data = table[["series_id", "category", "n", "annual_factor", "lo", "hi"]].copy()
    spec = ChartSpec("fig-growth-rates", "Annual growth factors with 95 % intervals",
                     "Log-linear trend fits on irregularly spaced dates; the factor is in the direction of 'more' "
                     "(falling prices and error rates inverted). Series with two points have no interval.",
                     "growth factor per year (log scale)", data, sources_of(market, data.series_id), "")

    def draw(fig, ax):
        colours = {"hype": "C3", "adoption": "C2", "capability": "C0", "cost": "C4"}
        y = np.arange(len(data))[::-1]
        for yi, (_, r) in zip(y, data.iterrows()):
            c = colours.get(r.category, "grey")
            if np.isfinite(r.lo) and np.isfinite(r.hi):
                ax.plot([r.lo, r.hi], [yi, yi], c=c, lw=1.5)
            ax.plot([r.annual_factor], [yi], "o", c=c, ms=4)
        ax.axvline(1.0, c="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y, [f"{s} ({c}, n={n})" for s, c, n in zip(data.series_id, data.category, data.n)], fontsize=6)
        ax.set_xlabel("× per year")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 0.25 * len(data) + 1.4))


def category_panels(market, env, category: str, chart_id: str, title: str) -> ChartSpec | None:
    series = numeric_series(market, (category,))
    if not series:
        return None
    rows = []
    for s in series:
        rows += [(s.meta.series_id, s.meta.unit, r.date.date().isoformat(), r.value, r.bound, r.source_id)
                 for r in s.frame.itertuples()]
    data = pd.DataFrame(rows, columns=["series_id", "unit", "date", "value", "bound", "source_id"])
    spec = ChartSpec(chart_id, title, "Curated values as published; each panel one series, in its own unit. "
                     "Open markers are bounds ('less than' / 'more than').", "see panel titles", data,
                     sources_of(market, [s.meta.series_id for s in series]), "")
    cols = 2 if len(series) > 1 else 1
    nrows = math.ceil(len(series) / cols)

    def draw(fig, ax):
        ax.remove()
        for i, s in enumerate(series):
            a = fig.add_subplot(nrows, cols, i + 1)
            locator = mdates.AutoDateLocator(minticks=2, maxticks=4)
            a.xaxis.set_major_locator(locator)
            a.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            g = data[data.series_id == s.meta.series_id]
            exact = g[g.bound == ""]
            a.plot(pd.to_datetime(exact.date), exact.value, marker="o", ms=3, lw=1.2)
            bounded = g[g.bound != ""]
            if len(bounded):
                a.plot(pd.to_datetime(bounded.date), bounded.value, "o", mfc="none", ms=5)
            a.set_title(textwrap.fill(f"{s.meta.title} ({s.meta.unit})", 48), fontsize=7)
            a.tick_params(labelsize=6)
        fig.subplots_adjust(hspace=0.75, wspace=0.25)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 2.3 * nrows + 0.9))


def all_market_charts(market, env, growth: pd.DataFrame) -> list[ChartSpec]:
    charts = [
        category_panels(market, env, "hype", "fig-hype-series", "Hype: investment, revenue and attention"),
        category_panels(market, env, "adoption", "fig-adoption-series", "Adoption: survey shares and users"),
        category_panels(market, env, "capability", "fig-capability-series", "Capability and price"),
        category_panels(market, env, "disillusionment", "fig-disillusionment-series",
                        "Disillusionment: abandonment and return signals"),
        hype_vs_capability(market, env),
        growth_rates(market, growth, env),
    ]
    return [c for c in charts if c is not None]
