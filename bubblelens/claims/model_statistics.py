"""Model-side claim kinds (runs of this build: modes, blur, seeds), each registered whole with one
`register_kind` call: its parameters, statistic, reachability probe and alternatives.

A statistic is a pure function of the evidence and the claim's validated parameters; the kind's `Params`
model states each parameter's type and default and which of them name metrics, so a typo in claims.toml
is caught before a build runs. Missing or too little evidence raises `Insufficient` with the
reader-facing reason, which the engine reports as "inconclusive". All model kinds share one rule,
`interval_verdict`: an interval wholly on one side of a declared threshold decides.

The probes (claims/reachability.py) build runs at the groups and seeds in hand. The alternatives
(claims/operating.py) are data-generating models fitted to this build's runs and simulated at the same
groups and seeds: each keeps what the runs show (how many runs count, the spread across seeds) and moves
only the claim's effect, to the estimate and to its mirror image across the rule's threshold.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from bubblelens.analysis import stats
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Evidence, Insufficient, Names, Outcome
from bubblelens.claims.kinds import Params, Table, fnum, interval_verdict, register_kind
from bubblelens.claims.operating import Alternatives, expit, logit, measured_and_mirrored, mirrored, shrunk_share
from bubblelens.claims.operating import verdict_of
from bubblelens.claims.reachability import RunsBuilder, group, seeds, spread, variant_of
from bubblelens.evaluation.names import KEY_HIGH_QUALITY

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


class ShareOfRunsFailing(Params):
    checks: Annotated[list, Table("model", "dataset", "metric", "max"), Names("metrics", keys=("metric",))]
    threshold: float
    level: float = 0.95
    min_n: int = 3
    min_high_quality: float = 0.0


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


def _share_of_runs_failing_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Exhaustive: every number of failing runs from none to all (runs listed check by check). With a
    `min_high_quality` floor, the runs that count are those at or above it in the evidence at hand (how
    many reach it sets the sample size, like the number of seeds), all of them in a skeleton."""
    groups = []
    for c in p["checks"]:
        variant = c.get("variant") or variant_of(ev, c["model"], c["dataset"])
        ss = seeds(ev, c["model"], c["dataset"], c.get("variant", ""))
        kept = learned_seeds(ev, c, p["min_high_quality"])
        groups.append((c, variant, ss, set(ss) if kept is None else kept, kept is not None))
    total = sum(len(kept) for *_, kept, _ in groups)
    for k in range(total + 1):
        b, left = RunsBuilder(ev), k
        for c, variant, ss, kept, floored in groups:
            counted = [s for s in ss if s in kept]
            fail = set(counted[:min(left, len(counted))])
            left -= len(fail)
            b.set(c["model"], c["dataset"], variant, c["metric"],
                  {s: float(c["max"]) - (1.0 if s in fail else 0.0) for s in ss})
            if floored:
                b.set(c["model"], c["dataset"], variant, KEY_HIGH_QUALITY,
                      {s: 1.0 if s in kept else 0.0 for s in ss})
        yield b.evidence()


def _share_of_runs_failing_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Runs fail independently with one true share; the runs that count (those above the convergence
    floor) are the ones in hand. Mirror on the logit scale around the threshold."""
    out = share_of_runs_failing(ev, p)
    groups = []
    for c, row in zip(p["checks"], out.details["per_check"]):
        variant = c.get("variant") or variant_of(ev, c["model"], c["dataset"])
        ss = seeds(ev, c["model"], c["dataset"], c.get("variant", ""))
        kept = learned_seeds(ev, c, p["min_high_quality"])
        groups.append((c, variant, ss, set(ss) if kept is None else kept, kept is not None))
    n = int(out.n)
    # One frame of every run at its target (counted runs marked by a high-quality share of 1); a draw
    # only lowers the metric of the counted runs that fail, so the frame is built once.
    b = RunsBuilder(ev)
    for c, variant, ss, counted, floored in groups:
        b.set(c["model"], c["dataset"], variant, c["metric"], dict.fromkeys(ss, float(c["max"])))
        if floored:
            b.set(c["model"], c["dataset"], variant, KEY_HIGH_QUALITY, {s: 1.0 if s in counted else 0.0 for s in ss})
    frame = b.evidence().runs
    at_stake = np.flatnonzero(np.concatenate([
        ((frame["model"] == c["model"]) & (frame["dataset"] == c["dataset"]) & (frame["variant"] == variant)
         & (frame["metric"] == c["metric"]) & frame["seed"].isin(list(counted))).to_numpy()[None, :]
        for c, variant, _, counted, _ in groups]).any(axis=0))
    base = frame["value"].to_numpy(float)

    def sampler(x: float):
        share = expit(x)

        def sample(rng: np.random.Generator) -> str:
            values = base.copy()
            values[at_stake] -= (rng.random(at_stake.size) < share).astype(float)
            return verdict_of(share_of_runs_failing, Evidence(frame.assign(value=values), ev.sweep,
                                                              ev.market, ev.profile, ev.published), p)
        return sample

    estimate = logit(shrunk_share(int(out.details["k"]), n))
    text = lambda x: f"each of the {n} counted runs fails with probability {expit(x):.2f}"   # noqa: E731
    return Alternatives(measured_and_mirrored(estimate, mirrored(estimate, logit(p["threshold"])), text, sampler),
                        f"independent runs, one true share of failing runs (binomial, n = {n})")


register_kind("share_of_runs_failing", ShareOfRunsFailing, share_of_runs_failing,
              probe=_share_of_runs_failing_probe, alternatives=_share_of_runs_failing_alternatives)


class MeanBelow(Params):
    metric: Annotated[str, Names("metrics")]
    model: str
    dataset: str
    bound: float
    compare_model: str = ""
    paired: bool = False
    level: float = 0.95
    min_n: int = 3


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


def _mean_below_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Far below the bound (and the comparator far above), far above it, and straddling it."""
    va, sa = group(ev, p["model"], p["dataset"])
    vb, sb = group(ev, p["compare_model"], p["dataset"]) if p["compare_model"] else ("", [])
    scale = abs(p["bound"]) or 1.0
    for centre, noise, other in ((0.5, 0.01, 2.0), (2.0, 0.01, 0.5), (1.0, 0.5, 1.0)):
        b = RunsBuilder(ev).set(p["model"], p["dataset"], va, p["metric"],
                                dict(zip(sa, scale * (centre + noise * spread(len(sa))))))
        if sb:      # half the wiggle: per-seed differences keep a spread when the rule pairs seeds
            b.set(p["compare_model"], p["dataset"], vb, p["metric"],
                  dict(zip(sb, scale * (other + 0.5 * noise * spread(len(sb))))))
        yield b.evidence()


