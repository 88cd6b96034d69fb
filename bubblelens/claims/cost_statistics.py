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

import numpy as np
from scipy import stats as sps
from scipy.optimize import curve_fit

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


def _saturating(x: np.ndarray, floor: float, amplitude: float, k: float) -> np.ndarray:
    return floor + amplitude * np.exp(-k * x)


def fit_saturating(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares fit of y = floor + A exp(-k x) with scipy.optimize.curve_fit, from two starts (gains
    that shrink: A > 0, k > 0; gains that grow: A < 0, k < 0), keeping the better; raises RuntimeError
    when neither converges."""
    span = float(np.ptp(y)) or 1.0
    best, best_sse = None, np.inf
    for p0 in ((float(y.min()) - 0.1 * span, span, 0.5), (float(y.max()) + 0.1 * span, -0.1 * span, -0.5)):
        try:
            params, _ = curve_fit(_saturating, x, y, p0=p0, maxfev=20000,
                                  bounds=([-np.inf, -np.inf, -K_BOUND], [np.inf, np.inf, K_BOUND]))
        except RuntimeError:
            continue
        sse = float(np.sum((_saturating(x, *params) - y) ** 2))
        if sse < best_sse:
            best, best_sse = params, sse
    if best is None:
        raise RuntimeError("no start converged")
    floor, amplitude, k = best
    return float(floor), float(amplitude), float(k)


K_BOUND = 4.0      # |k| per doubling: beyond e^-4 per doubling a curve is a step, and the fit is unidentified


@register("compute_returns",
          {"model": (str, REQUIRED), "metric": (str, "fid"), "level": (float, 0.95), "min_levels": (int, 4),
           "min_series": (int, 3), "max_ratio": (float, 0.5), "lower_is_better": (bool, True)},
          metric_params=("metric",))
def compute_returns(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Do gains per doubling of training compute shrink? A saturating law per series, intervals over series.

    A series is one (seed, width) of the compute sweep (snapshots of a reference run, or the full
    profile's runs of several lengths), with x = log2(FLOPs / the series' smallest). Fit quality =
    floor + A exp(-k x) (the floor is fitted, not assumed). The gain per doubling at x is
    A e^(-k x) (1 - e^(-k)), so the last doubling of the range gains r = e^(-k (x_max - 1)) times what
    the first did: r < 1 is diminishing, r >= 1 is not. Each series gives log r; a t interval over
    series, mapped back to r, decides: supported when it lies below max_ratio, not supported when it
    lies above 1, inconclusive otherwise."""
    sw = ev.sweep
    if sw is None or sw.empty or not (sw["model"] == p["model"]).any():
        raise Insufficient(f"profile '{ev.profile}' has no compute sweep for {p['model']}")
    d = sw[sw["model"] == p["model"]].dropna(subset=["flops_total", p["metric"]])
    d = d[d["flops_total"] > 0]
    sign = 1.0 if p["lower_is_better"] else -1.0
    logs, series = [], []
    for (seed, width), g in d.groupby(["seed", "width"]):
        g = g.sort_values("flops_total")
        x = np.log2(g["flops_total"].to_numpy(float) / g["flops_total"].min())
        row: dict[str, Any] = {"seed": int(seed), "width": float(width), "levels": int(len(g)),
                               "span": float(2 ** x.max())}
        if len(g) < p["min_levels"] or x.max() <= 1:
            row["skipped"] = f"{len(g)} levels spanning {2 ** x.max():.3g}x"
        else:
            try:
                floor, amplitude, k = fit_saturating(x, sign * g[p["metric"]].to_numpy(float))
            except (RuntimeError, ValueError) as exc:
                row["skipped"] = f"fit did not converge ({exc})"
            else:
                first_gain = amplitude * (1 - np.exp(-k))
            if "skipped" not in row and not first_gain > 0:
                row.update(floor=sign * floor, amplitude=amplitude, k=k,
                           skipped="the first doubling bought no improvement: no returns to diminish")
            elif "skipped" not in row:
                log_r = -k * (x.max() - 1)
                row.update(floor=sign * floor, amplitude=amplitude, k=k, ratio=float(np.exp(log_r)))
                logs.append(log_r)
        series.append(row)
    details: dict[str, Any] = {"series": series, "max_ratio": p["max_ratio"]}
    if len(logs) < p["min_series"]:
        raise Insufficient(f"too few sweep series with a fitted law (n={len(logs)} < {p['min_series']}; each needs "
                           f"{p['min_levels']} compute levels spanning more than 2x)", details)
    ci = stats.mean_ci(np.asarray(logs), p["level"])
    if not ci["sd"]:
        raise Insufficient("every series gave the same fitted ratio: no spread for an interval", details)
    r, lo, hi = (float(np.exp(v)) for v in (ci["mean"], ci["lo"], ci["hi"]))
    verdict = SUPPORTED if hi < p["max_ratio"] else NOT_SUPPORTED if lo > 1.0 else INCONCLUSIVE
    pval = float(sps.ttest_1samp(logs, 0.0, alternative="less").pvalue)
    return Outcome(verdict, f"the last doubling gained {r:.3g} [{lo:.3g}, {hi:.3g}] times what the first did "
                   f"({len(logs)} series); diminishing below {p['max_ratio']:g}, not below 1",
                   r, "gain of the last doubling of compute / gain of the first", (lo, hi), p["level"],
                   pval, len(logs), details)
