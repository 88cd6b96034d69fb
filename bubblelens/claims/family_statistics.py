"""Comparing two model families on one failure: does the treatment (flow matching) fail in fewer runs than
the baseline (the unmitigated GAN), on the same data?

Each arm is a list of checks, as `share_of_runs_failing` takes them (claims/model_statistics.py): a run
fails when its metric falls short of `max` (fewer modes than the mixture has), and with a convergence
floor only runs at or above it count. Only datasets on which both arms have runs are compared ("the same
mixtures": a profile that trains one family on a mixture the other does not is not compared there). Runs
of several datasets are pooled per arm, which is sound only where both families' counted runs spread over
them alike; the registry's claim names one mixture.
The effect is the difference of the two shares, baseline minus treatment (how many fewer runs fail with
the treatment), with Newcombe's hybrid score interval (statsmodels `confint_proportions_2indep`, method
"newcomb"), which keeps its coverage at 0 of n, where the Wald interval collapses.

Registered whole with one `register_kind` call: parameters, statistic, reachability probe (every
combination of none, half and all failing in each arm) and alternatives (claims/operating.py: the two arms
fail independently, the baseline at its observed share, the treatment at the share the estimate implies
and at its mirror image across the middle of the undecided band).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import numpy as np
from statsmodels.stats.proportion import confint_proportions_2indep

from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Evidence, Insufficient, Names, Outcome
from bubblelens.claims.kinds import Params, Table, register_kind
from bubblelens.claims.model_statistics import learned_seeds, run_values
from bubblelens.claims.operating import Alternatives, measured_and_mirrored, shrunk_share, verdict_of
from bubblelens.claims.reachability import RunsBuilder, seeds, variant_of
from bubblelens.evaluation.names import KEY_HIGH_QUALITY

ARMS = ("baseline", "treatment")


class ShareDifference(Params):
    baseline: Annotated[list, Table("model", "dataset", "metric", "max"), Names("metrics", keys=("metric",))]
    treatment: Annotated[list, Table("model", "dataset", "metric", "max"), Names("metrics", keys=("metric",))]
    margin: float
    level: float = 0.95
    min_n: int = 5                # counted runs per arm
    min_high_quality: float = 0.0


def _shared(ev: Evidence, p: Mapping[str, Any]) -> list[str]:
    """Datasets on which both arms have runs in the evidence."""
    have = {arm: {c["dataset"] for c in p[arm] if seeds(ev, c["model"], c["dataset"], c.get("variant", ""))}
            for arm in ARMS}
    return sorted(have["baseline"] & have["treatment"])


def _arm_counts(ev: Evidence, checks: list, datasets: list[str], floor: float) -> tuple[int, int, int, list[dict]]:
    """(failing, counted, left out below the floor, per check) of one arm's checks on `datasets`."""
    k = n = out = 0
    rows = []
    for c in (c for c in checks if c["dataset"] in datasets):
        vals = run_values(ev, c["metric"], c["model"], c["dataset"], c.get("variant", ""))
        kept = learned_seeds(ev, c, floor)
        left = 0 if kept is None else int((~vals.index.isin(list(kept))).sum())
        if kept is not None:
            vals = vals[vals.index.isin(list(kept))]
        fails = int((vals < float(c["max"])).sum())
        k, n, out = k + fails, n + int(vals.size), out + left
        rows.append({**c, "k": fails, "n": int(vals.size), "not_converged": left})
    return k, n, out, rows


