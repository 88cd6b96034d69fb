"""Charts of the spending question and of capability against spending.

`fig-spending-chain`: Sequoia's chain from NVIDIA's data-centre revenue to the AI revenue it implies,
quarter by quarter, beside the hyperscalers' reported cash capex and the labs' run-rate statements (news
quotes, drawn as open markers and labelled so). `fig-capability-vs-spending`: the capability series the
claim `expectations-outpace-capability` compares with spending, each on its analysis scale (minutes of task
time on a log axis; benchmark scores as log-odds), with the fitted trends the claim tested.
Every plotted number is a curated row or arithmetic on rows stated in the chart's description.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bubblelens.analysis.spending import (CAPEX_CASH, CHAIN_LABELS, LAB_RUNRATES, MULTIPLIERS, NVIDIA_DC, REQUIRED,
                                          chain_multipliers)
from bubblelens.claims.engine import claim_by_id
from bubblelens.report.capability_evidence import CAPABILITY_CLAIM, lab_names
from bubblelens.report.charts.io import draw_chart
from bubblelens.report.charts.market import series_titles, sources_of
from bubblelens.report.model import ChartSpec


def spending_chain(market, env, chain: pd.DataFrame, published: pd.DataFrame) -> ChartSpec | None:
    """Annualised USD bn on a log axis: NVIDIA run-rate, x2 data-centre spend, x2 required AI revenue;
    hyperscaler cash capex (Alphabet + Amazon, and all four where all reported); lab run-rate statements."""
    mult = chain_multipliers(market)
    if chain is None or chain.empty or mult is None:
        return None
    m0, m1 = (f"{mult[k]:g}" for k in CHAIN_LABELS)
    labs = lab_names(market)
    data = chain.copy()
    used = [s for s in (NVIDIA_DC, MULTIPLIERS, REQUIRED, LAB_RUNRATES, *CAPEX_CASH.values()) if s in market.series]
    spec = ChartSpec(
        "fig-spending-chain", "The '$600B question', recomputed each quarter from reported numbers",
        "USD bn per year, log axis, by calendar quarter (NVIDIA's fiscal quarters placed in the calendar "
        f"quarter holding most of them). Blue: NVIDIA data-centre revenue x 4 (run-rate); orange: x {m0}, the "
        f"whole data centre; red: x {m1} again, the AI revenue its buyers' customers would need (Sequoia's "
        "chain; both factors are the essay's assumptions, read from data/market). Green: hyperscaler cash capex "
        "x 4 (Alphabet + Amazon; squares: all four reported). Black diamonds: Sequoia's published figures. Open "
        f"circles: {labs} revenue run-rates as reported in the news (the latest statement of each by the "
        "quarter's end) — the weakest source class here, shown for scale only.",
        "USD billion per year (log scale)", data, sources_of(market, used), "")

    def draw(fig, ax):
        x = pd.to_datetime(data.quarter_end)
        ax.plot(x, data.nvidia_dc_run_rate, "-o", ms=2.5, lw=1.1, c="C0", label="NVIDIA data-centre run-rate")
        ax.plot(x, data.data_centre_spend, "-", lw=1.1, c="C1", label=f"x {m0}: data-centre spend implied")
        ax.plot(x, data.required_ai_revenue, "-", lw=1.6, c="C3", label=f"x {m1}: AI revenue needed (Sequoia's chain)")
        ax.plot(x, data.capex_alphabet_amazon_annualised, "-", lw=1.0, c="C2",
                label="cash capex x 4: Alphabet + Amazon")
        four = data.capex_firms_n == len(CAPEX_CASH)
        ax.plot(x[four], data.capex_annualised[four], "s", ms=4, c="C2", label="cash capex x 4: all four")
        stated = data.lab_runrate_statements.notna()
        ax.plot(x[stated], data.lab_runrate_statements[stated], "o", ms=5, mfc="none", c="0.2",
                label=f"{labs} run-rates (news statements)")
        if published is not None and len(published):
            ax.plot(pd.to_datetime(published.date), published.value, "D", ms=4, c="k", label="Sequoia's published figure")
        ax.set_yscale("log")
        ax.legend(fontsize=6, loc="upper left")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 3.8))


def _pairs(claims: list) -> tuple[dict, list]:
    c = claim_by_id(claims, CAPABILITY_CLAIM)
    if c is None:
        return {}, []
    return {r["series"]: r for r in c.details.get("series", []) if "factor" in r}, c.details.get("pairs", [])


def capability_vs_spending(market, env, claims: list) -> ChartSpec | None:
    """One panel per capability series of the claim, on its analysis scale, with the fitted trend of each
    pair's window; NVIDIA's revenue on the same time axis in the first panel's twin for scale."""
    fits, pairs = _pairs(claims)
    ids = [q["slower"] for q in pairs if q["slower"] in market.series]
    if not ids:
        return None
    rows = []
    for sid in ids:
        s = market.series[sid]
        f = s.frame[s.frame["value"].notna() & (s.frame["bound"] == "")].sort_values("date")
        v = s.values_for_analysis().loc[f.index].to_numpy(float)
        rows += [(sid, d.date().isoformat(), lab, float(x), float(a)) for d, lab, x, a in
                 zip(f["date"], f["label"], f["value"], v)]
    data = pd.DataFrame(rows, columns=["series_id", "date", "label", "value", "analysis_value"])
    spec = ChartSpec(
        "fig-capability-vs-spending", "Frontier capability on the scales the capability claim tests",
        "Dots: state-of-the-art models (METR: 50 % time horizon in minutes, task suite v1.1) and record-setting "
        "benchmark scores (Epoch: plotted as odds, score / (100 - score), on a log axis, i.e. the logit). Lines: "
        "the log-linear trends the claim fitted on each pair's common window, labelled with the growth per year "
        "beside NVIDIA's data-centre revenue over the same window.",
        "minutes / odds (log scale)", data, sources_of(market, ids), "")
    by_pair = {q["slower"]: q for q in pairs}
    titles = series_titles(market, ids)

    def draw(fig, ax):
        ax.remove()
        for i, sid in enumerate(ids):
            a = fig.add_subplot(len(ids), 1, i + 1)
            g = data[data.series_id == sid]
            x = pd.to_datetime(g.date)
            a.plot(x, g.analysis_value, "o", ms=3, c=f"C{i}")
            q, fit = by_pair.get(sid, {}), fits.get(sid)
            if fit and q.get("window") and q.get("factor_slower"):
                w0, w1 = (pd.Timestamp(d) for d in q["window"])
                sel = g[(x >= w0) & (x <= w1)]
                t = (pd.to_datetime(sel.date) - w0).dt.days.to_numpy() / 365.25
                fac = q["factor_slower"]
                y0 = math.exp(float(np.mean(np.log(sel.analysis_value) - math.log(fac) * t)))
                grid = np.linspace(0, (w1 - w0).days / 365.25, 40)
                a.plot(w0 + pd.to_timedelta(grid * 365.25, unit="D"), y0 * fac ** grid, "-", c=f"C{i}", lw=1.2,
                       label=f"trend {q['window'][0][:7]} to {q['window'][1][:7]}: x{fac:.2f} per year "
                             f"(NVIDIA data centre: x{q['factor_faster']:.2f})")
                a.legend(fontsize=6, loc="upper left")
            a.set_yscale("log")
            a.set_title(titles[sid], fontsize=7)
            a.tick_params(labelsize=6)
        fig.subplots_adjust(hspace=0.55)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta, figsize=(6.7, 2.2 * len(ids) + 0.6))
