"""Statistics of market-side claims: like-with-like growth comparisons and a change between survey waves.

Each kind is registered whole with one `register_kind` call: its parameters (a `Params` model that says
which of them name market series: curated CSV stems or views of the external data sets,
external/views.py, so a typo in claims.toml is caught before a build runs), its statistic, a pure
function of the evidence and those parameters, its reachability probe and its alternatives. Missing or
too little evidence raises `Insufficient` with the reader-facing reason, which the engine reports as
"inconclusive". Explosive-root tests live in explosive_statistics.py.

The alternatives (claims/operating.py) are models fitted to the curated series and simulated on the
series' own dates. Growth comparisons: each series its fitted log-linear trend with normal residuals, or,
for series the claim models as random walks with drift, that walk (one model of a series, the claim's
own); the residuals are independent (the series' autocorrelation is not simulated) and each series is
fitted from the claim's `since`, not on the pair's common window. Survey waves: binomial draws at each
wave's sample size.

Decision rules are symmetric: what it takes to reach "supported" in one direction, the same evidence
the other way reaches "not supported"; where a claim is "any of k", p-values are Holm-adjusted.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import numpy as np
import pandas as pd

from bubblelens.analysis import timeseries
from bubblelens.analysis.growth import fit_series, growth_rows
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Evidence, Insufficient, Names, Outcome
from bubblelens.claims.kinds import Params, Table, fnum, register_kind
from bubblelens.claims.operating import Alternatives, measured_and_mirrored, verdict_of
from bubblelens.claims.reachability import series_years, spread, with_rows, with_series

def series_of(ev: "Evidence", sid: str) -> Any:
    if ev.market is None or sid not in ev.market.series:
        raise Insufficient(f"series '{sid}' is not in the market data")
    return ev.market.series[sid]


def fit_growth(ev: "Evidence", sid: str, level: float, since: str = "", until: str = "",
               model: str = "trend") -> tuple[Any, dict]:
    """(fit, row) for one series by `analysis.growth.fit_series` (the growth table's fit) on the dates from
    `since` to `until`; views of Epoch's models are cross-sections, fitted with errors clustered by
    calendar year; model="random_walk" fits a random walk with drift instead of the trend. The row
    records the model."""
    from bubblelens.external.views import is_cross_section

    s = series_of(ev, sid)
    row: dict[str, Any] = {"series": sid, "title": s.meta.title, "reciprocal": bool(s.more_is_reciprocal),
                           "model": model}
    try:
        fit, f = fit_series(s, level, since, cross_section=is_cross_section(s), until=until, model=model)
    except ValueError as exc:
        return None, {**row, "n": len(growth_rows(s)), "error": str(exc)}
    row.update(n=len(f), factor=fit.annual_factor, lo=fnum(fit.lo), hi=fnum(fit.hi), se_log=fnum(fit.se_log),
               df=fnum(fit.df), errors=fit.errors, lags=fit.lags, first=str(fit.first_date.date()),
               last=str(fit.last_date.date()))
    return fit, row


def window_count(ev: "Evidence", sid: str, first: str, last: str) -> int:
    """Observations of a series (growth_rows) dated from `first` to `last` (inclusive; "" = open)."""
    dates = growth_rows(series_of(ev, sid))["date"]
    return int(dates.between(pd.Timestamp(first) if first else dates.min(),
                             pd.Timestamp(last) if last else dates.max()).sum())


def common_window(ev: "Evidence", ids: list[str], since: str) -> tuple[str, str]:
    """The dates every series of `ids` covers, from `since` on: (latest first date, earliest last date).
    Comparing growth rates over different periods compares periods, not series."""
    firsts, lasts = [pd.Timestamp(since)] if since else [], []
    for sid in ids:
        dates = growth_rows(series_of(ev, sid))["date"]
        if dates.empty:
            raise Insufficient(f"series '{sid}' has no dated numeric values")
        firsts.append(dates.min())
        lasts.append(dates.max())
    first, last = max(firsts), min(lasts)
    if first >= last:
        raise Insufficient(f"the series {', '.join(ids)} share no period from {since or 'their start'} on")
    return str(first.date()), str(last.date())


def holm_verdict(directions: list[int], adjusted: list[float], alpha: float) -> str:
    """Symmetric: supported when some comparison is significant (Holm-adjusted p < alpha) in the claimed
    direction (+1) and none against it (-1); not supported for the mirror image; inconclusive otherwise."""
    sig = [d for d, p in zip(directions, adjusted) if p is not None and math.isfinite(p) and p < alpha]
    if sig and all(d > 0 for d in sig):
        return SUPPORTED
    if sig and all(d < 0 for d in sig):
        return NOT_SUPPORTED
    return INCONCLUSIVE


def _elasticity(a: Any, b: Any) -> float | None:
    """Log-growth of the `slower` series per log-growth of the `faster` one (d ln b / d ln a): how many
    per cent the second grows per per cent of the first. None when the first does not grow."""
    la = math.log(a.annual_factor)
    return fnum(math.log(b.annual_factor) / la) if la > 0 else None


class GrowthComparison(Params):
    pairs: Annotated[list, Table("faster", "slower"), Names("series", keys=("faster", "slower"))]
    since: str = ""
    level: float = 0.95
    alpha: float = 0.05
    common_window: bool = False
    random_walk: Annotated[list, Names("series")] = []
    min_points: int = 3


def growth_comparison(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Does each pair's `faster` series grow faster than its `slower` one (same period)?

    Annual growth factors from log-linear fits (fit_growth), their ratio with a Welch-type t interval
    (Welch-Satterthwaite degrees of freedom from the two fits' own), p-values Holm-adjusted across pairs.
    With `common_window`, both series of a pair are fitted on the dates both cover (from `since` on);
    otherwise each on its own dates from `since` on. The series named in `random_walk` are fitted as a
    random walk with drift in logs (trends.drift_growth: the mean step, whose error sees persistent
    shocks; equally spaced series only) instead of the trend. A pair in which either series has fewer
    than `min_points` observations in its window is left out of the family, with the reason in its
    entry (`left_out`), as is a pair whose fits give no standard error. Each pair also reports the
    elasticity of the slower series to the faster one (ratio of log growth rates).
    """
    from bubblelens.analysis import trends

    fitted: dict[tuple, tuple[Any, dict]] = {}        # (series, first, last) -> (fit, row), each fitted once
    model = {sid: "random_walk" for sid in p["random_walk"]}
    pairs = []
    for pair in p["pairs"]:
        first, last = common_window(ev, [pair["faster"], pair["slower"]], p["since"]) if p["common_window"] \
            else (p["since"], "")
        ids = (pair["faster"], pair["slower"])
        entry: dict[str, Any] = {"faster": ids[0], "slower": ids[1], "model_faster": model.get(ids[0], "trend"),
                                 "model_slower": model.get(ids[1], "trend")}
        if p["common_window"]:
            entry["window"] = [first, last]
        counts = [window_count(ev, sid, first, last) for sid in ids]
        short = [f"{sid} has {k}" for sid, k in zip(ids, counts) if k < p["min_points"]]
        if short:
            entry.update(n_faster=counts[0], n_slower=counts[1], left_out=f"{' and '.join(short)} observation(s) "
                         f"in the window; each series needs >= {p['min_points']}")
            pairs.append(entry)
            continue
        for sid in ids:
            if (sid, first, last) not in fitted:
                fitted[sid, first, last] = fit_growth(ev, sid, p["level"], first, last, model.get(sid, "trend"))
        (a, row_a), (b, row_b) = fitted[ids[0], first, last], fitted[ids[1], first, last]
        entry.update(n_faster=row_a["n"], n_slower=row_b["n"])
        if a is not None and b is not None:
            c = trends.compare_growth(a, b, p["level"])
            entry.update(ratio=c.ratio, lo=fnum(c.lo), hi=fnum(c.hi), t=fnum(c.t), df=fnum(c.df),
                         p_value=fnum(c.p_value), factor_faster=a.annual_factor, factor_slower=b.annual_factor,
                         elasticity=_elasticity(a, b))
        if entry.get("p_value") is None:
            entry["left_out"] = "; ".join(f"{r['series']}: {r['error']}" for r in (row_a, row_b) if "error" in r) \
                or "a fit has no standard error"
        pairs.append(entry)
    usable = [q for q in pairs if "left_out" not in q]
    rows = [row for _, row in fitted.values()]
    dated = [r for r in rows if "first" in r]
    details = {"series": rows, "pairs": pairs, "since": p["since"], "min_points": p["min_points"],
               "window_used": [min(r["first"] for r in dated), max(r["last"] for r in dated)] if dated else None}
    if not usable:
        raise Insufficient("no pair has two growth fits with standard errors (each series needs >= "
                           f"{max(p['min_points'], 3)} points in its window): "
                           + "; ".join(f"{q['faster']} / {q['slower']}: {q['left_out']}" for q in pairs), details)
    adjusted = trends.holm([q["p_value"] for q in usable])
    for q, adj in zip(usable, adjusted):
        q["p_holm"] = fnum(adj)
        q["direction"] = 1 if q["ratio"] > 1 else -1
    verdict = holm_verdict([q["direction"] for q in usable], [q["p_holm"] for q in usable], p["alpha"])
    first = usable[0]
    reason = "; ".join(f"{q['faster']} / {q['slower']}"
                       + (f" ({q['window'][0][:7]} to {q['window'][1][:7]})" if "window" in q else "")
                       + f": ×{q['ratio']:.2f} per year (Holm p {q['p_holm']:.3f})" for q in usable)
    return Outcome(verdict, reason, first["ratio"], f"ratio of annual growth factors, {first['faster']} / "
                   f"{first['slower']}", (first["lo"], first["hi"]) if first["lo"] is not None else None,
                   p["level"], first["p_holm"], min(first["n_faster"], first["n_slower"]), details)


def _year_offsets(dates: pd.Series) -> np.ndarray:
    """Years since the first of `dates`."""
    return ((dates - dates.min()).dt.days / 365.25).to_numpy(float)


def _growth_comparison_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Each pair's first series far faster than its second, far slower, and both alike with noise."""
    if ev.market is None:
        yield ev
        return
    for fast_g, slow_g, noise in ((10.0, 1.1, 0.01), (1.1, 10.0, 0.01), (2.0, 2.0, 0.8)):
        changes = {}
        for pair in p["pairs"]:
            for role, g in (("faster", fast_g), ("slower", slow_g)):
                t = series_years(ev, pair[role])
                if t is not None and len(t):
                    changes[pair[role]] = np.exp(np.log(g) * t + noise * spread(len(t)))
        yield with_series(ev, changes)


def _growth_comparison_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each series fitted from `since` on (trend + normal residuals, or a random walk with drift). Mirror:
    every pair's log growth ratio negated by moving its `slower` series' trend (the spending side, shared
    by the pairs, stays as fitted)."""
    walks = set(p.get("random_walk", []))
    models: dict[str, dict] = {}
    for pair in p["pairs"]:
        for sid in (pair["faster"], pair["slower"]):
            f = growth_rows(series_of(ev, sid))
            f = f[f["date"] >= pd.Timestamp(p["since"])] if p["since"] else f
            if sid in walks:
                f = timeseries.regular_tail(f)
            if len(f) < 3:
                raise Insufficient(f"series '{sid}' has {len(f)} points from {p['since'] or 'its start'} on")
            t, z = _year_offsets(f["date"]), np.log(f["v"].to_numpy(float))
            if sid in walks:
                steps = np.diff(z)
                per_year = (len(t) - 1) / (t[-1] - t[0])
                models[sid] = {"walk": True, "index": f.index, "z0": z[0], "n": len(z), "slope": steps.mean() * per_year,
                               "sd": float(steps.std(ddof=1)), "per_year": per_year}
            else:
                slope, intercept = np.polyfit(t, z, 1)
                resid = z - (intercept + slope * t)
                models[sid] = {"walk": False, "index": f.index, "t": t, "intercept": intercept, "slope": slope,
                               "sd": float(resid.std(ddof=2))}
    slower = [pair["slower"] for pair in p["pairs"]]
    if len(set(slower)) < len(slower):      # the mirror moves each pair's slower series: one move per series
        raise Insufficient("two pairs share their slower series, so no one trend mirrors both")
    gaps = {pair["slower"]: models[pair["faster"]]["slope"] - models[pair["slower"]]["slope"] for pair in p["pairs"]}

    def sampler(sign: float):
        def sample(rng: np.random.Generator) -> str:
            changes = {}
            for sid, m in models.items():
                slope = m["slope"] + (1 - sign) * gaps[sid] if sid in gaps else m["slope"]
                if m["walk"]:
                    steps = slope / m["per_year"] + m["sd"] * rng.standard_normal(m["n"] - 1)
                    z = m["z0"] + np.concatenate([[0.0], np.cumsum(steps)])
                else:
                    z = m["intercept"] + slope * m["t"] + m["sd"] * rng.standard_normal(len(m["t"]))
                changes[sid] = (m["index"], np.exp(z))
            return verdict_of(growth_comparison, with_rows(ev, changes), p)
        return sample

    def text(sign: float) -> str:
        return "; ".join(f"{pair['faster']} / {pair['slower']} ×{math.exp(sign * gaps[pair['slower']]):.2f} a year"
                         for pair in p["pairs"]) + (" (as fitted)" if sign > 0 else " (each ratio inverted)")
    scenarios = measured_and_mirrored(1.0, -1.0, text, sampler)
    model = "log-linear trends with independent normal residuals, fitted from " + (p["since"] or "each start") + \
        (f"; {', '.join(sorted(walks))} a random walk with drift" if walks else "")
    return Alternatives(scenarios, model, sims=100)


register_kind("growth_comparison", GrowthComparison, growth_comparison,
              probe=_growth_comparison_probe, alternatives=_growth_comparison_alternatives)


def _wave(s: Any, when: str) -> tuple[pd.Timestamp, float]:
    f = growth_rows(s)
    t0, t1 = (pd.Timestamp(x) for x in _period(when))
    rows = f[(f["date"] >= t0) & (f["date"] <= t1)]
    if len(rows) != 1:
        raise Insufficient(f"series '{s.meta.series_id}' has {len(rows)} values in {when} (one needed)")
    return rows["date"].iloc[0], float(rows["value"].iloc[0])


def _period(text: str) -> tuple[str, str]:
    return (f"{text}-01-01", f"{text}-12-31") if len(text) == 4 else (text, text)


def _sample_size(ev: "Evidence", sizes: str, label: str) -> float | None:
    if not label:
        return None
    f = series_of(ev, sizes).frame
    hit = f[f["label"] == label]
    if hit.empty:
        raise Insufficient(f"series '{sizes}' has no wave labelled '{label}'")
    return float(hit["value"].iloc[0])


class ProportionChange(Params):
    signal: Annotated[str, Names("series")]
    sizes: Annotated[str, Names("series")]
    waves: Annotated[list, Table("when", "size_label")]
    assumed_min_n: int
    phase_series: Annotated[str, Names("series")] = ""
    peak_phase: str = ""
    level: float = 0.95


def proportion_change(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Did a survey share rise between two waves? Newcombe's interval for the difference of two proportions.

    A wave without a known sample size is given `assumed_min_n` respondents (the smallest sample the rule
    allows it; a smaller n only widens the interval), and the smallest n at which the rise would still be
    significant is reported. Symmetric: supported when the interval lies above 0 (a rise), not supported
    when below 0 (a fall), inconclusive otherwise.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    if len(p["waves"]) != 2:
        raise Insufficient("the rule compares exactly two waves")
    s = series_of(ev, p["signal"])
    waves = []
    for w in p["waves"]:
        when, share = _wave(s, str(w["when"]))
        n = _sample_size(ev, p["sizes"], w["size_label"])
        waves.append({"when": str(when.date()), "share": share, "n": n, "n_known": n is not None,
                      "n_used": n if n is not None else float(p["assumed_min_n"])})
    details: dict[str, Any] = {"waves": waves, "assumed_min_n": p["assumed_min_n"],
                               "window_used": [waves[0]["when"], waves[-1]["when"]]}
    if p["phase_series"]:
        ph = series_of(ev, p["phase_series"]).frame
        peak = ph.loc[ph["value_text"] == p["peak_phase"], "date"]
        details["peak_date"] = str(peak.min().date()) if len(peak) else None
        details["both_after_peak"] = bool(len(peak)) and all(pd.Timestamp(w["when"]) > peak.min() for w in waves)

    def interval(n0: float) -> tuple[float, float]:
        a, b = waves
        # Counts as share x n, unrounded: the shares are what the sources report, and rounding would make
        # significance flip back and forth as n grows (the smallest-n search below needs monotony).
        lo, hi = confint_proportions_2indep(b["share"] / 100 * b["n_used"], b["n_used"],
                                            a["share"] / 100 * n0, n0, method="newcomb",
                                            compare="diff", alpha=1 - p["level"])
        return 100 * float(lo), 100 * float(hi)

    lo, hi = interval(waves[0]["n_used"])
    rise = waves[1]["share"] - waves[0]["share"]
    if not waves[0]["n_known"]:
        details["smallest_significant_n"] = _smallest_n(interval, rise)
    verdict = SUPPORTED if lo > 0 else NOT_SUPPORTED if hi < 0 else INCONCLUSIVE
    known = " and ".join(f"{w['when']}: n = {w['n']:.0f}" if w["n_known"] else f"{w['when']}: n unknown, "
                         f"taken as {p['assumed_min_n']}" for w in waves)
    return Outcome(verdict, f"{waves[0]['share']:g} % → {waves[1]['share']:g} % ({known}); difference "
                   f"{rise:+.1f} points, {p['level']:.0%} interval [{lo:+.1f}, {hi:+.1f}]", rise,
                   "change in share (percentage points)", (lo, hi), p["level"], None,
                   int(min(w["n_used"] for w in waves)), details)


def _proportion_change_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """A large rise between the two waves, a large fall, and almost no change (sample sizes as they are)."""
    if ev.market is None or p["signal"] not in ev.market.series:
        yield ev
        return
    dates = growth_rows(ev.market.series[p["signal"]])["date"]
    (a0, a1), (b0, b1) = (_period(str(w["when"])) for w in p["waves"])
    in_first = ((dates >= a0) & (dates <= a1)).to_numpy()
    in_last = ((dates >= b0) & (dates <= b1)).to_numpy()
    for first, last in ((20.0, 45.0), (45.0, 20.0), (30.0, 30.5)):
        yield with_series(ev, {p["signal"]: np.where(in_first, first, np.where(in_last, last, 50.0))})


def _proportion_change_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each wave's respondents binomial at its sample size (the unknown one at the rule's assumed n) and
    share; mirror: the two waves' shares swapped (a fall as large as the rise)."""
    out = proportion_change(ev, p)
    waves = out.details["waves"]
    dates = growth_rows(series_of(ev, p["signal"]))["date"]
    where = [((dates >= a) & (dates <= b)).to_numpy() for a, b in
             (_period(str(w["when"])) for w in p["waves"])]
    sizes = [int(round(w["n_used"])) for w in waves]

    def sampler(order: float):
        shares = [w["share"] / 100 for w in (waves if order > 0 else waves[::-1])]

        def sample(rng: np.random.Generator) -> str:
            drawn = [100.0 * rng.binomial(n, s) / n for n, s in zip(sizes, shares)]
            values = np.where(where[0], drawn[0], np.where(where[1], drawn[1], 50.0))
            return verdict_of(proportion_change, with_series(ev, {p["signal"]: values}), p)
        return sample

    def text(order: float) -> str:
        a, b = (waves if order > 0 else waves[::-1])
        return f"true shares {a['share']:g} % then {b['share']:g} % (n = {sizes[0]}, {sizes[1]})"
    return Alternatives(measured_and_mirrored(1.0, -1.0, text, sampler), "binomial respondents in each wave",
                        sims=100)


register_kind("proportion_change", ProportionChange, proportion_change,
              probe=_proportion_change_probe, alternatives=_proportion_change_alternatives)


def _smallest_n(interval, rise: float) -> int | None:
    """Smallest first-wave n (2..100,000) at which the interval excludes 0 on the side of the change."""
    def significant(n: int) -> bool:
        lo, hi = interval(float(n))
        return lo > 0 if rise > 0 else hi < 0
    if rise == 0 or not significant(100_000):
        return None
    lo, hi = 2, 100_000
    while lo < hi:                       # the interval narrows as n grows: bisect the first significant n
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if significant(mid) else (mid + 1, hi)
    return lo