def share_difference(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Baseline's share of failing runs minus the treatment's, Newcombe interval. Supported (the treatment
    does not fix the failure) when the interval lies below `margin`; not supported (it fails in fewer
    runs) when it lies above 0; inconclusive otherwise."""
    datasets = _shared(ev, p)
    if not datasets:
        raise Insufficient("the two families share no dataset with runs in this build")
    counts = {arm: _arm_counts(ev, p[arm], datasets, p["min_high_quality"]) for arm in ARMS}
    (kb, nb, ob, rb), (kt, nt, ot, rt) = counts["baseline"], counts["treatment"]
    details: dict[str, Any] = {"datasets": datasets,
                               "baseline": {"k": kb, "n": nb, "not_converged": ob, "per_check": rb},
                               "treatment": {"k": kt, "n": nt, "not_converged": ot, "per_check": rt}}
    if min(nb, nt) < p["min_n"]:
        raise Insufficient(f"too few counted runs (baseline {nb}, treatment {nt}; at least {p['min_n']} each)", details)
    lo, hi = (float(x) for x in confint_proportions_2indep(kb, nb, kt, nt, method="newcomb", compare="diff",
                                                           alpha=1 - p["level"]))
    diff = kb / nb - kt / nt
    verdict = NOT_SUPPORTED if lo > 0 else SUPPORTED if hi < p["margin"] else INCONCLUSIVE
    names = ", ".join(datasets)
    return Outcome(verdict, f"on {names}: baseline {kb} of {nb} counted runs failed, treatment {kt} of {nt} "
                   f"({ob} and {ot} below the convergence floor left out); difference {diff:+.2f}, CI "
                   f"[{lo:+.2f}, {hi:+.2f}] against 0 and the margin {p['margin']:.2f}",
                   diff, "baseline's share of failing runs minus the treatment's", (lo, hi), p["level"], None,
                   nb + nt, details)


def _set_arm(b: RunsBuilder, ev: Evidence, checks: list, datasets: list[str], k: int, floor: float) -> int:
    """Every run of an arm's checks on `datasets`, the runs that count in the evidence at hand (at or above
    the floor) counting again; the first `k` of them fail. Returns how many runs count."""
    counted_total = 0
    for c in (c for c in checks if c["dataset"] in datasets):
        variant = c.get("variant") or variant_of(ev, c["model"], c["dataset"])
        ss = seeds(ev, c["model"], c["dataset"], c.get("variant", ""))
        kept = learned_seeds(ev, c, floor)
        counted = [s for s in ss if kept is None or s in kept]
        fail = set(counted[:max(0, min(k - counted_total, len(counted)))])
        counted_total += len(counted)
        b.set(c["model"], c["dataset"], variant, c["metric"], {s: float(c["max"]) - (s in fail) for s in ss})
        if floor > 0:
            b.set(c["model"], c["dataset"], variant, KEY_HIGH_QUALITY, {s: float(s in counted) for s in ss})
    return counted_total


def _counted(ev: Evidence, p: Mapping[str, Any], arm: str, datasets: list[str]) -> int:
    return _set_arm(RunsBuilder(ev), ev, p[arm], datasets, 0, p["min_high_quality"])


def _share_difference_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """None, half or all of the counted runs failing in each arm, every combination."""
    datasets = _shared(ev, p)
    n = {arm: _counted(ev, p, arm, datasets) for arm in ARMS}
    for fb in (0.0, 0.5, 1.0):
        for ft in (0.0, 0.5, 1.0):
            b = RunsBuilder(ev)
            _set_arm(b, ev, p["baseline"], datasets, round(fb * n["baseline"]), p["min_high_quality"])
            _set_arm(b, ev, p["treatment"], datasets, round(ft * n["treatment"]), p["min_high_quality"])
            yield b.evidence()


def _share_difference_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Counted runs fail independently. As measured: each arm at its observed share (shrunk half a run
    towards one half). Mirrored: the difference mirrored across the middle of the undecided band [0, margin],
    with the baseline raised where its share is below that difference (a treatment share cannot be
    negative); the text states the shares simulated. The runs that count are those in hand."""
    out = share_difference(ev, p)
    det = out.details
    nb, nt = det["baseline"]["n"], det["treatment"]["n"]
    pb = shrunk_share(det["baseline"]["k"], nb)
    estimate = pb - shrunk_share(det["treatment"]["k"], nt)
    mirror = p["margin"] - estimate                                  # across the band's middle, margin / 2

    def shares(d: float) -> tuple[float, float]:
        """(baseline, treatment) failing shares whose difference is d, the baseline as observed if it can be."""
        base = max(pb, d) if d >= 0 else min(pb, 1.0 + d)
        return base, base - d

    def sampler(d: float):
        sb, st = shares(d)

        def sample(rng: np.random.Generator) -> str:
            b = RunsBuilder(ev)
            _set_arm(b, ev, p["baseline"], det["datasets"], int(rng.binomial(nb, sb)), p["min_high_quality"])
            _set_arm(b, ev, p["treatment"], det["datasets"], int(rng.binomial(nt, st)), p["min_high_quality"])
            return verdict_of(share_difference, b.evidence(), p)
        return sample

    text = lambda d: (f"baseline runs fail with probability {shares(d)[0]:.2f} ({nb} counted), "   # noqa: E731
                      f"treatment runs with {shares(d)[1]:.2f} ({nt} counted): a difference of {d:+.2f}")
    return Alternatives(measured_and_mirrored(estimate, mirror, text, sampler),
                        f"two independent binomial arms (n = {nb} and {nt})")


register_kind("share_difference", ShareDifference, share_difference,
              probe=_share_difference_probe, alternatives=_share_difference_alternatives)
