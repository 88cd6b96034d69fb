"""Report sections on the long market series and the market claims: explosive-root tests, NVIDIA's
regimes, Epoch's trends beside Epoch's published rates, and one table of every market claim's test.

Numbers come from the build's analysis (analysis/long_series.py) and the claims' own details, never
recomputed here; where the data are still too thin the section says so instead of testing.
"""
from __future__ import annotations

import math

import pandas as pd

from bubblelens.analysis import timeseries
from bubblelens.analysis.long_series import NVIDIA_BREAKS
from bubblelens.report.model import Paragraph, Section, Table, figure_if_drawn
from bubblelens.report.numbers import fmt, fmt_p

BUBBLE_INTRO = (
    "A bubble is a price running away from its fundamentals (Phillips, Shi and Yu 2015). Explosive-root "
    "tests (SADF, GSADF, and BSADF date-stamping) detect periods when a series grows faster than a random "
    "walk allows. What is tested matters: in levels any exponential growth is explosive, in logs only growth "
    "faster than exponential is. Valuation ratios (price over dividends, earnings or ten years' average "
    "earnings) are tested in levels, since they stay flat while prices follow fundamentals; NVIDIA's revenue "
    "— a fundamental — is tested in logs, so steady exponential growth does not count. The valuation ratios' "
    "monthly changes are autocorrelated and their volatility changes over 150 years, so their test chooses "
    "the ADF lag by BIC and takes its p-values from a sieve wild bootstrap that keeps both features. In "
    "simulations of unit roots whose changes have the P/E's lag-1 autocorrelation (0.56) and a spread that "
    "triples over the sample, the lag-0 test against Gaussian random walks rejects 47-65 % of the time at a "
    "nominal 5 %, the bootstrap test 4-6 % (tests/unit/analysis/test_explosive_bootstrap.py, "
    "benchmarks/explosive_bootstrap.py). NVIDIA's short revenue series is tested against Monte Carlo random "
    "walks of its own length and "
    "drift. Series need {min_obs} equally spaced observations; the AI hype series that have fewer are "
    "listed, not tested."
)


def _episodes(eps: list) -> str:
    return "; ".join(f"{e['start'][:7]} – {e['end'][:7]}" for e in eps) or "none"


def explosive_table(claims: list) -> Table | None:
    rows = []
    for c in claims:
        monte_carlo = c.category == "market" and c.details.get("statistic") != "explosive_window"
        for t in (c.details or {}).get("series", []) if monte_carlo else []:
            if "gsadf" not in t and "testable" not in t:
                continue
            if not t.get("testable", False):
                rows.append([c.claim_id, t["series"], t.get("scale", ""), t.get("n", ""), "–", "–", "–", "–",
                             t.get("reason", "")])
                continue
            cvs = " / ".join(fmt(x) for x in t.get("gsadf_cvs", []))
            stat = f"{t['statistic']} {fmt(t['value'])}" + (f" (GSADF {fmt(t['gsadf'])})"
                                                             if t["statistic"] != "GSADF" else "")
            win = t.get("episodes_in_window")
            rows.append([c.claim_id, t["series"], t["scale"], f"{t['n']} ({t['first'][:7]} – {t['last'][:7]})",
                         stat, cvs, fmt_p(t["p_value"]), fmt_p(t.get("p_holm")),
                         _episodes(t["episodes"]) + (f"; in window: {_episodes(win)}" if win is not None else "")])
    if not rows:
        return None
    return Table("Explosive-root tests of the market claims", ["Claim", "Series", "Scale", "n (span)", "Statistic",
                 "GSADF critical values 90/95/99 %", "p (Monte Carlo)", "p (Holm)", "Date-stamped episodes (95 %)"],
                 rows, table_id="tab-explosive-tests",
                 note="p = (1 + number of null draws at least as large) / (2,000 + 1). Episodes: BSADF above its "
                      "95 % critical value for at least log(T) observations.")


