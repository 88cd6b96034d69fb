"""What a fix costs: training compute to a target, treatment against baseline, paired by dataset and seed.

A FLOPs ratio of two fixed-length trainings is set by the configuration (the same for every seed), so it
is a design fact, never an interval. What the data can decide is how much compute each run *needed*
to first capture every mode at the declared high-quality share (evaluation/units.py: target_metrics).
Two things make that a censored, interval-valued quantity, and the rule treats both symmetrically:

- checkpoints: a run first seen at target at step s (checkpoints every e steps) crossed it somewhere in
  ((s - e) x f, s x f] FLOPs, f its FLOPs per step;
- budgets: the arms train the same number of steps at different costs per step, so each pair is
  compared within the smaller of its two FLOPs budgets, C: a checkpoint beyond C is ignored, and a run
  not at target by its last checkpoint within C needed more than that checkpoint's FLOPs (to infinity).

The treatment was costlier in a pair when its interval lies wholly above the baseline's, cheaper when
wholly below; overlapping intervals are undetermined (counted, never guessed). The share of determined
pairs in which the treatment was costlier gets a Clopper-Pearson interval, compared with one half (a
sign test): "costs more", "costs no more" and "cannot tell" are all reachable with enough pairs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scipy import stats as sps

from bubblelens.analysis import stats
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, REQUIRED, SUPPORTED, Insufficient, Outcome
from bubblelens.claims.kinds import StatisticKind, registrar
from bubblelens.claims.model_statistics import run_values

if TYPE_CHECKING:
    from bubblelens.claims.kinds import Evidence

KINDS: dict[str, StatisticKind] = {}
register = registrar(KINDS)
COSTLIER, CHEAPER, UNDETERMINED = "costlier", "cheaper", "undetermined"


def needed(target_step: float, reached: bool, every: float, steps_done: float, flops_per_step: float,
           common_budget: float) -> tuple[float, float]:
    """(L, U]: the FLOPs a run needed to reach the target, looked at only up to `common_budget`."""
    last = math.floor(min(common_budget / flops_per_step, steps_done) / every) * every   # last checkpoint looked at
    if reached and target_step <= last:
        return (target_step - every) * flops_per_step, target_step * flops_per_step
    return min(target_step, last) * flops_per_step, math.inf


def pair_direction(base: tuple[float, float], treat: tuple[float, float]) -> str:
    """Whether the treatment needed more compute than the baseline, from their (L, U] intervals."""
    if treat[0] >= base[1]:
        return COSTLIER
    if treat[1] <= base[0]:
        return CHEAPER
    return UNDETERMINED


@register("compute_to_target",
          {"model": (str, REQUIRED), "datasets": (list, REQUIRED), "baseline": (str, "vanilla"),
           "treatment": (str, REQUIRED), "level": (float, 0.95), "min_n": (int, 6)},
          metric_params=())
def compute_to_target(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Sign test on paired compute-to-target: is the treatment costlier in more than half the pairs?"""
    pairs, per = [], {}
    metrics = ("target_step", "reached_target", "checkpoint_every", "flops_per_step", "flops_total")
    for ds in p["datasets"]:
        v = {arm: {m: run_values(ev, m, p["model"], ds, arm) for m in metrics}
             for arm in (p["baseline"], p["treatment"])}
        arm_seeds = {arm: set.intersection(*(set(s.index) for s in v[arm].values())) for arm in v}
        seeds = sorted(arm_seeds[p["baseline"]] & arm_seeds[p["treatment"]])
        counts = dict.fromkeys((COSTLIER, CHEAPER, UNDETERMINED), 0)
        for s in seeds:
            b, t = v[p["baseline"]], v[p["treatment"]]
            common = min(b["flops_total"][s], t["flops_total"][s])
            iv = {arm: needed(x["target_step"][s], x["reached_target"][s] >= 1, x["checkpoint_every"][s],
                              x["flops_total"][s] / x["flops_per_step"][s], x["flops_per_step"][s], common)
                  for arm, x in ((p["baseline"], b), (p["treatment"], t))}
            d = pair_direction(iv[p["baseline"]], iv[p["treatment"]])
            counts[d] += 1
            pairs.append(d)
        per[ds] = {"pairs": len(seeds), **counts,
                   "unpaired_seeds": sorted(int(s) for s in (arm_seeds[p["baseline"]] ^ arm_seeds[p["treatment"]])),
                   "reached": {arm: int(sum(v[arm]["reached_target"][s] >= 1 for s in seeds)) for arm in v}}
    k, m = pairs.count(COSTLIER), pairs.count(COSTLIER) + pairs.count(CHEAPER)
    details: dict[str, Any] = {"per_dataset": per, "pairs": len(pairs), "determined": m, "costlier": k,
                               "undetermined": pairs.count(UNDETERMINED)}
    if m < max(p["min_n"], 1):
        raise Insufficient(f"too few pairs whose cost order is known (n={m} < {p['min_n']}; "
                           f"{details['undetermined']} of {len(pairs)} undetermined: the two runs' compute to "
                           "target overlaps, or neither reached it within the pair's common budget)", details)
    cp = stats.clopper_pearson(k, m, p["level"])
    verdict = SUPPORTED if cp["lo"] > 0.5 else NOT_SUPPORTED if cp["hi"] < 0.5 else INCONCLUSIVE
    pval = float(sps.binomtest(k, m, 0.5, alternative="two-sided").pvalue)
    return Outcome(verdict, f"{p['treatment']} needed more compute to reach the target in {k} of {m} pairs "
                   f"whose order is known; CI [{cp['lo']:.2f}, {cp['hi']:.2f}] vs one half",
                   k / m, f"share of pairs in which {p['treatment']} needed more training FLOPs",
                   (cp["lo"], cp["hi"]), p["level"], pval, m, details)