def _mean_below_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Seeds normal around the model's mean with its observed coefficient of variation (the comparator as
    observed); the model's mean mirrored across the bound on the log scale (these are ratios)."""
    a = run_values(ev, p["metric"], p["model"], p["dataset"])
    b = run_values(ev, p["metric"], p["compare_model"], p["dataset"]) if p["compare_model"] else None
    if a.size < 2 or a.mean() <= 0 or p["bound"] <= 0:
        raise Insufficient("needs two or more seeds with a positive mean and a positive bound")
    cv = float(a.std(ddof=1) / a.mean())
    b_mean = float(b.mean()) if b is not None and b.size else 0.0
    b_sd = float(b.std(ddof=1)) if b is not None and b.size > 1 else 0.0      # one seed: no spread to draw

    def sampler(log_mean: float):
        mean = math.exp(log_mean)

        def sample(rng: np.random.Generator) -> str:
            bld = RunsBuilder(ev).set(p["model"], p["dataset"], variant_of(ev, p["model"], p["dataset"]),
                                      p["metric"], {int(s): mean * (1 + cv * rng.standard_normal()) for s in a.index})
            if b is not None:
                bld.set(p["compare_model"], p["dataset"], variant_of(ev, p["compare_model"], p["dataset"]),
                        p["metric"], {int(s): b_mean + b_sd * rng.standard_normal() for s in b.index})
            return verdict_of(mean_below, bld.evidence(), p)
        return sample

    est = math.log(float(a.mean()))
    cmp = f"; {p['compare_model']} as measured ({b_mean:.3g}, sd {b_sd:.3g})" if b is not None else ""
    text = lambda x: f"{p['model']} mean {p['metric']} {math.exp(x):.3g} (CV {cv:.2f}){cmp}"   # noqa: E731
    return Alternatives(measured_and_mirrored(est, mirrored(est, math.log(p["bound"])), text, sampler),
                        f"seeds independent and normal, {a.size} of {p['model']}"
                        + (f" and {b.size} of {p['compare_model']}" if b is not None else ""))


register_kind("mean_below", MeanBelow, mean_below,
              probe=_mean_below_probe, alternatives=_mean_below_alternatives)


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


class SeedCV(Params):
    metric: Annotated[str, Names("metrics")]
    model: str
    dataset: str
    variant: str = ""
    threshold: float
    level: float = 0.95
    min_n: int = 5
    reps: int = 2000
    seed: int = 0
    method: str = "vangel"
    min_high_quality: float = 0.0


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


def _seed_cv_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Spread far below the threshold CV, far above it, and at it."""
    variant = p["variant"] or variant_of(ev, p["model"], p["dataset"])
    ss = seeds(ev, p["model"], p["dataset"], p["variant"])
    for cv in (p["threshold"] / 20, p["threshold"] * 10, p["threshold"]):
        yield RunsBuilder(ev).set(p["model"], p["dataset"], variant, p["metric"],
                                  dict(zip(ss, 100.0 * (1 + cv * spread(len(ss)))))).evidence()


def _seed_cv_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """The counted seeds normal with the observed mean and a true CV; mirrored on the log scale."""
    vals = seed_cv_values(ev, p)[0]
    if vals.size < 2 or vals.mean() <= 0 or vals.std(ddof=1) == 0:
        raise Insufficient("needs two or more seeds with a positive mean and some spread")
    mean, n = float(vals.mean()), int(vals.size)
    variant = p["variant"] or variant_of(ev, p["model"], p["dataset"])

    def sampler(log_cv: float):
        cv = math.exp(log_cv)

        def sample(rng: np.random.Generator) -> str:
            x = mean * (1 + cv * rng.standard_normal(n))
            b = RunsBuilder(ev).set(p["model"], p["dataset"], variant, p["metric"], dict(enumerate(x.tolist())))
            return verdict_of(seed_cv, b.evidence(), {**p, "min_high_quality": 0.0})
        return sample

    est = math.log(float(vals.std(ddof=1) / mean))
    text = lambda x: f"{n} seeds, mean {mean:.3g}, true CV {math.exp(x):.3f}"    # noqa: E731
    return Alternatives(measured_and_mirrored(est, mirrored(est, math.log(p["threshold"])), text, sampler),
                        f"the {n} counted seeds independent and normal")


register_kind("seed_cv", SeedCV, seed_cv,
              probe=_seed_cv_probe, alternatives=_seed_cv_alternatives)
