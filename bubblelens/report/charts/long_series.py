"""Charts of the long market series: the explosive-root panels, NVIDIA's revenue by regime, Epoch's trends.

Every plotted value is a validated curated row or a view of a shipped external data set (external/views.py);
each chart's sources are exactly the series it plots, and its CSV holds the numbers drawn.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bubblelens.analysis.long_series import NVIDIA_BREAKS
from bubblelens.claims.engine import claim_by_id
from bubblelens.report.charts.io import draw_chart
from bubblelens.report.charts.market import series_titles, sources_of
from bubblelens.report.model import ChartSpec

SCALE_TEXT = {"log": "log revenue: only faster-than-exponential growth is explosive",
              "levels": "ratio in levels: prices running away from dividends"}


def bsadf_panels(market, env, panels) -> ChartSpec | None:
    """One figure, one panel per series: BSADF against its 95 % critical-value sequence, episodes shaded."""
    if not panels:
        return None
    rows = []
    for t in panels:
        crit = t.cvs.sequence(t.level, "psy")
        rows += [(t.series_id, t.scale, pd.Timestamp(d).date().isoformat(), float(b), float(c))
                 for d, b, c in zip(t.result.index, t.result.bsadf, crit)]
    data = pd.DataFrame(rows, columns=["series_id", "scale", "date", "bsadf", "cv95"])
    spec = ChartSpec(
        "fig-bsadf-panels", "Explosive-root date-stamping of NVIDIA's data-centre revenue",
        "Backward sup ADF statistic (PSY 2015, lag 0, PSY minimum window) of log revenue against its 95 % Monte "
        "Carlo critical-value sequence (2,000 random walks of the same length and drift); shaded: episodes "
        "above it for at least log(T) observations.",
        "BSADF statistic", data, sources_of(market, [t.series_id for t in panels]), "")
    titles = series_titles(market, [t.series_id for t in panels])

    def draw(fig, ax):
        ax.remove()
        for i, t in enumerate(panels):
            a = fig.add_subplot(len(panels), 1, i + 1)
            g = data[data.series_id == t.series_id]
            x = pd.to_datetime(g.date)
            a.plot(x, g.bsadf, lw=0.9, label="BSADF")
            a.plot(x, g.cv95, lw=0.8, ls="--", c="C3", label="95 % critical value")
            for e in t.episodes:
                a.axvspan(pd.Timestamp(e.start), pd.Timestamp(e.end), color="C1", alpha=0.25, lw=0)
            a.set_title(f"{titles[t.series_id]} — {SCALE_TEXT[t.scale]} (n = {t.result.n})", fontsize=7)
            a.tick_params(labelsize=6)
            a.legend(fontsize=6, loc="upper left")
        fig.subplots_adjust(hspace=0.45)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 2.4 * len(panels) + 0.6))


def nvidia_regimes(market, env, regimes: list[dict]) -> ChartSpec | None:
    """Quarterly revenue on a log axis with one fitted trend per pre-declared regime."""
    good = [r for r in regimes if "regimes" in r]
    if not good:
        return None
    rows, fits = [], []
    for r in good:
        f = market.series[r["series"]].frame.sort_values("date")
        rows += [(r["series"], d.date().isoformat(), float(v), "") for d, v in zip(f["date"], f["value"])]
        for g in r["regimes"]:
            fits.append((r["series"], g.first_date, g.last_date, g.annual_factor, g.lo, g.hi))
    data = pd.DataFrame(rows, columns=["series_id", "date", "value_usd_bn", "note"])
    breaks = "; ".join(f"{d}: {why}" for d, why in NVIDIA_BREAKS)
    spec = ChartSpec(
        "fig-nvidia-regimes", "NVIDIA quarterly revenue with a trend per pre-declared regime",
        f"Dots: reported revenue (USD bn, log axis). Lines: log-linear fits within each regime, the breaks "
        f"declared in advance ({breaks}); legend: annual growth factor with its 95 % HAC (Newey-West) interval.",
        "USD billion (log scale)", data, sources_of(market, [r["series"] for r in good]), "")
    titles = series_titles(market, [r["series"] for r in good])

    def draw(fig, ax):
        for i, r in enumerate(good):
            g = data[data.series_id == r["series"]]
            ax.plot(pd.to_datetime(g.date), g.value_usd_bn, "o", ms=2.5, c=f"C{i}",
                    label=titles[r["series"]])
            for sid, d0, d1, fac, lo, hi in (x for x in fits if x[0] == r["series"]):
                sel = g[(pd.to_datetime(g.date) >= d0) & (pd.to_datetime(g.date) <= d1)]
                t = (pd.to_datetime(sel.date) - d0).dt.days.to_numpy() / 365.25
                y0 = np.exp(np.mean(np.log(sel.value_usd_bn) - np.log(fac) * t))
                ax.plot(pd.to_datetime(sel.date), y0 * fac ** t, "-", c=f"C{i}", lw=1.3,
                        label=f"  {d0.year}–{d1.year}: ×{fac:.2f} [{lo:.2f}, {hi:.2f}] per year")
        for d, _ in NVIDIA_BREAKS:
            ax.axvline(pd.Timestamp(d), c="0.5", lw=0.7, ls=":")
        ax.set_yscale("log")
        ax.legend(fontsize=6, loc="upper left")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 3.6))


def epoch_compute(market, env, trends: pd.DataFrame) -> ChartSpec | None:
    """Training compute of notable models over time, frontier models highlighted, both fits drawn."""
    sid_all, sid_front = "epoch_training_compute", "epoch_frontier_training_compute"
    if sid_all not in market.series or trends.empty:
        return None
    all_f, front = market.series[sid_all].frame, market.series[sid_front].frame
    frontier = set(front["label"])
    data = pd.DataFrame({"model": all_f["label"], "date": all_f["date"].dt.date.astype(str),
                         "training_compute_flop": all_f["value"], "frontier": all_f["label"].isin(frontier)})
    spec = ChartSpec(
        "fig-epoch-compute", "Training compute of notable AI models, 2010-2024 (Epoch AI)",
        "Each dot one model (Epoch AI, Notable AI Models, CC BY 4.0); orange: Epoch's frontier flag. Lines: "
        "log-linear fits from 2010, errors clustered by publication year; legend: annual growth factor with "
        "its 95 % interval.", "training compute (FLOP, log scale)", data, sources_of(market, [sid_all]), "")
    fits = trends[(trends.since == "2010") & trends.view.isin([sid_all, sid_front])]
    fit_frames = {view: market.series[view].frame for view in fits.view.unique()}

    def draw(fig, ax):
        x = pd.to_datetime(data.date)
        ax.plot(x[~data.frontier], data.training_compute_flop[~data.frontier], "o", ms=2, c="0.6", alpha=0.6,
                label="notable models")
        ax.plot(x[data.frontier], data.training_compute_flop[data.frontier], "o", ms=2.5, c="C1",
                label="frontier models")
        t0 = pd.Timestamp("2010-01-01")
        for r in fits.itertuples():
            f = fit_frames[r.view]
            t = (f["date"] - t0).dt.days.to_numpy() / 365.25
            y0 = np.exp(np.mean(np.log(f["value"]) - np.log(r.factor) * t))
            grid = np.linspace(t.min(), t.max(), 50)
            ax.plot(t0 + pd.to_timedelta(grid * 365.25, unit="D"), y0 * r.factor ** grid,
                    c="C1" if r.view == sid_front else "0.3", lw=1.2,
                    label=f"fit, {r.subset}: ×{r.factor:.2f} [{r.lo:.2f}, {r.hi:.2f}] per year")
        ax.set_yscale("log")
        ax.legend(fontsize=6, loc="upper left")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 3.6))


BUBBLE_CLAIM = "hype-explosive"


def _window_claim(claims: list):
    c = claim_by_id(claims, BUBBLE_CLAIM)
    return c if c is not None and c.details.get("statistic") == "explosive_window" else None


def valuation_ratios(market, env, claims: list) -> ChartSpec | None:
    """The valuation ratios the bubble claim tests, in levels over their whole sample, its two windows shaded."""
    c = _window_claim(claims)
    tested = [t for t in (c.details.get("series", []) if c else []) if t["series"] in market.series]
    if not tested:
        return None
    rows = []
    for t in tested:
        f = market.series[t["series"]].frame
        f = f[f["date"] <= pd.Timestamp(t["last"])]
        rows += [(t["series"], d.date().isoformat(), float(v)) for d, v in zip(f["date"], f["value"])]
    data = pd.DataFrame(rows, columns=["series_id", "date", "ratio"])
    spec = ChartSpec(
        "fig-valuation-ratios", "S&P 500 valuation ratios since 1871: price/dividend, price/earnings and CAPE",
        "Monthly ratios from Shiller's workbook to the newest month with dividends and earnings, log axis. "
        "Shaded: the windows the bubble test examines (orange: the generative-AI era from the release of "
        "ChatGPT; grey: the dot-com yardstick).", "ratio (log scale)", data,
        sources_of(market, [t["series"] for t in tested]), "")
    ai = c.details["series"][0].get("window")
    dotcom = next((t["yardstick"]["window"] for t in tested if t.get("yardstick", {}).get("window")), None)
    titles = series_titles(market, [t["series"] for t in tested])

    def draw(fig, ax):
        for i, t in enumerate(tested):
            g = data[data.series_id == t["series"]]
            ax.plot(pd.to_datetime(g.date), g.ratio, lw=0.7, c=f"C{i}", label=titles[t["series"]])
        for win, colour in ((ai, "C1"), (dotcom, "0.6")):
            if win:
                ax.axvspan(pd.Timestamp(win[0]), pd.Timestamp(win[1]), color=colour, alpha=0.25, lw=0)
        ax.set_yscale("log")
        ax.legend(fontsize=6, loc="upper left")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 3.4))


def valuation_bsadf(market, env, claims: list) -> ChartSpec | None:
    """What the bubble test saw: the BSADF of each window end, in the AI era and the dot-com yardstick,
    against each window's bootstrap 95 % value of the statistic (the sup over the window)."""
    c = _window_claim(claims)
    tested = [t for t in (c.details.get("series", []) if c else []) if "bsadf" in t]
    if not tested:
        return None
    rows = []
    for t in tested:
        for part, d in (("generative-AI era", t), ("dot-com yardstick", t.get("yardstick") or {})):
            rows += [(t["series"], part, date, float(b), float(d["cv95"]), float(d["p_value"]))
                     for date, b in d.get("bsadf", [])]
    data = pd.DataFrame(rows, columns=["series_id", "window", "window_end", "bsadf", "bootstrap_cv95", "p_value"])
    spec = ChartSpec(
        "fig-valuation-bsadf", "What the bubble test saw: BSADF in the generative-AI era and in the dot-com years",
        "For each month ending a window, the backward sup ADF statistic (PSY 2015; lag chosen by BIC, PSY "
        "minimum window) of each ratio on the data up to the window's last month. Dashed: the 95 % value of "
        "the window's statistic (its largest BSADF) under the sieve wild bootstrap; a window whose BSADF "
        "crosses it is explosive at 5 % before the Holm adjustment.", "BSADF statistic", data,
        sources_of(market, [t["series"] for t in tested]), "")
    titles = series_titles(market, [t["series"] for t in tested])

    def draw(fig, ax):
        ax.remove()
        for i, t in enumerate(tested):
            a = fig.add_subplot(len(tested), 1, i + 1)
            for part, style in (("dot-com yardstick", "0.45"), ("generative-AI era", "C1")):
                g = data[(data.series_id == t["series"]) & (data.window == part)]
                if g.empty:
                    continue
                x = pd.to_datetime(g.window_end)
                a.plot(x, g.bsadf, lw=1.0, c=style, label=f"{part}: p {g.p_value.iloc[0]:.3f}")
                a.plot([x.min(), x.max()], [g.bootstrap_cv95.iloc[0]] * 2, ls="--", lw=0.8, c=style)
            a.set_title(f"{titles[t['series']]} (lag {t['lag']}, n = {t['n']})", fontsize=7)
            a.tick_params(labelsize=6)
            a.legend(fontsize=6, loc="upper center")          # the years between the windows are empty
        fig.subplots_adjust(hspace=0.6)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 2.0 * len(tested) + 0.6))
