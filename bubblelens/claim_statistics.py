"""The statistics a claim can name in `data/claims.toml`, one function per kind, registered by name.

Each kind is a pure function of the evidence and the claim's declared parameters; the registry entry
(`claims.register`) states its parameters and which of them name metrics or market series, so a typo in
claims.toml is caught before a build runs. Missing or too little evidence raises `Insufficient` with the
reader-facing reason ("too few seeds (n=1 < 3)"), which the engine reports as "inconclusive". All kinds
share one rule, `interval_verdict`: an interval wholly on one side of a declared threshold decides.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import stats
from .claims import (INCONCLUSIVE, NOT_SUPPORTED, REQUIRED, SUPPORTED, Insufficient, Outcome, fnum,
                     interval_verdict, register)

if TYPE_CHECKING:
    from .claims import Evidence


def run_values(ev: "Evidence", metric: str, model: str, dataset: str, variant: str = "") -> pd.Series:
    """One value per seed of `metric` for a (model, dataset[, variant]) group, indexed by seed."""
    r = ev.runs
    if r is None or r.empty:
        raise Insufficient("no model runs in this build")
    mask = (r["metric"] == metric) & (r["model"] == model) & (r["dataset"] == dataset)
    if variant:
        mask &= r["variant"] == variant
    vals = r.loc[mask, ["seed", "value"]].dropna().groupby("seed")["value"].mean()
    return vals.astype(float)


def _need(n: int, min_n: int, what: str = "seeds") -> None:
    if n < min_n:
        raise Insufficient(f"too few {what} (n={n} < {min_n})")


# ------------------------------------------------------------------------------------- model claims
@register("share_of_runs_failing",
          {"checks": (list, REQUIRED), "threshold": (float, REQUIRED), "level": (float, 0.95),
           "min_n": (int, 3)}, metric_params=("checks",), tables={"checks": ("model", "dataset", "metric", "max")})
def share_of_runs_failing(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Share of runs whose metric falls short of its maximum (e.g. modes < 8), Clopper-Pearson interval."""
    k = n = 0
    per_check = []
    for c in p["checks"]:
        vals = run_values(ev, c["metric"], c["model"], c["dataset"], c.get("variant", ""))
        fails = int((vals < float(c["max"])).sum())
        k, n = k + fails, n + int(vals.size)
        per_check.append({**c, "k": fails, "n": int(vals.size), "values": [float(v) for v in vals]})
    _need(n, p["min_n"], "runs")
    cp = stats.clopper_pearson(k, n, p["level"])
    pval = float(sps.binomtest(k, n, p["threshold"], alternative="greater").pvalue)
    details: dict[str, Any] = {"per_check": per_check, "k": k}
    if ev.published is not None and not ev.published.empty:
        details["published"] = ev.published.astype(object).where(ev.published.notna(), None).to_dict("records")
    verdict = interval_verdict(cp["lo"], cp["hi"], p["threshold"])
    return Outcome(verdict, f"{k} of {n} runs fell short; CI [{cp['lo']:.2f}, {cp['hi']:.2f}] vs "
                   f"threshold {p['threshold']:.2f}", k / n, "share of runs missing at least one mode/class",
                   (cp["lo"], cp["hi"]), p["level"], pval, n, details)


@register("mean_below",
          {"metric": (str, REQUIRED), "model": (str, REQUIRED), "dataset": (str, REQUIRED),
           "bound": (float, REQUIRED), "compare_model": (str, ""), "level": (float, 0.95), "min_n": (int, 3)},
          metric_params=("metric",))
