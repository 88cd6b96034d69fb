"""What a fix costs: training needed to reach a target, treatment against baseline, paired by dataset and seed.

The verdict is about training *steps*: does the treatment (PacGAN) need more of them than the baseline
(the vanilla GAN) to first capture every mode at the declared high-quality share (evaluation/units.py:
target_metrics)? Steps, not FLOPs, because what a step costs is set by the configuration: a PacGAN step
costs a fixed multiple of a vanilla step's FLOPs (its discriminator sees packed samples), the same for
every seed. Compared in FLOPs, two runs first at target at the same checkpoint would be ordered by that
multiple alone, so a design fact, not the data, would decide the pair. The multiple is therefore stated
beside the verdict (details["flops_per_step_ratio"], and the reason text), never tested.

What each run needed is a censored, interval-valued number of steps, and the rule treats both arms alike:

- checkpoints: a run first seen at target at step s (checkpoints every e steps) needed steps in (s - e, s];
- budgets: each pair is compared within the smaller of its two arms' step counts (steps done = training
  FLOPs / FLOPs per step): a checkpoint beyond it is ignored, and a run not at target by its last
  checkpoint within it needed more than that checkpoint's step (to infinity).

The treatment needed more in a pair when its interval lies wholly above the baseline's, fewer when wholly
below; overlapping intervals — among them both runs first at target at the same checkpoint, or neither
at target within the budget — are undetermined (counted, never guessed). The share of determined pairs
in which the treatment needed more gets a Clopper-Pearson interval, compared with one half (a sign test):
"needs more", "needs no more" and "cannot tell" are all reachable with enough pairs.

The kind is registered whole with one `register_kind` call: its parameters, statistic, reachability probe
(the treatment at target late while the baseline is there early, the reverse, alternating, never) and
alternatives (claims/operating.py: each pair undetermined at the observed rate, else the treatment
costlier with one true share; FLOPs per step, checkpoints and budgets keep their real values). The
compute sweep's kind, `compute_returns`, is in sweep_statistics.py.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from bubblelens.analysis import stats
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Evidence, Insufficient, Outcome
from bubblelens.claims.kinds import Params, register_kind
from bubblelens.claims.model_statistics import run_values
from bubblelens.claims.operating import Alternatives, expit, logit, measured_and_mirrored, mirrored, shrunk_share
from bubblelens.claims.operating import verdict_of
from bubblelens.claims.reachability import RunsBuilder, design_values, seeds
from bubblelens.evaluation.names import KEY_CHECKPOINT_EVERY, KEY_FLOPS_PER_STEP, KEY_FLOPS_TOTAL, KEY_REACHED_TARGET
from bubblelens.evaluation.names import KEY_TARGET_STEP

COSTLIER, CHEAPER, UNDETERMINED = "costlier", "cheaper", "undetermined"


def needed(target_step: float, reached: bool, every: float, budget_steps: float) -> tuple[float, float]:
    """(L, U]: the training steps a run needed to reach the target, looked at only up to `budget_steps`
    (the pair's common step budget): (s - e, s] when first seen at target at checkpoint s <= the last
    checkpoint within the budget, else (that last checkpoint, infinity)."""
    last = math.floor(budget_steps / every + 1e-9) * every     # last checkpoint looked at (float-safe)
    if reached and target_step <= last:
        return target_step - every, target_step
    return min(target_step, last), math.inf


def pair_direction(base: tuple[float, float], treat: tuple[float, float]) -> str:
    """Whether the treatment needed more than the baseline, from their (L, U] intervals (steps)."""
    if treat[0] >= base[1]:
        return COSTLIER
    if treat[1] <= base[0]:
        return CHEAPER
    return UNDETERMINED


def _ratio_text(ratios: list[float]) -> str:
    lo, hi = min(ratios), max(ratios)
    return f"x{lo:.3g}" if math.isclose(lo, hi, rel_tol=1e-9) else f"x{lo:.3g}-{hi:.3g}"


class ComputeToTarget(Params):
    model: str
    datasets: list
    baseline: str = "vanilla"
    treatment: str
    # Another family as the treatment (e.g. flow matching against the GAN): its model; "" = `model`.
    treatment_model: str = ""
    # "steps" or "flops": what the pairs are compared in. Steps when both arms share a step (one family, one
    # batch); FLOPs across families, whose steps differ in size and network.
    unit: Literal["steps", "flops"] = "steps"
    level: float = 0.95
    min_n: int = 6


def arm_model(p: Mapping[str, Any], arm: str) -> str:
    """The model of an arm (a variant name): the treatment's own model when the claim names one."""
    return p["treatment_model"] if arm == p["treatment"] and p["treatment_model"] else p["model"]


def _arm_name(p: Mapping[str, Any], arm: str) -> str:
    """How the reader sees an arm: its variant, with its model when that differs from the claim's."""
    model = arm_model(p, arm)
    return arm if model == p["model"] else f"{model} ({arm})"


def _unit_word(p: Mapping[str, Any]) -> str:
    return "training FLOPs" if p["unit"] == "flops" else "training steps"


def compute_to_target(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Sign test on paired compute to target: does the treatment need more training steps (or FLOPs, with
    `unit = "flops"`) in more than half the pairs? In steps, the FLOPs-per-step ratio (treatment / baseline)
    is reported, not tested. In FLOPs, each run's interval of steps is scaled by its own FLOPs per step and
    the pair's common budget is the smaller of the two runs' training FLOPs."""
    pairs, per, all_ratios = [], {}, []
    metrics = (KEY_TARGET_STEP, KEY_REACHED_TARGET, KEY_CHECKPOINT_EVERY, KEY_FLOPS_PER_STEP, KEY_FLOPS_TOTAL)
    base_arm, treat_arm = p["baseline"], p["treatment"]
    base_name, treat_name = _arm_name(p, base_arm), _arm_name(p, treat_arm)
    for ds in p["datasets"]:
        v = {arm: {m: run_values(ev, m, arm_model(p, arm), ds, arm) for m in metrics} for arm in (base_arm, treat_arm)}
        arm_seeds = {arm: set.intersection(*(set(s.index) for s in v[arm].values())) for arm in v}
        paired = sorted(arm_seeds[base_arm] & arm_seeds[treat_arm])
        counts = dict.fromkeys((COSTLIER, CHEAPER, UNDETERMINED), 0)
        ratios = []
        for s in paired:
            # One unit of compute per arm: a step, or the arm's FLOPs per step.
            scale = {arm: v[arm][KEY_FLOPS_PER_STEP][s] if p["unit"] == "flops" else 1.0 for arm in v}
            done = {arm: v[arm][KEY_FLOPS_TOTAL][s] / v[arm][KEY_FLOPS_PER_STEP][s] * scale[arm] for arm in v}
            common = min(done.values())                      # the pair's common budget, in the unit
            iv = {arm: tuple(b * scale[arm] for b in needed(
                      x[KEY_TARGET_STEP][s], x[KEY_REACHED_TARGET][s] >= 1, x[KEY_CHECKPOINT_EVERY][s],
                      common / scale[arm])) for arm, x in v.items()}
            d = pair_direction(iv[base_arm], iv[treat_arm])
            counts[d] += 1
            pairs.append(d)
            ratios.append(float(v[treat_arm][KEY_FLOPS_PER_STEP][s] / v[base_arm][KEY_FLOPS_PER_STEP][s]))
        all_ratios += ratios
        per[ds] = {"pairs": len(paired), **counts,
                   "unpaired_seeds": sorted(int(s) for s in (arm_seeds[base_arm] ^ arm_seeds[treat_arm])),
                   "reached": {arm: int(sum(v[arm][KEY_REACHED_TARGET][s] >= 1 for s in paired)) for arm in v},
                   "flops_per_step_ratio": float(np.median(ratios)) if ratios else None}
        if ratios and not math.isclose(min(ratios), max(ratios), rel_tol=1e-9):
            per[ds]["flops_per_step_ratio_range"] = [min(ratios), max(ratios)]
    k, m = pairs.count(COSTLIER), pairs.count(COSTLIER) + pairs.count(CHEAPER)
    details: dict[str, Any] = {"per_dataset": per, "pairs": len(pairs), "determined": m, "costlier": k,
                               "undetermined": pairs.count(UNDETERMINED), "unit": _unit_word(p),
                               "flops_per_step_ratio": float(np.median(all_ratios)) if all_ratios else None}
    how = "(a design fact, not part of the test)" if p["unit"] == "steps" else \
        "(counted; in FLOPs each run's steps are weighted by its own cost per step)"
    design = (f"each {treat_name} step costs {_ratio_text(all_ratios)} the FLOPs of a {base_name} step {how}"
              if all_ratios else "")
    if m < max(p["min_n"], 1):
        raise Insufficient(f"too few pairs whose order in {_unit_word(p)} is known (n={m} < {p['min_n']}; "
                           f"{details['undetermined']} of {len(pairs)} undetermined: the two runs' steps to "
                           "target overlap (as when both are first at target at the same checkpoint), or neither "
                           "reached it within the pair's common budget)" + (f"; {design}" if design else ""),
                           details)
    cp = stats.clopper_pearson(k, m, p["level"])
    verdict = SUPPORTED if cp["lo"] > 0.5 else NOT_SUPPORTED if cp["hi"] < 0.5 else INCONCLUSIVE
    pval = float(sps.binomtest(k, m, 0.5, alternative="two-sided").pvalue)
    return Outcome(verdict, f"{treat_name} needed more {_unit_word(p)} to reach the target in {k} of {m} pairs "
                   f"whose order is known; CI [{cp['lo']:.2f}, {cp['hi']:.2f}] vs one half; {design}",
                   k / m, f"share of pairs in which {treat_name} needed more {_unit_word(p)} to reach the target",
                   (cp["lo"], cp["hi"]), p["level"], pval, m, details)


def _compute_to_target_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Treatment at target at the last checkpoints while the baseline is there at the first ones, the
    reverse, alternating, and nothing at target; FLOPs per step and budgets keep their real values."""
    for scenario in ("costlier", "cheaper", "mixed", "never"):
        b = RunsBuilder(ev)
        for ds in p["datasets"]:
            ss = sorted(set(seeds(ev, arm_model(p, p["baseline"]), ds, p["baseline"]))
                        & set(seeds(ev, arm_model(p, p["treatment"]), ds, p["treatment"])))
            steps = {}
            for arm in (p["baseline"], p["treatment"]):
                m = arm_model(p, arm)
                fps = design_values(ev, KEY_FLOPS_PER_STEP, m, ds, arm) or dict.fromkeys(ss, 1e6)
                every = design_values(ev, KEY_CHECKPOINT_EVERY, m, ds, arm) or dict.fromkeys(ss, 100.0)
                budget = design_values(ev, KEY_FLOPS_TOTAL, m, ds, arm) or {s: 40 * every[s] * fps[s] for s in ss}
                b.set(m, ds, arm, KEY_FLOPS_PER_STEP, fps)
                b.set(m, ds, arm, KEY_CHECKPOINT_EVERY, every)
                b.set(m, ds, arm, KEY_FLOPS_TOTAL, budget)
                steps[arm] = {s: (every[s], budget[s] / fps[s]) for s in ss}
            early = {arm: {s: e for s, (e, _) in steps[arm].items()} for arm in steps}
            late = {arm: {s: math.floor(0.9 * n / e) * e for s, (e, n) in steps[arm].items()} for arm in steps}
            base_at, treat_at = {"costlier": (early, late), "cheaper": (late, early),
                                 "mixed": (early, early), "never": (late, late)}[scenario]
            for arm, at in ((p["baseline"], base_at), (p["treatment"], treat_at)):
                at_arm = dict(at[arm])
                if scenario == "mixed" and arm == p["treatment"]:
                    at_arm = {s: (late if i % 2 else early)[arm][s] for i, s in enumerate(ss)}
                b.set(arm_model(p, arm), ds, arm, KEY_TARGET_STEP, at_arm)
                b.set(arm_model(p, arm), ds, arm, KEY_REACHED_TARGET,
                      dict.fromkeys(ss, 0.0 if scenario == "never" else 1.0))
        yield b.evidence()


def _compute_to_target_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each pair of runs (dataset, seed) is undetermined with the observed share of undetermined pairs
    (both first at target at the same checkpoint), else the treatment needs more steps with one true
    share; FLOPs per step, checkpoints and budgets keep their real values. Mirror on the logit scale
    around one half."""
    out = compute_to_target(ev, p)
    det = out.details
    undetermined = det["undetermined"] / det["pairs"] if det["pairs"] else 0.0
    arms = (p["baseline"], p["treatment"])
    design = {}
    datasets = [ds for ds in p["datasets"] if det["per_dataset"].get(ds, {}).get("pairs")]   # those in this build
    for ds in datasets:
        ss = sorted(set(seeds(ev, arm_model(p, arms[0]), ds, arms[0]))
                    & set(seeds(ev, arm_model(p, arms[1]), ds, arms[1])))
        for arm in arms:
            fps = design_values(ev, KEY_FLOPS_PER_STEP, arm_model(p, arm), ds, arm)
            every = design_values(ev, KEY_CHECKPOINT_EVERY, arm_model(p, arm), ds, arm)
            budget = design_values(ev, KEY_FLOPS_TOTAL, arm_model(p, arm), ds, arm)
            if not (fps and every and budget):
                raise Insufficient(f"the {arm} runs on {ds} carry no FLOPs per step, checkpoints or budget")
            design[ds, arm] = (ss, fps, every, budget)

    # One frame with every design value and each run's two possible first steps at target (at once, or
    # late: 90 % of its budget); a draw only picks, per pair, which arm is late.
    b = RunsBuilder(ev)
    for ds in datasets:
        for arm in arms:
            ss, fps, every, budget = design[ds, arm]
            for m, v in ((KEY_FLOPS_PER_STEP, fps), (KEY_CHECKPOINT_EVERY, every), (KEY_FLOPS_TOTAL, budget)):
                b.set(arm_model(p, arm), ds, arm, m, v)
            b.set(arm_model(p, arm), ds, arm, KEY_TARGET_STEP, dict.fromkeys(ss, 0.0))
            b.set(arm_model(p, arm), ds, arm, KEY_REACHED_TARGET, dict.fromkeys(ss, 1.0))
    frame = b.evidence().runs
    at_target = (frame["metric"] == KEY_TARGET_STEP).to_numpy()
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
            return verdict_of(compute_to_target, Evidence(frame.assign(value=values), ev.sweep, ev.market,
                                                          ev.profile, ev.published), p)
        return sample

    est = logit(shrunk_share(int(det["costlier"]), int(det["determined"])))
    treat = _arm_name(p, p["treatment"])
    text = lambda x: (f"{det['pairs']} pairs, {undetermined:.0%} of undetermined order; the {treat} run "   # noqa: E731
                      f"needs more {_unit_word(p)} in a known pair with probability {expit(x):.2f}")
    return Alternatives(measured_and_mirrored(est, mirrored(est, 0.0), text, sampler),
                        "pairs independent: undetermined at the observed rate, else one true share costlier", sims=100)


register_kind("compute_to_target", ComputeToTarget, compute_to_target,
              probe=_compute_to_target_probe, alternatives=_compute_to_target_alternatives)
