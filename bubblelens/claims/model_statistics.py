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
from bubblelens.evaluation.names import KEY_HIGH_QUALITY

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


def learned_seeds(ev: "Evidence", check: Mapping[str, Any], floor: float) -> set[int] | None:
    """Seeds of a check's group whose high-quality share is at least `floor`; None when no floor is set
    or the group records no high-quality share (the DCGAN: every run counts)."""
    if floor <= 0:
        return None
    hq = run_values(ev, KEY_HIGH_QUALITY, check["model"], check["dataset"], check.get("variant", ""))
    return None if hq.empty else {int(s) for s, v in hq.items() if v >= floor}


@register("share_of_runs_failing",
          {"checks": (list, REQUIRED), "threshold": (float, REQUIRED), "level": (float, 0.95),
           "min_n": (int, 3), "min_high_quality": (float, 0.0)}, metric_params=("checks",),
          tables={"checks": ("model", "dataset", "metric", "max")})
def share_of_runs_failing(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Share of runs whose metric falls short of its target value `max` (e.g. modes < 8, or a least-made
    class share below 0.5), Clopper-Pearson interval.

    With `min_high_quality` > 0, a run of a group that records a high-quality share counts only at or
    above that floor: a run below it did not learn its data well enough for a missing mode to be mode
    dropping (non-convergence is its own failure mode). The rule is then conditional on convergence,
    and how many runs were left out is reported beside the verdict."""
    k = n = 0
    per_check = []
    for c in p["checks"]:
        vals = run_values(ev, c["metric"], c["model"], c["dataset"], c.get("variant", ""))
        kept = learned_seeds(ev, c, p["min_high_quality"])
        not_converged = 0
        if kept is not None:
            not_converged = int((~vals.index.isin(list(kept))).sum())
            vals = vals[vals.index.isin(list(kept))]
        fails = int((vals < float(c["max"])).sum())
        k, n = k + fails, n + int(vals.size)
        per_check.append({**c, "k": fails, "n": int(vals.size), "not_converged": not_converged,
                          "values": [float(v) for v in vals]})
    _need(n, p["min_n"], "converged runs" if p["min_high_quality"] > 0 else "runs")
    cp = stats.clopper_pearson(k, n, p["level"])
    pval = float(sps.binomtest(k, n, p["threshold"], alternative="greater").pvalue)
    left_out = sum(c["not_converged"] for c in per_check)
    details: dict[str, Any] = {"per_check": per_check, "k": k, "not_converged": left_out}
    if ev.published is not None and not ev.published.empty:
        details["published"] = ev.published.astype(object).where(ev.published.notna(), None).to_dict("records")
    verdict = interval_verdict(cp["lo"], cp["hi"], p["threshold"])
    floor = f" ({left_out} below the high-quality floor of {p['min_high_quality']:g} left out)" \
        if p["min_high_quality"] > 0 else ""
    return Outcome(verdict, f"{k} of {n} counted runs fell short{floor}; CI [{cp['lo']:.2f}, {cp['hi']:.2f}] vs "
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
    if not ci["sd"]:               # an interval of zero width is no interval
        raise Insufficient(f"all {a.size} seeds gave the same {p['metric']} ({ci['mean']:.6g}): no spread to "
                           "build an interval from")
    p_bound = float(sps.ttest_1samp(a, p["bound"], alternative="less").pvalue)
    parts = [interval_verdict(-ci["hi"], -ci["lo"], -p["bound"])]      # "below" = negated "above"
    details: dict[str, Any] = {"mean": ci["mean"], "sd": ci["sd"], "p_below_bound": fnum(p_bound)}
    pvals = [p_bound]
    if p["compare_model"]:
        b = run_values(ev, p["metric"], p["compare_model"], p["dataset"])
        _need(b.size, p["min_n"])
        t = sps.ttest_ind(a, b, equal_var=False)        # a has spread (checked above), so the interval has width
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


SEED_CV_BOOTSTRAP = ("percentile", "basic", "bca")     # scipy.stats.bootstrap methods (case-insensitive)


@register("seed_cv",
          {"metric": (str, REQUIRED), "model": (str, REQUIRED), "dataset": (str, REQUIRED), "variant": (str, ""),
           "threshold": (float, REQUIRED), "level": (float, 0.95), "min_n": (int, 5), "reps": (int, 2000),
           "seed": (int, 0), "method": (str, "vangel")}, metric_params=("metric",))
def seed_cv(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Coefficient of variation of a metric across seeds with a confidence interval over seeds.

    method "vangel" (default) or "mckay": the chi-square intervals of `stats.cv_interval` (normal seeds;
    coverage checked by simulation in tests/unit/analysis/test_cv_interval.py). "percentile", "basic" or
    "BCa": a bootstrap over seeds (`reps`, `seed` apply only to these; the percentile one covers far less
    than its nominal level at 5 seeds). Identical values on every seed (sd 0) or a mean <= 0 are
    inconclusive: there is no interval of non-zero width to compare with the threshold. An interval with
    no upper bound (large CV, few seeds) can still be supported (lower bound above the threshold), never
    not supported.
    """
    vals = run_values(ev, p["metric"], p["model"], p["dataset"], p["variant"]).to_numpy()
    _need(vals.size, p["min_n"])
    mean, sd = float(vals.mean()), float(vals.std(ddof=1))
    base = {"values": vals.tolist(), "mean": mean, "sd": sd}
    if mean <= 0:
        raise Insufficient(f"mean {p['metric']} across seeds is {mean:.3g} <= 0: no coefficient of variation", base)
    if sd == 0:
        raise Insufficient(f"all {vals.size} seeds gave the same {p['metric']} ({mean:.6g}): the CV is 0 and "
                           "there is no spread to build an interval from", base)
    method = p["method"]
    if method.lower() in stats.CV_METHODS:
        ci = stats.cv_interval(vals, p["level"], method.lower())
        extra = {"method": ci["method"], "upper_unbounded": ci["upper_unbounded"]}
    elif method.lower() in SEED_CV_BOOTSTRAP:
        ci = stats.bootstrap_ci(vals, _cv, reps=p["reps"], seed=p["seed"], level=p["level"], method=method)
        extra = {"method": f"bootstrap-{ci['method']}", "bootstrap_method": ci["method"], "reps": p["reps"],
                 "seed": p["seed"], "upper_unbounded": False}
    else:
        raise ValueError(f"seed_cv: method must be one of {stats.CV_METHODS + SEED_CV_BOOTSTRAP}, got {method!r}")
    lo, hi = float(ci["lo"]), float(ci["hi"])
    if math.isinf(hi) and math.isfinite(lo):    # no upper bound: only "supported" can be decided
        verdict = SUPPORTED if lo > p["threshold"] else INCONCLUSIVE
    else:
        verdict = interval_verdict(lo, hi, p["threshold"])
    hi_text = "unbounded" if math.isinf(hi) else f"{hi:.3f}"
    return Outcome(verdict, f"CV {ci['estimate']:.3f} [{lo:.3f}, {hi_text}] ({extra['method']}) vs threshold "
                   f"{p['threshold']:g}", ci["estimate"], f"coefficient of variation of {p['metric']} across seeds",
                   (lo, hi), p["level"], None, int(vals.size),
                   {**base, **extra, "interval": [lo, hi], "level": p["level"]})


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
    if not se > 0:
        raise Insufficient("the sweep lies exactly on a parabola: no residual spread for an interval")
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
