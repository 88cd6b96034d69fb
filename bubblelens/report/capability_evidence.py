"""Report sections on the spending question: capability measured against what is spent on it, and what the
spending would have to earn (Sequoia's "$600B question", recomputed from reported quarters).

Numbers come from the capability claim's own details and from analysis/ (spending.py, growth.py); nothing
is fitted here, and every number or name in the text is read from those results or the curated data, so
a data update cannot leave a sentence behind. News quotes (the labs' revenue run-rates) are printed as
such and never decide anything.
"""
from __future__ import annotations

import math

import pandas as pd

from bubblelens.analysis.spending import CAPEX_CASH, CHAIN_LABELS, LAB_RUNRATES, chain_multipliers
from bubblelens.claims.engine import claim_by_id
from bubblelens.report.model import Paragraph, Section, Table, figure_if_drawn
from bubblelens.report.numbers import fmt, fmt_p

CAPABILITY_CLAIM = "expectations-outpace-capability"
METR_FITS = "metr_published_doubling_time"
METR_RELIABLE_MINUTES = 960      # METR: "Measurements above 16 hrs are unreliable with our current task suite"


def _doubling_days(factor: float | None) -> str:
    if not factor or factor <= 1:
        return "–"
    return f"{365.25 * math.log(2) / math.log(factor):.0f} days"


def pair_table(claim) -> Table | None:
    pairs = [q for q in claim.details.get("pairs", []) if q.get("ratio") is not None] if claim else []
    if not pairs:
        return None
    level = f"{100 * claim.ci_level:.0f} %"
    rows = []
    for q in pairs:
        win = q.get("window") or ["", ""]
        rows.append([q["slower"], f"{win[0][:7]} to {win[1][:7]}", f"{q['n_faster']} / {q['n_slower']}",
                     f"×{fmt(q['factor_faster'])} ({_doubling_days(q['factor_faster'])})",
                     f"×{fmt(q['factor_slower'])} ({_doubling_days(q['factor_slower'])})",
                     fmt(q.get("elasticity")), f"{fmt(q['ratio'])} [{fmt(q['lo'])}, {fmt(q['hi'])}]",
                     fmt_p(q.get("p_holm"))])
    spend = pairs[0]["faster"]
    return Table("Capability against spending: growth per year over each pair's common window",
                 ["Capability series", "Window", "n (spending / capability)", f"{spend} per year (doubling)",
                  "Capability per year (doubling)", "Ratio of log growth rates", f"Ratio spending / capability "
                  f"[{level}]", "p (Holm)"], rows, table_id="tab-capability-pairs",
                 note="Log-linear fits; capability scores as odds (score / (100 − score)), METR's horizon in minutes. "
                      "Ratio of log growth rates: the capability series' log growth per unit of the spending "
                      "series' (above 1: capability grows faster in proportion) — an elasticity along two time "
                      "trends, not a response of capability to spending. Ratio of the annual growth factors with a "
                      "Welch-type t interval; p Holm-adjusted across the pairs. The capability series are "
                      "frontiers (records, or models METR marks state of the art), whose residuals are selected "
                      "and serially dependent: classical errors understate their uncertainty.")


def scale_table(scales: pd.DataFrame | None) -> Table | None:
    if scales is None or scales.empty:
        return None
    rows = [[r.slower, r.scale + (" (declared)" if r.declared else ""), r.n, f"×{fmt(r.factor_slower)}",
             f"{fmt(r.ratio)} [{fmt(r.lo)}, {fmt(r.hi)}]", fmt_p(r.p_value)] for r in scales.itertuples()]
    return Table("The benchmark pairs on other scales (context: the verdict uses the declared scale)",
                 ["Capability series", "Scale", "n", "Capability per year", "Ratio spending / capability [95 %]",
                  "p (unadjusted)"], rows, table_id="tab-capability-scales",
                 note="The same windows and spending fit as the claim. A ratio of log growth rates does not survive "
                      "a change of scale: a saturating score grows ever more slowly in points, steadily in odds, "
                      "and its error rate falls ever faster, so the benchmark pairs' direction depends on the "
                      "scale; METR's horizon is a ratio scale (minutes) and has no such choice.")


def metr_comparison(mkt, claim) -> Paragraph | None:
    """METR's own published doubling time beside ours, for the suite of the claim's METR series."""
    ours = next((r for r in claim.details.get("series", []) if r["series"].startswith("metr_") and "factor" in r),
                None) if claim else None
    if METR_FITS not in mkt.series or ours is None or ours["series"] not in mkt.series:
        return None
    suite = next((n.split("suite=")[1].split(";")[0] for n in mkt.series[ours["series"]].frame["note"]
                  if "suite=" in n), "")
    f = mkt.series[METR_FITS].frame
    theirs = f[f["label"].str.startswith(f"{suite} ") & f["label"].str.endswith("from_2023_on")] if suite else f.iloc[:0]
    if theirs.empty:
        return None
    r = theirs.iloc[0]
    frame = mkt.series[ours["series"]].frame
    late = frame[frame["value"] > METR_RELIABLE_MINUTES]
    points = "; ".join(f"{lab}, {d.date()}, source {src}"
                       for lab, d, src in zip(late["label"], late["date"], late["source_id"]))
    caveat = (f" {len(late)} point(s) of the fitted series lie above {METR_RELIABLE_MINUTES} minutes, where METR "
              f"calls its measurements unreliable ({points}).") if len(late) else ""
    return Paragraph(
        f"METR's own fit of the same suite ({r['label']}): a doubling time of {fmt(r['value'])} days "
        f"({r['note']}; source {r['source_id']}). bubblelens' fit of the state-of-the-art models it lists, "
        f"{ours['first'][:7]} to {ours['last'][:7]} (n = {ours['n']}): ×{fmt(ours['factor'])} per year, a doubling "
        f"time of {_doubling_days(ours['factor'])} (95 % interval of the factor [{fmt(ours['lo'])}, "
        f"{fmt(ours['hi'])}], classical OLS errors on model release dates; METR bootstraps over tasks and "
        f"models, so the two intervals measure different uncertainty).{caveat}")


