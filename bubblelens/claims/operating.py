"""Operating characteristics: how likely each verdict of a claim is under plausible alternatives.

Reachability (claims/reachability.py) shows that every verdict is *possible* at the sizes in hand; it
pushes values far to each side. That does not show that the data could plausibly have gone the other
way: a rule can reach "not supported" only for data no real build would produce. This module measures
it. For each claim, a data-generating model is fitted to the evidence in hand (the observed spread,
drift and autocorrelation: the kind's `alternatives`, registered with its statistic), with the claim's
effect as its one free parameter, and the claim's own statistic is applied to data simulated at the sizes
in hand. Two scenarios:

- **as measured**: the true effect is the estimate;
- **mirrored**: the true effect lies as far on the other side of the rule's threshold (or band) as the
  estimate lies on its side, on the kind's natural scale (logit for shares, log for ratios and CVs).
  Tests of "no effect against an effect" (explosive roots) use their null and a stated, data-fitted
  alternative instead; each scenario says in words what it assumes.

Read the two apart. The chance of the same verdict *as measured* is its replicability: how often
another build of the same sizes would say the same if the truth were what this one estimated. The chance
of another verdict *mirrored* is the rule's power against the other side: how often it would have noticed
had the truth lain across the threshold. The first scenario of every claim is the one the data point to
(the estimate, or the null when the test could not reject it), the second the other side.

A claim is **settled** at these sizes when, in every scenario, the verdict it got comes out at least
95 % of the time (`SETTLED_BELOW`): then even a truth on the other side would almost never have changed
it, so the verdict reports the design, not the data. The report marks such claims; the answers do not
count them (claims/questions.py).

The simulator is validated on the one kind whose verdict probabilities have a closed form (the
Clopper-Pearson share of failing runs: tests/unit/claims/test_operating.py).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bubblelens.claims.kinds import INCONCLUSIVE, VERDICTS, Evidence, Insufficient, Kind, jsonable

SETTLED_BELOW = 0.05         # the other verdicts together, in every scenario: below this, settled
DEFAULT_SIMS = 200           # per scenario: Monte Carlo standard error <= 0.035, 0.015 near 0.95 (kinds may ask fewer)


@dataclass(frozen=True)
class Scenario:
    """One alternative: its name, what it assumes in words, and a sampler that simulates the data the
    claim would see at the sizes in hand and returns the verdict the claim's rule gives them."""

    name: str
    text: str
    sample: Callable[[np.random.Generator], str] | None = None
    # Or all simulations at once (a vectorised test): (rng, n) -> n verdicts.
    batch: Callable[[np.random.Generator, int], list[str]] | None = None


@dataclass(frozen=True)
class Alternatives:
    scenarios: tuple[Scenario, ...]
    model: str                      # the fitted data-generating model, in words
    sims: int = DEFAULT_SIMS


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    text: str
    probabilities: dict[str, float]   # verdict -> share of simulations
    sims: int