def valuation_table(claims: list) -> Table | None:
    """One row per ratio of the bootstrap window claim: sample, lag, the AI-era window and the yardstick."""
    rows = []
    for c in claims:
        if c.details.get("statistic") != "explosive_window":
            continue
        for t in c.details.get("series", []):
            if not t.get("testable"):
                rows.append([c.claim_id, t["series"], t.get("n", ""), "–", "–", "–", t.get("reason", "")])
                continue
            y = t.get("yardstick") or {}
            dotcom = (f"{fmt(y['value'])} / {fmt(y['cv95'])}, p {fmt_p(y['p_value'])} (lag {y['lag']}, to "
                      f"{y['window'][1][:7]})") if "value" in y else y.get("error", "–")
            lag = f"lag {t['lag']}" + (" (the cap)" if t.get("lag_at_cap") else "")
            rows.append([c.claim_id, t["series"], f"{t['n']} ({t['first'][:7]} – {t['last'][:7]}), {lag}, "
                         f"windows ≥ {t['min_window']} months",
                         f"{t['window'][0][:7]} – {t['window'][1][:7]}: {fmt(t['value'])} / {fmt(t['cv95'])} "
                         f"(peak {t['peak'][:7]})", fmt_p(t["p_value"]), fmt_p(t.get("p_holm")), dotcom])
    if not rows:
        return None
    return Table("Valuation ratios: explosive-root window tests with a sieve wild bootstrap",
                 ["Claim", "Series", "n (sample), BIC lag, minimum window",
                  "Generative-AI era: sup BSADF / bootstrap 95 % value",
                  "p (bootstrap)", "p (Holm)", "Dot-com yardstick: sup BSADF / 95 % value, p"], rows,
                 table_id="tab-valuation-tests",
                 note="Sup of the BSADF sequence over the windows ending in the stated months, on the data up to "
                      "the window's last month. Every window spans at least PSY's minimum window, longer than the "
                      "generative-AI era itself: a window ending in 2026 starts eight or more years earlier, so "
                      "the test asks whether a run of explosive growth had reached these months, not whether one "
                      "began with ChatGPT. p = (1 + bootstrap statistics at least as large) / "
                      "(replications + 1), the bootstrap rebuilding each ratio's changes from an AR(lag) fit with "
                      "Rademacher-weighted residuals (Harvey et al. 2016; Phillips and Shi 2020). The yardstick "
                      "never enters the verdict.")


def regime_table(regimes: list[dict]) -> Table | None:
    rows = []
    for r in regimes:
        if "regimes" not in r:
            rows.append([r["series"], "–", "–", "–", r.get("error", "")])
            continue
        for g in r["regimes"]:
            rows.append([r["series"], f"{g.first_date.date()} – {g.last_date.date()}", g.n,
                         f"{fmt(g.annual_factor)} [{fmt(g.lo)}, {fmt(g.hi)}]",
                         f"HAC, {g.lags} lags" if g.errors == "hac" else g.errors])
        for b, (_, why) in r["breaks"]:
            rows.append([r["series"], f"break {b.date.date()} ({why})", "",
                         f"slope change ×{fmt(math.exp(b.estimate))} per year", f"p {fmt_p(b.p_value)}"])
    if not rows:
        return None
    return Table("NVIDIA revenue growth per pre-declared regime", ["Series", "Regime", "n",
                 "× per year [95 % interval]", "Errors / test"], rows, table_id="tab-nvidia-regimes",
                 note="One OLS of log revenue with an intercept and a slope per regime; Newey-West (HAC) errors "
                      "on the full model, t references with n − 2R degrees of freedom. Breaks: " +
                      "; ".join(f"{d} ({why})" for d, why in NVIDIA_BREAKS) + ". Mellanox makes the 2020 "
                      "step in Data Center partly an acquisition effect.")


def epoch_table(trends: pd.DataFrame) -> Table | None:
    if trends is None or trends.empty:
        return None
    rows = []
    for r in trends.itertuples():
        pub = "–" if not math.isfinite(r.published) else f"×{fmt(r.published)} ({r.published_note})"
        inside = "–" if r.inside is None else ("yes" if r.inside else "no")
        rows.append([r.view, r.subset, f"{r.since}–2024", r.n, r.years,
                     f"{fmt(r.factor)} [{fmt(r.lo)}, {fmt(r.hi)}]", pub, inside])
    return Table("Epoch AI notable models: growth of training compute and cost, beside Epoch's published rates",
                 ["View", "Subset", "Years", "Models", "Clusters", "× per year [95 % interval]", "Epoch's rate",
                  "Inside our interval?"], rows, table_id="tab-epoch-trends",
                 note="Log-linear fits with errors clustered by publication year (df = clusters − 1). The cost "
                      "column is Epoch's estimate of the final training run's compute cost in 2023 USD; Cottier "
                      "et al.'s 2.4× is an amortised hardware-and-energy cost of the most compute-intensive models, "
                      "a different method, so agreement is a consistency check, not a replication. 2024 is "
                      "incomplete in this snapshot.")


