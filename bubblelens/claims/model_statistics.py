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


def _check_name(c: Mapping[str, Any]) -> str:
    return " ".join(str(c[k]) for k in ("model", "dataset", "variant") if c.get(k))


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
    absent = [_check_name(c) for c in per_check if c["n"] == 0 and c["not_converged"] == 0]
    if absent:
        floor += f"; no {', '.join(absent)} runs in this build"
    return Outcome(verdict, f"{k} of {n} counted runs fell short{floor}; CI [{cp['lo']:.2f}, {cp['hi']:.2f}] vs "
                   f"threshold {p['threshold']:.2f}", k / n, "share of runs missing at least one mode/class",
                   (cp["lo"], cp["hi"]), p["level"], pval, n, details)


@register("mean_below",
          {"metric": (str, REQUIRED), "model": (str, REQUIRED), "dataset": (str, REQUIRED),
           "bound": (float, REQUIRED), "compare_model": (str, ""), "paired": (bool, False), "level": (float, 0.95),
           "min_n": (int, 3)},
          metric_params=("metric",))
def mean_below(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Mean across seeds below a bound and (optionally) below a comparator model: a t interval, and for
    the comparison a Welch interval or, `paired`, a t interval of the per-seed differences (seeds both
    models ran).

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
        if p["paired"]:
            shared = sorted(set(a.index) & set(b.index))
            _need(len(shared), p["min_n"], "seeds run by both models")
            diff = (a[shared] - b[shared]).to_numpy()
            dci = stats.mean_ci(diff, p["level"])
            if not dci["sd"]:
                raise Insufficient(f"the {len(shared)} per-seed differences are all equal: no interval")
            lo, hi = dci["lo"], dci["hi"]
            p_cmp = float(sps.ttest_1samp(diff, 0.0, alternative="less").pvalue)
            details["per_seed_difference"] = {int(s): float(d) for s, d in zip(shared, diff)}
        else:
            t = sps.ttest_ind(a, b, equal_var=False)    # a has spread (checked above), so the interval has width
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


def seed_cv_values(ev: "Evidence", p: Mapping[str, Any]) -> tuple[np.ndarray, int]:
    """(the values a seed_cv claim counts, how many seeds the convergence floor left out)."""
    vals = run_values(ev, p["metric"], p["model"], p["dataset"], p["variant"])
    kept = learned_seeds(ev, p, p.get("min_high_quality", 0.0))
    if kept is None:
        return vals.to_numpy(), 0
    counted = vals[vals.index.isin(list(kept))]
    return counted.to_numpy(), int(vals.size - counted.size)


def _cv(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.std(x, axis=axis, ddof=1) / np.mean(x, axis=axis)


SEED_CV_BOOTSTRAP = ("percentile", "basic", "bca")     # scipy.stats.bootstrap methods (case-insensitive)


@register("seed_cv",
          {"metric": (str, REQUIRED), "model": (str, REQUIRED), "dataset": (str, REQUIRED), "variant": (str, ""),
           "threshold": (float, REQUIRED), "level": (float, 0.95), "min_n": (int, 5), "reps": (int, 2000),
           "seed": (int, 0), "method": (str, "vangel"), "min_high_quality": (float, 0.0)}, metric_params=("metric",))
def seed_cv(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Coefficient of variation of a metric across seeds with a confidence interval over seeds.

    method "vangel" (default) or "mckay": the chi-square intervals of `stats.cv_interval` (normal seeds;
    coverage checked by simulation in tests/unit/analysis/test_cv_interval.py). "percentile", "basic" or
    "BCa": a bootstrap over seeds (`reps`, `seed` apply only to these; the percentile one covers far less
    than its nominal level at 5 seeds). Identical values on every seed (sd 0) or a mean <= 0 are
    inconclusive: there is no interval of non-zero width to compare with the threshold. An interval with
    no upper bound (large CV, few seeds) can still be supported (lower bound above the threshold), never
    not supported. With `min_high_quality` > 0 only seeds at or above that high-quality share count (the
    runs the mode-dropping claim counts: a run that never learned its data is non-convergence, another
    failure mode, not seed-to-seed spread of a working method); how many were left out is reported.
    """
    vals, left_out = seed_cv_values(ev, p)
    _need(vals.size, p["min_n"], "converged seeds" if p["min_high_quality"] > 0 else "seeds")
    mean, sd = float(vals.mean()), float(vals.std(ddof=1))
    base = {"values": vals.tolist(), "mean": mean, "sd": sd, "not_converged": left_out}
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
    floor = f"; {left_out} seeds below the high-quality floor of {p['min_high_quality']:g} left out" \
        if p["min_high_quality"] > 0 else ""
    return Outcome(verdict, f"CV {ci['estimate']:.3f} [{lo:.3f}, {hi_text}] ({extra['method']}) vs threshold "
                   f"{p['threshold']:g}{floor}", ci["estimate"], f"coefficient of variation of {p['metric']} across seeds",
                   (lo, hi), p["level"], None, int(vals.size),
                   {**base, **extra, "interval": [lo, hi], "level": p["level"]})
