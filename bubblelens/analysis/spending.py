"""The spending side of the "$600B question": what AI compute spending would have to earn, quarter by quarter.

David Cahn (Sequoia Capital, "AI's $200B Question", 2023; "AI's $600B Question", 2024) turned NVIDIA's
data-centre revenue into the annual AI revenue it implies: the run-rate (x4 a quarter), x2 for the rest of
the data centre (energy, buildings, backup power: "for every $1 spent on a GPU, roughly $1 needs to be spent
on energy costs"), x2 again for the end users' 50 % gross margin. The essays applied the chain to forecasts;
here it runs on reported quarters, with the two multipliers read from the curated series
`sequoia_chain_multipliers` (each quoted from its source), so a reader can change an assumption in the data
and see the chain move. Beside it: the hyperscalers' cash capital expenditure as reported (a different
measure of the same build-out: it includes buildings and non-AI data centres, and firms define it
differently) and the AI labs' revenue run-rate statements, which are news quotes — shown for scale, never
the basis of a verdict.

Nothing here tests anything: the chain is arithmetic on reported numbers, and its multipliers are
assumptions, stated as such.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

NVIDIA_DC = "nvidia_datacenter_revenue"
MULTIPLIERS = "sequoia_chain_multipliers"
REQUIRED = "sequoia_required_ai_revenue"
LAB_RUNRATES = "ai_lab_revenue_runrate_statements"
# Calendar-quarter cash capex series of the four hyperscalers (market/series.toml says each one's definition).
CAPEX_CASH = {"Alphabet": "capex_quarterly_alphabet_cash_ppe", "Amazon": "capex_quarterly_amazon_cash_ppe",
              "Microsoft": "capex_quarterly_microsoft_cash_ppe", "Meta": "capex_quarterly_meta_cash_ppe"}
CHAIN_LABELS = ("data_centre_spend_per_gpu_dollar", "revenue_per_data_centre_dollar")
SINCE = pd.Timestamp("2022-01-01")       # the year before ChatGPT: the build-out's start is on the chart


def calendar_quarter(date: pd.Timestamp) -> pd.Period:
    """The calendar quarter holding most of a quarter that ends on `date` (NVIDIA's fiscal quarters end up
    to a month after the calendar's: the one ending 2026-01-25 is mostly November to January, so Q4 2025)."""
    return (pd.Timestamp(date) - pd.Timedelta(days=45)).to_period("Q")


def chain_multipliers(mkt: Any) -> dict[str, float] | None:
    """The chain's two factors from the curated data, or None when the series or a label is missing."""
    if MULTIPLIERS not in mkt.series:
        return None
    f = mkt.series[MULTIPLIERS].frame.set_index("label")["value"]
    if not all(k in f.index for k in CHAIN_LABELS):
        return None
    return {k: float(f[k]) for k in CHAIN_LABELS}


def _quarterly(mkt: Any, sid: str) -> pd.Series:
    f = mkt.series[sid].frame
    f = f[f["value"].notna()]
    return pd.Series(f["value"].to_numpy(float), index=[calendar_quarter(d) for d in f["date"]])


def revenue_chain(mkt: Any) -> pd.DataFrame:
    """One row per calendar quarter from SINCE: NVIDIA data-centre revenue and the chain it implies, the
    hyperscalers' reported cash capex (annualised, with the firms that reported), and the latest lab
    run-rate statements known at the quarter's end. Empty without NVIDIA's series or the multipliers."""
    mult = chain_multipliers(mkt)
    if NVIDIA_DC not in mkt.series or mult is None:
        return pd.DataFrame()
    nv = _quarterly(mkt, NVIDIA_DC)
    capex = {firm: _quarterly(mkt, sid) for firm, sid in CAPEX_CASH.items() if sid in mkt.series}
    quarters = sorted(q for q in set(nv.index).union(*[set(c.index) for c in capex.values()])
                      if q.end_time >= SINCE)
    rows = []
    for q in quarters:
        dc = float(nv[q]) if q in nv.index else float("nan")
        run = 4 * dc
        spend = run * mult[CHAIN_LABELS[0]]
        reported = {firm: float(c[q]) for firm, c in capex.items() if q in c.index}
        labs, bounded = _lab_statements(mkt, q.end_time.normalize())
        rows.append({"quarter": str(q), "quarter_end": q.end_time.normalize().date().isoformat(),
                     "nvidia_dc_usd_bn": dc, "nvidia_dc_run_rate": run, "data_centre_spend": spend,
                     "required_ai_revenue": spend * mult[CHAIN_LABELS[1]],
                     "capex_firms": ", ".join(reported), "capex_firms_n": len(reported),
                     "capex_annualised": 4 * sum(reported.values()) if reported else float("nan"),
                     "capex_alphabet_amazon_annualised": 4 * (reported["Alphabet"] + reported["Amazon"])
                     if {"Alphabet", "Amazon"} <= set(reported) else float("nan"),
                     "lab_runrate_statements": labs, "lab_runrate_is_lower_bound": bounded})
    return pd.DataFrame(rows)


def _lab_statements(mkt: Any, until: pd.Timestamp) -> tuple[float, bool]:
    """Sum over labs of each one's latest run-rate statement dated on or before `until` (NaN if none), and
    whether any of them is a lower bound ('surpassing', 'crossed')."""
    if LAB_RUNRATES not in mkt.series:
        return float("nan"), False
    f = mkt.series[LAB_RUNRATES].frame
    f = f[f["date"] <= until].sort_values("date", kind="stable")
    if f.empty:
        return float("nan"), False
    latest = f.groupby("label").tail(1)
    return float(latest["value"].sum()), bool((latest["bound"] == ">").any())


def published_requirements(mkt: Any) -> pd.DataFrame:
    """Sequoia's own figures (date, label, USD bn per year), for the chart beside the recomputed chain."""
    if REQUIRED not in mkt.series:
        return pd.DataFrame(columns=["date", "label", "value"])
    f = mkt.series[REQUIRED].frame
    return f[["date", "label", "value"]].reset_index(drop=True)