def capability_section(mkt, charts: dict, claims: list, scales: pd.DataFrame | None = None) -> Section:
    claim = claim_by_id(claims, CAPABILITY_CLAIM)
    blocks: list = [Paragraph(
        "Does capability keep pace with what is spent on it? Capability is measured here as capability: "
        "METR's 50 % task time horizon (how long a task, in minutes of skilled human time, the best models "
        "complete half the time; one task suite only — suites are never pooled) and Epoch AI's record-setting "
        "scores on GPQA Diamond and SWE-bench Verified, read as odds so that a score near 100 % is not mistaken "
        "for a slowdown. Spending is NVIDIA's data-centre revenue, the most direct complete quarterly record of "
        "what buyers pay for AI compute. Each comparison covers only the months both series cover.")]
    blocks += figure_if_drawn(charts, "fig-capability-vs-spending")
    for block in (pair_table(claim), scale_table(scales), metr_comparison(mkt, claim)):
        if block is not None:
            blocks.append(block)
    if claim is not None:
        blocks.append(Paragraph(f"**Verdict of '{CAPABILITY_CLAIM}': {claim.verdict}.** {claim.reading}"))
    return Section("capability-vs-spending", "Capability against spending", blocks)


def lab_names(mkt) -> str:
    """The labs whose run-rate statements the chain's last column sums, as the data name them."""
    if LAB_RUNRATES not in mkt.series:
        return "AI labs"
    return " + ".join(lab.capitalize() for lab in dict.fromkeys(mkt.series[LAB_RUNRATES].frame["label"]))


def chain_table(mkt, chain: pd.DataFrame) -> Table | None:
    mult = chain_multipliers(mkt)
    if chain is None or chain.empty or mult is None:
        return None
    rows = []
    for r in chain[chain["quarter"] >= "2023Q1"].itertuples():
        labs = "–" if pd.isna(r.lab_runrate_statements) else \
            (">" if r.lab_runrate_is_lower_bound else "") + fmt(r.lab_runrate_statements) + " (news)"
        capex = "–" if pd.isna(r.capex_annualised) else f"{fmt(r.capex_annualised)} ({r.capex_firms})"
        rows.append([r.quarter, fmt(r.nvidia_dc_usd_bn), fmt(r.nvidia_dc_run_rate), fmt(r.data_centre_spend),
                     fmt(r.required_ai_revenue), capex, labs])
    shown = chain[chain["quarter"] >= "2023Q1"]
    gaps = [f"{firm} in {', '.join(q for q, firms in zip(shown['quarter'], shown['capex_firms']) if firm not in firms)}"
            for firm in CAPEX_CASH if any(firm not in firms for firms in shown["capex_firms"])]
    m0, m1 = (fmt(mult[k]) for k in CHAIN_LABELS)
    return Table("Sequoia's chain, quarter by quarter (USD bn; run-rates and capex per year)",
                 ["Quarter", "NVIDIA data centre (quarter)", "× 4: run-rate", f"× {m0}: data-centre spend",
                  f"× {m1}: AI revenue needed", "Hyperscaler cash capex × 4 (firms reported)",
                  f"{lab_names(mkt)} run-rates"], rows, table_id="tab-spending-chain",
                 note="The two factors are Sequoia's stated assumptions (data/market/sequoia_chain_multipliers.csv, "
                      "each quoted). Capex: cash purchases of property and equipment as reported; not reported: "
                      + ("; ".join(gaps) or "none") + " (the firms column says who is summed). Lab run-rates are "
                      "statements reported in the news — the weakest source class here, a run-rate is not revenue, "
                      "and nothing in this report is decided on them.")


def spending_section(mkt, charts: dict, long: dict) -> Section:
    chain = long.get("spending")
    mult = chain_multipliers(mkt)
    factors = (f"multiplied by {fmt(mult[CHAIN_LABELS[0]])} for the rest of the data centre (energy, buildings, "
               f"backup power) and by {fmt(mult[CHAIN_LABELS[1]])} again for the margin the compute's buyers "
               "need") if mult else "multiplied by the essays' two factors"
    blocks: list = [Paragraph(
        "The '$600B question' (David Cahn, Sequoia Capital, 2023 and 2024) asks how much AI revenue the "
        f"build-out must eventually earn: NVIDIA's data-centre revenue as a yearly run-rate, {factors} "
        "(data/market/sequoia_chain_multipliers.csv, each quoted). The essays applied the chain to forecasts; "
        "here it runs on every reported quarter, beside what the largest buyers report as capital expenditure "
        "and what the labs say they earn. The chain is arithmetic on stated assumptions, not a test, and "
        "decides no verdict.")]
    blocks += figure_if_drawn(charts, "fig-spending-chain")
    table = chain_table(mkt, chain)
    if table is not None:
        blocks.append(table)
        last = chain.dropna(subset=["required_ai_revenue"]).iloc[-1]
        blocks.append(Paragraph(
            f"In {last['quarter']}, NVIDIA's data-centre revenue of {fmt(last['nvidia_dc_usd_bn'])} bn a quarter "
            f"implies, on Sequoia's assumptions, {fmt(last['required_ai_revenue'])} bn of AI revenue a year. "
            "The revenue side is known only from news reports of the labs' run-rates (table), which no verdict "
            "of this report rests on."))
    return Section("spending-question", "The spending question: what the build-out must earn", blocks)