@dataclass(frozen=True)
class OperatingCharacteristics:
    observed: str                         # the verdict the claim got
    model: str
    scenarios: tuple[ScenarioResult, ...]
    unavailable: str = ""                 # why no simulation was possible (then scenarios is empty)

    def same(self, scenario: ScenarioResult) -> float:
        """The probability of the observed verdict in `scenario`."""
        return scenario.probabilities.get(self.observed, 0.0)

    def other(self, scenario: ScenarioResult) -> float:
        """The probability of any verdict other than the observed one in `scenario`."""
        return 1.0 - self.same(scenario)

    @property
    def same_per_scenario(self) -> tuple[float, ...]:
        """P(the observed verdict) in each scenario: the first its replicability, the others its chance
        of surviving a truth on the other side (one minus the rule's power there)."""
        return tuple(self.same(s) for s in self.scenarios)

    @property
    def max_other(self) -> float | None:
        """The largest chance, over the scenarios, that the verdict would have come out otherwise."""
        return max((self.other(s) for s in self.scenarios), default=None)

    @property
    def settled(self) -> bool:
        return bool(self.scenarios) and self.max_other < SETTLED_BELOW

    def to_json(self) -> dict:
        return jsonable({"observed": self.observed, "model": self.model, "unavailable": self.unavailable,
                         "settled": self.settled, "max_other": self.max_other, "settled_below": SETTLED_BELOW,
                         "mc_se_max": mc_standard_error(min((s.sims for s in self.scenarios), default=0)),
                         "scenarios": [{"name": s.name, "text": s.text, "probabilities": s.probabilities,
                                        "sims": s.sims, "same": self.same(s), "other": self.other(s)}
                                       for s in self.scenarios]})

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "OperatingCharacteristics":
        return cls(d["observed"], d.get("model", ""),
                   tuple(ScenarioResult(s["name"], s["text"], dict(s["probabilities"]), s["sims"])
                         for s in d.get("scenarios", [])), d.get("unavailable", ""))


def mc_standard_error(sims: int) -> float | None:
    """The largest Monte Carlo standard error of a simulated probability at `sims` draws (at p = 1/2)."""
    return math.sqrt(0.25 / sims) if sims else None


def operating_characteristics(claim_id: str, kind: Kind, params: Mapping[str, Any], evidence: Evidence,
                              observed: str, sims: int | None = None) -> OperatingCharacteristics:
    """The probability of each verdict of a claim under its kind's fitted alternatives (`kind.alternatives`:
    (evidence in hand, the claim's params) -> the scenarios), at the sizes in hand. Deterministic: the
    random stream is seeded from the claim's id and scenario."""
    fit = kind.alternatives
    if fit is None:
        return OperatingCharacteristics(observed, "", (), f"no alternatives are defined for '{kind.name}'")
    try:
        alt = fit(evidence, params)
    except Insufficient as exc:
        return OperatingCharacteristics(observed, "", (), f"the evidence cannot be fitted: {exc}")
    out = []
    for sc in alt.scenarios:
        seed = int.from_bytes(hashlib.sha256(f"{claim_id}/{sc.name}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        n = sims or alt.sims
        counts = dict.fromkeys(VERDICTS, 0)
        for v in (sc.batch(rng, n) if sc.batch is not None else (sc.sample(rng) for _ in range(n))):
            counts[v] += 1
        out.append(ScenarioResult(sc.name, sc.text, {v: c / n for v, c in counts.items()}, n))
    return OperatingCharacteristics(observed, alt.model, tuple(out))


def verdict_of(fn: Callable, ev: Evidence, params: Mapping[str, Any]) -> str:
    """The verdict a statistic gives simulated evidence; too little evidence is "inconclusive", as in a build."""
    try:
        return fn(ev, params).verdict
    except Insufficient:
        return INCONCLUSIVE


# ------------------------------------------------------------------------------ scales and mirrors
def logit(p: float) -> float:
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mirrored(estimate: float, lo: float, hi: float | None = None) -> float:
    """The estimate reflected across a threshold (lo) or a band (lo, hi): as far beyond the other edge
    as it lies beyond its own, on whatever scale the numbers are given."""
    return lo + (lo if hi is None else hi) - estimate


def shrunk_share(k: int, n: int) -> float:
    """k/n pulled half a run towards one half, so that 0 of n and n of n stay on the logit scale."""
    return (k + 0.5) / (n + 1.0)


def measured_and_mirrored(estimate: float, mirror: float, describe: Callable[[float], str],
                          sampler: Callable[[float], Callable[[np.random.Generator], str]]) -> tuple[Scenario, ...]:
    """The two standard scenarios of an effect with a threshold: the estimate, and its mirror image."""
    return (Scenario("as measured", describe(estimate), sampler(estimate)),
            Scenario("mirrored", describe(mirror), sampler(mirror)))