def mean_below(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Mean across seeds below a bound and (optionally) below a comparator model: t and Welch intervals.

    Both parts must hold, so the reported p-value is the larger of the two one-sided p-values
    (an intersection-union test, valid at level alpha without correction).
    """
    a = run_values(ev, p["metric"], p["model"], p["dataset"])
    _need(a.size, p["min_n"])
    ci = stats.mean_ci(a.to_numpy(), p["level"])
    p_bound = float(sps.ttest_1samp(a, p["bound"], alternative="less").pvalue) if ci["sd"] else \
        (0.0 if ci["mean"] < p["bound"] else 1.0)
    parts = [interval_verdict(-ci["hi"], -ci["lo"], -p["bound"])]      # "below" = negated "above"
    details: dict[str, Any] = {"mean": ci["mean"], "sd": ci["sd"], "p_below_bound": fnum(p_bound)}
    pvals = [p_bound]
    if p["compare_model"]:
        b = run_values(ev, p["metric"], p["compare_model"], p["dataset"])
        _need(b.size, p["min_n"])
        if a.std() == 0 and b.std() == 0:
            d = float(a.mean() - b.mean())
            lo = hi = d
            p_cmp = 0.0 if d < 0 else 1.0
        else:
            t = sps.ttest_ind(a, b, equal_var=False)
            lo, hi = (float(x) for x in t.confidence_interval(p["level"]))
            p_cmp = float(sps.ttest_ind(a, b, equal_var=False, alternative="less").pvalue)
        parts.append(interval_verdict(-hi, -lo, 0.0))
        pvals.append(p_cmp)
        details.update({"compare_mean": float(b.mean()), "difference": float(a.mean() - b.mean()),
                        "difference_ci": [lo, hi], "p_below_compare": fnum(p_cmp), "compare_n": int(b.size)})
    verdict = SUPPORTED if all(v == SUPPORTED for v in parts) else \
        NOT_SUPPORTED if NOT_SUPPORTED in parts else INCONCLUSIVE
    why = f"mean {ci['mean']:.3g} [{ci['lo']:.3g}, {ci['hi']:.3g}] vs bound {p['bound']:g}"
    if p["compare_model"]:
        why += f"; minus {p['compare_model']}: {details['difference']:.3g} [{lo:.3g}, {hi:.3g}]"
    return Outcome(verdict, why, ci["mean"], f"mean {p['metric']} of {p['model']}", (ci["lo"], ci["hi"]),
                   p["level"], fnum(max(pvals)), int(a.size), details)


def _cv(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.std(x, axis=axis, ddof=1) / np.mean(x, axis=axis)


@register("seed_cv",
          {"metric": (str, REQUIRED), "model": (str, REQUIRED), "dataset": (str, REQUIRED),
           "threshold": (float, REQUIRED), "level": (float, 0.95), "min_n": (int, 5), "reps": (int, 2000),
           "seed": (int, 0), "method": (str, "percentile")}, metric_params=("metric",))
def seed_cv(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Coefficient of variation of a metric across seeds, with a bootstrap interval over seeds."""
    vals = run_values(ev, p["metric"], p["model"], p["dataset"]).to_numpy()
    _need(vals.size, p["min_n"])
    bs = stats.bootstrap_ci(vals, _cv, reps=p["reps"], seed=p["seed"], level=p["level"], method=p["method"])
    verdict = interval_verdict(bs["lo"], bs["hi"], p["threshold"])
    return Outcome(verdict, f"CV {bs['estimate']:.3f} [{bs['lo']:.3f}, {bs['hi']:.3f}] vs threshold "
                   f"{p['threshold']:g}", bs["estimate"], f"coefficient of variation of {p['metric']} across seeds",
                   (bs["lo"], bs["hi"]), p["level"], None, int(vals.size),
                   {"values": vals.tolist(), "mean": float(vals.mean()), "sd": float(vals.std(ddof=1)),
                    "bootstrap_method": bs["method"], "reps": p["reps"]})


@register("compute_returns",
          {"model": (str, REQUIRED), "metric": (str, "fid"), "level": (float, 0.95), "min_points": (int, 6),
           "lower_is_better": (bool, True)}, metric_params=("metric",))
def compute_returns(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Diminishing returns to training compute: curvature of quality against log2(FLOPs) in the sweep.

    Fit q = b0 + b1 x + b2 x^2, x = log2 FLOPs (numpy.polyfit, OLS covariance). The gain per doubling is
    -(b1 + 2 b2 x) for a lower-is-better metric; it shrinks with compute exactly when b2 > 0. The effect
    is that curvature's t interval; gains per doubling at the smallest and largest compute go in details.
    """
    sw = ev.sweep
    if sw is None or sw.empty:
        raise Insufficient(f"profile '{ev.profile}' has no compute sweep (the full profile runs one)")
    d = sw[sw["model"] == p["model"]][["flops_total", p["metric"]]].dropna()
    d = d[d["flops_total"] > 0]
    _need(len(d), p["min_points"], "sweep points")
    if d["flops_total"].nunique() < 3:
        raise Insufficient("fewer than 3 distinct compute levels in the sweep")
    sign = 1.0 if p["lower_is_better"] else -1.0
    x, y = np.log2(d["flops_total"].to_numpy(float)), sign * d[p["metric"]].to_numpy(float)
    (b2, b1, b0), cov = np.polyfit(x, y, 2, cov=True)
    dof = len(x) - 3
    se = math.sqrt(cov[0, 0])
    half = float(sps.t.ppf(0.5 + p["level"] / 2, dof)) * se
    t_stat = b2 / se if se > 0 else math.inf
    pval = float(sps.t.sf(t_stat, dof))                            # one-sided: b2 > 0
    gain = lambda xx: float(-(b1 + 2 * b2 * xx))                   # noqa: E731  quality gain per doubling
    details = {"coefficients": [float(b0), float(b1), float(b2)], "n_points": len(x),
               "gain_per_doubling_at_min": gain(x.min()), "gain_per_doubling_at_max": gain(x.max()),
               "flops_min": float(2 ** x.min()), "flops_max": float(2 ** x.max())}
    verdict = interval_verdict(b2 - half, b2 + half, 0.0)
    return Outcome(verdict, f"curvature {b2:.3g} [{b2 - half:.3g}, {b2 + half:.3g}]; gain per doubling "
                   f"{details['gain_per_doubling_at_min']:.3g} -> {details['gain_per_doubling_at_max']:.3g}",
                   float(b2), f"curvature of {p['metric']} in log2 FLOPs (> 0: diminishing returns)",
                   (float(b2 - half), float(b2 + half)), p["level"], fnum(pval), len(x), details)


@register("cost_of_fix",
          {"model": (str, REQUIRED), "max_modes": (dict, REQUIRED), "baseline": (str, "vanilla"),
           "treatment": (str, REQUIRED), "cost_metric": (str, "flops_total"), "gain_metric": (str, "modes"),
           "level": (float, 0.95), "min_n": (int, 3)}, metric_params=("cost_metric", "gain_metric"))
def cost_of_fix(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Compute ratio (treatment / baseline) against the gain in modes, paired by (dataset, seed).

    The ratio's interval is a t interval of the mean log ratio, exponentiated (a geometric mean); the gain
    is the paired difference in the share of modes captured (modes / max for that dataset).
    """
    ratios, gains, per = [], [], {}
    for ds, mx in p["max_modes"].items():
        cost = {v: run_values(ev, p["cost_metric"], p["model"], ds, v) for v in (p["baseline"], p["treatment"])}
        gain = {v: run_values(ev, p["gain_metric"], p["model"], ds, v) for v in (p["baseline"], p["treatment"])}
        seeds = sorted(set.intersection(*(set(s.index) for s in (*cost.values(), *gain.values()))))
        r = [cost[p["treatment"]][s] / cost[p["baseline"]][s] for s in seeds]
        g = [(gain[p["treatment"]][s] - gain[p["baseline"]][s]) / float(mx) for s in seeds]
        ratios += r
        gains += g
        per[ds] = {"n": len(seeds), "flops_ratio": fnum(np.mean(r)) if r else None,
                   "modes_gain_share": fnum(np.mean(g)) if g else None}
    _need(len(ratios), p["min_n"], "paired runs")
    if min(ratios) <= 0:
        raise Insufficient(f"non-positive {p['cost_metric']} in some runs")
    lr = stats.mean_ci(np.log(ratios), p["level"])
    gc = stats.mean_ci(np.asarray(gains), p["level"])
    r_lo, r_hi = math.exp(lr["lo"]), math.exp(lr["hi"])
    cost_v, gain_v = interval_verdict(r_lo, r_hi, 1.0), interval_verdict(gc["lo"], gc["hi"], 0.0)
    if cost_v == SUPPORTED and gain_v == SUPPORTED:
        verdict, why = SUPPORTED, "the fix recovers modes and costs more compute"
    elif r_hi <= 1.0:
        verdict, why = NOT_SUPPORTED, "the fix costs no extra compute"
    elif gain_v != SUPPORTED:
        verdict, why = INCONCLUSIVE, "no measurable gain in modes, so there is no fix to price"
    else:
        verdict, why = INCONCLUSIVE, "compute ratio interval includes 1"
    details = {"per_dataset": per, "modes_gain_share": gc["mean"], "modes_gain_ci": [gc["lo"], gc["hi"]],
               "p_gain": fnum(sps.ttest_1samp(gains, 0.0, alternative="greater").pvalue) if gc["sd"] else None}
    return Outcome(verdict, f"{why}: {p['cost_metric']} ratio {math.exp(lr['mean']):.3g} [{r_lo:.3g}, {r_hi:.3g}]"
                   f", modes-share gain {gc['mean']:.3g} [{gc['lo']:.3g}, {gc['hi']:.3g}]",
                   math.exp(lr["mean"]), f"{p['treatment']} / {p['baseline']} {p['cost_metric']}",
                   (r_lo, r_hi), p["level"], None, len(ratios), details)

# ------------------------------------------------------------------------------------ market claims
def _series(ev: "Evidence", sid: str) -> Any:
    if ev.market is None or sid not in ev.market.series:
        raise Insufficient(f"series '{sid}' is not in the market data")
    return ev.market.series[sid]


def _numeric(s: Any) -> pd.DataFrame:
    """Dated numeric rows on the analysis scale (error rate for bounded scores); bounds ('<', '>') dropped."""
    f = s.frame.assign(v=s.values_for_analysis() if hasattr(s, "values_for_analysis") else s.frame["value"])
    bound = f["bound"].fillna("") if "bound" in f else pd.Series("", index=f.index)
    return f[f["v"].notna() & (bound == "")].sort_values("date", kind="stable")


def _reciprocal(s: Any) -> bool:
    """Is "more" the reciprocal of the analysed value? Yes for a falling price ('down'), and for a score
    analysed as its error rate (the complement falls as the score rises); both together cancel."""
    return (getattr(s.meta, "direction", "up") == "down") != (getattr(s.meta, "transform", "") == "error_rate")


def _growth(ev: "Evidence", sid: str, level: float) -> dict:
    """Annual growth factor of "more" for one series, with its interval (NaN where n = 2)."""
    from . import timeseries
    s = _series(ev, sid)
    f = _numeric(s)
    try:
        g = timeseries.growth_rate(f["date"], f["v"], level)
    except ValueError as exc:
        return {"series": sid, "n": len(f), "error": str(exc)}
    fac, lo, hi = g.annual_factor, g.lo, g.hi
    if _reciprocal(s):
        fac, lo, hi = 1 / fac, 1 / hi, 1 / lo
    se = (math.log(hi) - math.log(lo)) / (2 * sps.t.ppf(0.5 + level / 2, g.n - 2)) if g.n > 2 else math.nan
    return {"series": sid, "factor": fac, "lo": fnum(lo), "hi": fnum(hi), "n": g.n, "se_log": fnum(se),
            "first": str(g.first_date.date()), "last": str(g.last_date.date()), "reciprocal": _reciprocal(s)}


def _quoted(ev: "Evidence", q: Mapping[str, str]) -> dict:
    """A rate quoted by a source (x per year) with its quoted range, read from labelled rows."""
    f = _series(ev, q["series"]).frame.set_index("label")["value"]
    try:
        fac, lo, hi = (float(f[q[k]]) for k in ("point", "lo", "hi"))
    except KeyError as exc:
        raise Insufficient(f"series '{q['series']}' has no row labelled {exc}") from None
    return {"series": f"{q['series']}:{q['point']}", "factor": fac, "lo": lo, "hi": hi, "n": None,
            "se_log": None, "quoted_range": True}


@register("growth_race",
          {"hype": (list, REQUIRED), "capability": (list, REQUIRED), "quoted": (list, []),
           "level": (float, 0.95), "alpha": (float, 0.05)}, series_params=("hype", "capability", "quoted"),
          tables={"quoted": ("series", "point", "lo", "hi")})
def growth_race(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Did expectation series grow faster than capability series? Pairwise comparison of annual factors.

    A pair is separated when the intervals are disjoint or a z test on the log-slopes rejects at alpha.
    Supported when every evaluable pair has hype faster; not supported when any capability series is
    faster than a hype series (a counterexample to the universal claim); inconclusive otherwise.
    """
    hype = [_growth(ev, s, p["level"]) for s in p["hype"]]
    cap = [_growth(ev, s, p["level"]) for s in p["capability"]] + [_quoted(ev, q) for q in p["quoted"]]
    usable = lambda g: g.get("lo") is not None and g.get("hi") is not None    # noqa: E731
    pairs = []
    for h in filter(usable, hype):
        for c in filter(usable, cap):
            pval = None
            if h["se_log"] and c["se_log"]:
                z = (math.log(h["factor"]) - math.log(c["factor"])) / math.hypot(h["se_log"], c["se_log"])
                pval = float(2 * sps.norm.sf(abs(z)))
            sep = pval is not None and pval < p["alpha"]
            if h["lo"] > c["hi"] or (sep and h["factor"] > c["factor"]):
                rel = "hype faster"
            elif c["lo"] > h["hi"] or (sep and c["factor"] > h["factor"]):
                rel = "capability faster"
            else:
                rel = "not separated"
            pairs.append({"hype": h["series"], "capability": c["series"], "relation": rel, "p_value": pval})
    details = {"hype": hype, "capability": cap, "pairs": pairs}
    if not pairs:
        raise Insufficient("no hype/capability pair has growth intervals (series need >= 3 points)", details)
    rels = [q["relation"] for q in pairs]
    verdict = SUPPORTED if all(r == "hype faster" for r in rels) else \
        NOT_SUPPORTED if "capability faster" in rels else INCONCLUSIVE
    gm = lambda gs: float(np.exp(np.mean([math.log(g["factor"]) for g in gs if usable(g)])))  # noqa: E731
    effect = gm(hype) / gm(cap)
    counts = {r: rels.count(r) for r in ("hype faster", "capability faster", "not separated")}
    return Outcome(verdict, ", ".join(f"{v} pair(s) {k}" for k, v in counts.items()), effect,
                   "hype / capability annual growth factor (geometric means)", None, p["level"],
                   None, len(pairs), details)


def _radf_one(ev: "Evidence", sid: str, p: Mapping[str, Any], start: str = "", end: str = "") -> dict:
    """GSADF of one series against its critical value, or why the series cannot be tested."""
    from . import timeseries
    from .critical_values import load_or_compute_critical_values
    f = _numeric(_series(ev, sid))
    f = f[(f["date"] >= pd.Timestamp(start or "1000-01-01")) & (f["date"] <= pd.Timestamp(end or "3000-01-01"))]
    ok, why = timeseries.check_testable(f["date"])
    out: dict[str, Any] = {"series": sid, "n": len(f), "testable": ok, "reason": why}
    if not ok:
        return out
    res = timeseries.radf(pd.Series(f["v"].to_numpy(float), index=pd.DatetimeIndex(f["date"])),
                          p["min_window"] or None, p["lag"])
    cvs = load_or_compute_critical_values(res.n, res.min_window, res.lag, p["reps"], p["seed"])
    cv = float(cvs.value("gsadf", p["level"]))
    eps = timeseries.datestamp(res, cvs, p["level"], p["min_duration"])
    day = lambda d: str(pd.Timestamp(d).date())                               # noqa: E731
    out.update(gsadf=res.gsadf, sadf=res.sadf, cv=cv, min_window=res.min_window, explosive=res.gsadf > cv,
               episodes=[{"start": day(e.start), "peak": day(e.peak), "end": day(e.end),
                          "duration": e.duration} for e in eps])
    return out


@register("explosive_roots",
          {"series": (list, REQUIRED), "reference": (str, ""), "reference_start": (str, ""),
           "reference_end": (str, ""), "episode_window": (list, []), "min_window": (int, 0), "lag": (int, 0),
           "reps": (int, 2000), "seed": (int, 123), "level": (float, 0.95), "min_duration": (int, 0)},
          series_params=("series", "reference"))
def explosive_roots(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """GSADF test of each series at `level`; the reference series (S&P 500 P/D) is the yardstick.

    Supported when any testable series' GSADF exceeds its critical value; not supported when at least
    one series is testable and none does; inconclusive when none is testable (too short, irregular).
    """
    details: dict[str, Any] = {"series": [_radf_one(ev, s, p) for s in p["series"]]}
    if p["reference"]:
        try:
            ref = _radf_one(ev, p["reference"], p, p["reference_start"], p["reference_end"])
        except Insufficient as exc:
            ref = {"series": p["reference"], "testable": False, "reason": str(exc)}
        if p["episode_window"] and ref.get("episodes") is not None:
            w0, w1 = p["episode_window"]
            ref["episodes_in_window"] = [e for e in ref["episodes"] if e["start"] <= w1 and e["end"] >= w0]
        details["reference"] = ref
    testable = [t for t in details["series"] if t["testable"]]
    if not testable:
        raise Insufficient("; ".join(f"{t['series']}: {t['reason']}" for t in details["series"]), details)
    best = max(testable, key=lambda t: t["gsadf"] - t["cv"])
    verdict = SUPPORTED if best["explosive"] else NOT_SUPPORTED
    return Outcome(verdict, f"{best['series']}: GSADF {best['gsadf']:.2f} vs {p['level']:.0%} critical value "
                   f"{best['cv']:.2f}", best["gsadf"], f"GSADF of {best['series']}", None, p["level"], None,
                   best["n"], details)


@register("after_peak_rise",
          {"phase_series": (str, REQUIRED), "peak_phase": (str, REQUIRED), "signals": (list, REQUIRED),
           "context": (list, []), "min_rise": (float, REQUIRED)},
          series_params=("phase_series", "signals", "context"))
def after_peak_rise(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Did disillusionment signals rise after the hype peak? First vs last observation after the peak date.

    Supported when every signal with >= 2 post-peak values rose by >= min_rise (in its own unit, in the
    direction its metadata calls "more"); not supported when every one fell or stayed flat.
    """
    ph = _series(ev, p["phase_series"]).frame.sort_values("date", kind="stable")
    peak = ph[ph["value_text"] == p["peak_phase"]]
    if peak.empty:
        raise Insufficient(f"no '{p['peak_phase']}' row in {p['phase_series']}")
    t0 = peak["date"].iloc[0]
    details: dict[str, Any] = {"peak_date": str(t0.date()), "signals": [], "context": [],
                               "phases": [{"date": str(d.date()), "phase": v}
                                          for d, v in zip(ph["date"], ph["value_text"])]}
    for sid in p["signals"]:
        s = _series(ev, sid)
        f = _numeric(s)
        f = f[f["date"] > t0]
        row: dict[str, Any] = {"series": sid, "n_after_peak": len(f)}
        if len(f) >= 2:
            sign = -1.0 if getattr(s.meta, "direction", "up") == "down" else 1.0
            row.update(first_date=str(f["date"].iloc[0].date()), first=float(f["v"].iloc[0]),
                       last_date=str(f["date"].iloc[-1].date()), last=float(f["v"].iloc[-1]),
                       rise=sign * float(f["v"].iloc[-1] - f["v"].iloc[0]))
        details["signals"].append(row)
    for sid in p["context"]:
        f = _series(ev, sid).frame
        details["context"] += [{"series": sid, "label": r.get("label", ""), "date": str(r["date"].date()),
                                "value": fnum(r["value"]), "bound": r.get("bound", "")}
                               for r in f[f["date"] > t0].to_dict("records")]
    rows = [r for r in details["signals"] if "rise" in r]
    if not rows:
        raise Insufficient("no signal has 2 observations after the hype peak", details)
    rises = [r["rise"] for r in rows]
    verdict = SUPPORTED if min(rises) >= p["min_rise"] else NOT_SUPPORTED if max(rises) <= 0 else INCONCLUSIVE
    n = min(r["n_after_peak"] for r in rows)
    return Outcome(verdict, f"{rows[0]['series']} moved {rows[0]['first']:g} -> {rows[0]['last']:g} after the "
                   f"peak ({details['peak_date']}); n={n} observations after the peak: a before/after "
                   f"comparison, not a trend test", rises[0], f"rise of {rows[0]['series']} after the peak",
                   None, 0.95, None, n, details)
