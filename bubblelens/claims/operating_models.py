"""Alternatives for the model-side claim kinds (claims/operating.py): data-generating models fitted to
this build's runs, simulated at the same groups, seeds and sweep points.

Each fitted model keeps what the runs show (how many runs count, the spread across seeds, each sweep
series' fitted law and residual noise, each pair's chance of an undetermined order) and moves only the
claim's effect: to the estimate, and to its mirror image across the rule's threshold.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bubblelens.claims import cost_statistics as cost
from bubblelens.claims import model_statistics as models
from bubblelens.claims.kinds import Evidence, Insufficient
from bubblelens.claims.operating import Alternatives, Scenario, expit, logit, measured_and_mirrored, registrar
from bubblelens.claims.operating import mirrored, shrunk_share, verdict_of
from bubblelens.claims.reachability import RunsBuilder, _design_values, _variant_of, seeds
from bubblelens.evaluation.names import KEY_FLOPS_TOTAL, KEY_HIGH_QUALITY

ALTERNATIVES: dict = {}
alternatives = registrar(ALTERNATIVES)


@alternatives("share_of_runs_failing")
def _share(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Runs fail independently with one true share; the runs that count (those above the convergence
    floor) are the ones in hand. Mirror on the logit scale around the threshold."""
    out = models.share_of_runs_failing(ev, p)
    groups = []
    for c, row in zip(p["checks"], out.details["per_check"]):
        variant = c.get("variant") or _variant_of(ev, c["model"], c["dataset"])
        ss = seeds(ev, c["model"], c["dataset"], c.get("variant", ""))
        kept = models.learned_seeds(ev, c, p["min_high_quality"])
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
            return verdict_of(models.share_of_runs_failing, Evidence(frame.assign(value=values), ev.sweep,
                                                                      ev.market, ev.profile, ev.published), p)
        return sample

    estimate = logit(shrunk_share(int(out.details["k"]), n))
    text = lambda x: f"each of the {n} counted runs fails with probability {expit(x):.2f}"   # noqa: E731
    return Alternatives(measured_and_mirrored(estimate, mirrored(estimate, logit(p["threshold"])), text, sampler),
                        f"independent runs, one true share of failing runs (binomial, n = {n})")


@alternatives("mean_below")
def _mean_below(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Seeds normal around the model's mean with its observed coefficient of variation (the comparator as
    observed); the model's mean mirrored across the bound on the log scale (these are ratios)."""
    a = models.run_values(ev, p["metric"], p["model"], p["dataset"])
    b = models.run_values(ev, p["metric"], p["compare_model"], p["dataset"]) if p["compare_model"] else None
    if a.size < 2 or a.mean() <= 0 or p["bound"] <= 0:
        raise Insufficient("needs two or more seeds with a positive mean and a positive bound")
    cv = float(a.std(ddof=1) / a.mean())
    b_mean = float(b.mean()) if b is not None and b.size else 0.0
    b_sd = float(b.std(ddof=1)) if b is not None and b.size > 1 else 0.0      # one seed: no spread to draw

    def sampler(log_mean: float):
        mean = math.exp(log_mean)

        def sample(rng: np.random.Generator) -> str:
            bld = RunsBuilder(ev).set(p["model"], p["dataset"], _variant_of(ev, p["model"], p["dataset"]),
                                      p["metric"], {int(s): mean * (1 + cv * rng.standard_normal()) for s in a.index})
            if b is not None:
                bld.set(p["compare_model"], p["dataset"], _variant_of(ev, p["compare_model"], p["dataset"]),
                        p["metric"], {int(s): b_mean + b_sd * rng.standard_normal() for s in b.index})
            return verdict_of(models.mean_below, bld.evidence(), p)
        return sample

    est = math.log(float(a.mean()))
    cmp = f"; {p['compare_model']} as measured ({b_mean:.3g}, sd {b_sd:.3g})" if b is not None else ""
    text = lambda x: f"{p['model']} mean {p['metric']} {math.exp(x):.3g} (CV {cv:.2f}){cmp}"   # noqa: E731
    return Alternatives(measured_and_mirrored(est, mirrored(est, math.log(p["bound"])), text, sampler),
                        f"seeds independent and normal, {a.size} of {p['model']}"
                        + (f" and {b.size} of {p['compare_model']}" if b is not None else ""))