def market_claims_table(claims: list) -> Table | None:
    rows = []
    for c in (c for c in claims if c.category == "market"):
        ci = f"{100 * c.ci_level:.0f} % [{fmt(c.ci[0])}, {fmt(c.ci[1])}]" if c.ci else "–"
        rows.append([c.claim_id, c.effect_label, fmt(c.effect), ci, fmt_p(c.p_value), c.reason,
                     ", ".join(c.reachable) or "–", c.verdict])
    if not rows:
        return None
    return Table("Every market claim: statistic, interval, test and verdict",
                 ["Claim", "Statistic", "Value", "Interval", "p (Holm)", "Test", "Reachable verdicts", "Verdict"],
                 rows, table_id="tab-market-claims",
                 note="Rules as declared in data/claims.toml (dates and revisions with each claim below); "
                      "'reachable' verdicts are those the rule can produce at these data's sizes "
                      "(bubblelens claims check).")


def bubble_section(mkt, charts: dict, claims: list, sp500) -> Section:
    blocks: list = [Paragraph(BUBBLE_INTRO.format(min_obs=timeseries.MIN_OBS_EXPLOSIVE))]
    if sp500 is not None:
        result, cvs, episodes = sp500
        blocks.append(Paragraph(
            f"Validation on PSY's own sample (S&P 500 price/dividend ratio, {result.n:,} months to 2010): GSADF "
            f"= {fmt(result.gsadf)} against a 95 % critical value of {fmt(cvs.value('gsadf', 0.95))}; episodes "
            "lasting log(T) months: " + ("; ".join(f"{pd.Timestamp(e.start):%Y-%m} – {pd.Timestamp(e.end):%Y-%m}"
                                                    for e in episodes) or "none") +
            ". This checks the engine against the paper; the valuation tests below use the bootstrap."))
    blocks += figure_if_drawn(charts, "fig-valuation-ratios")
    valuation = valuation_table(claims)
    blocks += ([valuation] if valuation else []) + figure_if_drawn(charts, "fig-valuation-bsadf")
    table = explosive_table(claims)
    blocks += ([table] if table else []) + figure_if_drawn(charts, "fig-bsadf-panels")
    rows = []
    for s in sorted(mkt.series.values(), key=lambda s: s.meta.series_id):
        if s.meta.category != "hype" or s.frame["value"].isna().all():
            continue
        run = timeseries.regular_tail(s.frame.sort_values("date"))
        ok, reason = timeseries.check_testable(list(run["date"]))
        if len(run) < len(s.frame):
            reason = f"the last equally spaced run has {len(run)} of {len(s.frame)} points; {reason}"
        rows.append([s.meta.series_id, len(s.frame), "testable" if ok else "too thin to test", reason])
    blocks.append(Table("Which hype series are long and regular enough for an explosive-root test?",
                        ["Series", "Points", "Verdict", "Reason"], rows, table_id="tab-explosive-testability"))
    return Section("bubble-tests", "Bubble tests", blocks)


def long_series_section(charts: dict, long: dict, claims: list) -> Section:
    blocks: list = [Paragraph(
        "The longest market series set out in full: NVIDIA's quarterly revenue with a trend per regime between "
        "breaks declared in advance (not chosen where the data bend), and Epoch AI's notable-models database "
        "(884 models; training compute and cost estimates) fitted the way Epoch fits it, beside the rates Epoch "
        "publishes.")]
    blocks += figure_if_drawn(charts, "fig-nvidia-regimes")
    for t in (regime_table(long.get("regimes", [])), epoch_table(long.get("epoch"))):
        if t is not None:
            blocks.append(t)
    blocks += figure_if_drawn(charts, "fig-epoch-compute")
    table = market_claims_table(claims)
    if table is not None:
        blocks.append(table)
    return Section("long-series", "Long series and the market claims", blocks)
