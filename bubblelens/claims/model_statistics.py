"""Statistics of model-side claims (runs of this build: modes, blur, seeds, compute), registered by name.

Each kind is a pure function of the evidence and the claim's declared parameters; `register` states its
parameters and which of them name metrics or market series, so a typo in claims.toml is caught before a
build runs. Missing or too little evidence raises `Insufficient` with the reader-facing reason, which the
engine reports as "inconclusive". All model kinds share one rule, `interval_verdict`: an interval wholly
on one side of a declared threshold decides.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from bubblelens.analysis import stats
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, REQUIRED, SUPPORTED, Insufficient
from bubblelens.claims.kinds import Outcome, StatisticKind, fnum, interval_verdict, registrar

if TYPE_CHECKING:
    from bubblelens.claims.kinds import Evidence

KINDS: dict[str, StatisticKind] = {}
register = registrar(KINDS)


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