@alternatives("seed_cv")
def _seed_cv(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """The counted seeds normal with the observed mean and a true CV; mirrored on the log scale."""
    vals = models.seed_cv_values(ev, p)[0]
    if vals.size < 2 or vals.mean() <= 0 or vals.std(ddof=1) == 0:
        raise Insufficient("needs two or more seeds with a positive mean and some spread")
    mean, n = float(vals.mean()), int(vals.size)
    variant = p["variant"] or _variant_of(ev, p["model"], p["dataset"])

    def sampler(log_cv: float):
        cv = math.exp(log_cv)

        def sample(rng: np.random.Generator) -> str:
            x = mean * (1 + cv * rng.standard_normal(n))
            b = RunsBuilder(ev).set(p["model"], p["dataset"], variant, p["metric"], dict(enumerate(x.tolist())))
            return verdict_of(models.seed_cv, b.evidence(), {**p, "min_high_quality": 0.0})
        return sample

    est = math.log(float(vals.std(ddof=1) / mean))
    text = lambda x: f"{n} seeds, mean {mean:.3g}, true CV {math.exp(x):.3f}"    # noqa: E731
    return Alternatives(measured_and_mirrored(est, mirrored(est, math.log(p["threshold"])), text, sampler),
                        f"the {n} counted seeds independent and normal")


@alternatives("compute_returns")
def _compute_returns(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each sweep series follows its own fitted saturating law plus normal noise at its residual sd; the
    scenario moves every series' log ratio (last doubling's gain / first's) by the same amount, keeping
    its total improvement over the range. Mirror across the band [log max_ratio, log 1]."""
    out = cost.compute_returns(ev, p)
    sign = 1.0 if p["lower_is_better"] else -1.0
    d = ev.sweep[ev.sweep["model"] == p["model"]].dropna(subset=["flops_total", p["metric"]])
    fitted = {(r["seed"], r["width"]): r for r in out.details["series"] if "ratio" in r}
    series = []
    for (seed, width), g in d[d["flops_total"] > 0].groupby(["seed", "width"]):
        g = g.sort_values("flops_total")
        x = np.log2(g["flops_total"].to_numpy(float) / g["flops_total"].min())
        r = fitted.get((int(seed), float(width)))
        if r is None:
            continue
        y = sign * g[p["metric"]].to_numpy(float)
        f0, amp, k = sign * r["floor"], r["amplitude"], r["k"]
        resid = y - cost._saturating(x, f0, amp, k)
        # three parameters fitted: the residual sd on n - 3 degrees of freedom
        series.append((g.index, x, f0, amp, k, float(np.sqrt(resid @ resid / (len(x) - 3))) if len(x) > 3 else 0.0))
    est = float(np.mean([-k * (x.max() - 1) for _, x, _, _, k, _ in series]))

    def sampler(log_r: float):
        shift = log_r - est

        def sample(rng: np.random.Generator) -> str:
            values = d[p["metric"]].copy()
            for idx, x, f0, amp, k, sd in series:
                span = x.max()
                k2 = k - shift / (span - 1)                     # log r = -k (x_max - 1), moved by `shift`
                drop = amp * (1 - math.exp(-k * span))           # the total improvement, kept
                amp2 = drop / (1 - math.exp(-k2 * span)) if abs(k2) > 1e-9 else drop / span
                law = (f0 + amp - amp2) + amp2 * np.exp(-k2 * x) if abs(k2) > 1e-9 else f0 + amp - amp2 * x
                values.loc[idx] = sign * (law + sd * rng.standard_normal(len(x)))
            return verdict_of(cost.compute_returns, Evidence(ev.runs, d.assign(**{p["metric"]: values}),
                                                              ev.market, ev.profile, ev.published), p)
        return sample

    text = lambda x: f"{len(series)} series, mean last/first gain ratio {math.exp(x):.3g}"   # noqa: E731
    mirror = mirrored(est, math.log(p["max_ratio"]), 0.0)
    return Alternatives(measured_and_mirrored(est, mirror, text, sampler),
                        "each sweep series its fitted law plus normal noise at its residual sd", sims=60)


@alternatives("compute_to_target")
def _compute_to_target(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each pair of runs (dataset, seed) is undetermined with the observed share of undetermined pairs
    (both first at target at the same checkpoint), else the treatment needs more steps with one true
    share; FLOPs per step, checkpoints and budgets keep their real values. Mirror on the logit scale
    around one half."""
    out = cost.compute_to_target(ev, p)
    det = out.details
    undetermined = det["undetermined"] / det["pairs"] if det["pairs"] else 0.0
    arms = (p["baseline"], p["treatment"])
    design = {}
    datasets = [ds for ds in p["datasets"] if det["per_dataset"].get(ds, {}).get("pairs")]   # those in this build
    for ds in datasets:
        ss = sorted(set(seeds(ev, p["model"], ds, arms[0])) & set(seeds(ev, p["model"], ds, arms[1])))
        for arm in arms:
            fps = _design_values(ev, "flops_per_step", p["model"], ds, arm)
            every = _design_values(ev, "checkpoint_every", p["model"], ds, arm)
            budget = _design_values(ev, KEY_FLOPS_TOTAL, p["model"], ds, arm)
            if not (fps and every and budget):
                raise Insufficient(f"the {arm} runs on {ds} carry no FLOPs per step, checkpoints or budget")
            design[ds, arm] = (ss, fps, every, budget)

    # One frame with every design value and each run's two possible first steps at target (at once, or
    # late: 90 % of its budget); a draw only picks, per pair, which arm is late.
    b = RunsBuilder(ev)
    for ds in datasets:
        for arm in arms:
            ss, fps, every, budget = design[ds, arm]
            for m, v in (("flops_per_step", fps), ("checkpoint_every", every), (KEY_FLOPS_TOTAL, budget)):
                b.set(p["model"], ds, arm, m, v)
            b.set(p["model"], ds, arm, "target_step", dict.fromkeys(ss, 0.0))
            b.set(p["model"], ds, arm, "reached_target", dict.fromkeys(ss, 1.0))
    frame = b.evidence().runs
    at_target = (frame["metric"] == "target_step").to_numpy()
    keys = list(zip(frame["dataset"], frame["variant"], frame["seed"].astype(int)))
    rows = {k: i for i, (k, t) in enumerate(zip(keys, at_target)) if t}          # (ds, arm, seed) -> row
    pairs = [(ds, s) for ds in datasets for s in design[ds, arms[0]][0]]
    early = np.zeros(len(frame))
    late = np.zeros(len(frame))
    for ds, s in pairs:
        for arm in arms:
            _, fps, every, budget = design[ds, arm]
            early[rows[ds, arm, s]] = every[s]
            late[rows[ds, arm, s]] = math.floor(0.9 * budget[s] / fps[s] / every[s]) * every[s]
    treat_rows = np.array([rows[ds, arms[1], s] for ds, s in pairs], dtype=int)
    base_rows = np.array([rows[ds, arms[0], s] for ds, s in pairs], dtype=int)

    def sampler(x: float):
        share = expit(x)

        def sample(rng: np.random.Generator) -> str:
            tie = rng.random(len(pairs)) < undetermined
            costlier = rng.random(len(pairs)) < share
            values = frame["value"].to_numpy(float).copy()
            values[at_target] = early[at_target]
            # the slower arm of a known pair first reaches the target late, the other at once; a tie: both at once
            values[treat_rows[~tie & costlier]] = late[treat_rows[~tie & costlier]]
            values[base_rows[~tie & ~costlier]] = late[base_rows[~tie & ~costlier]]
            return verdict_of(cost.compute_to_target, Evidence(frame.assign(value=values), ev.sweep, ev.market,
                                                                ev.profile, ev.published), p)
        return sample

    est = logit(shrunk_share(int(det["costlier"]), int(det["determined"])))
    text = lambda x: (f"{det['pairs']} pairs, {undetermined:.0%} of undetermined order; the {p['treatment']} run "   # noqa: E731
                      f"needs more steps in a known pair with probability {expit(x):.2f}")
    return Alternatives(measured_and_mirrored(est, mirrored(est, 0.0), text, sampler),
                        "pairs independent: undetermined at the observed rate, else one true share costlier", sims=100)
