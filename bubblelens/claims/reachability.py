"""Which verdicts a claim's rule can reach at the sample sizes in hand: is its verdict evidence at all?

A verdict counts only if the data could have produced another one. For each claim, `reachable` applies
the claim's own statistic (the function the engine applies, with its declared parameters) to evidence
constructed at the sizes of the evidence at hand — the same groups, seeds, sweep points, series dates —
with values that push the rule each way, and records which verdicts come out. A verdict no scenario
reaches cannot be produced by any data of these sizes: the claim is settled by its design (or, at smoke
size, cannot be decided at all), and `bubblelens claims check` says so.

Scenarios are built by each kind's probe (`Kind.probe`, registered with its statistic in the kind's
module; the builders below make the evidence). Some are exhaustive by construction (the share of
failing runs: every count of failures 0..n), the others push each measured value far to one side, to
the other, and to the boundary. What the configuration fixes is held at its real value, never varied:
the training FLOPs of a run (`DESIGN_METRICS`) are counted from shapes and steps, so a FLOPs ratio that
is the same for every seed stays what it is in every scenario — a design fact, not a measurement.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import signal

from bubblelens.claims.kinds import INCONCLUSIVE, VERDICTS, Evidence, Insufficient, Kind
from bubblelens.evaluation.names import KEY_CHECKPOINT_EVERY, KEY_FLOPS_PER_STEP, KEY_FLOPS_TOTAL

# Fixed by the configuration (shapes and steps), identical across seeds by construction: never varied.
DESIGN_METRICS = (KEY_FLOPS_TOTAL, KEY_FLOPS_PER_STEP, KEY_CHECKPOINT_EVERY)
RUN_COLS = ["model", "dataset", "variant", "seed", "metric", "value"]


@dataclass(frozen=True)
class Reachability:
    verdicts: tuple[str, ...]          # reachable, in VERDICTS order
    scenarios: int                     # constructed evidence sets tried

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(v for v in VERDICTS if v not in self.verdicts)

    @property
    def decidable(self) -> bool:
        """Every verdict is reachable: whichever comes out, the data could have said otherwise."""
        return not self.missing

    def to_json(self) -> dict:
        return {"reachable": list(self.verdicts), "unreachable": list(self.missing), "scenarios": self.scenarios}


def reachable(kind: Kind, params: Mapping[str, Any], evidence: Evidence) -> Reachability:
    """The verdicts the claim kind's statistic with `params` can reach on evidence of `evidence`'s sizes, on
    the evidence sets its probe builds. Context params (`Context` in the kind's parameters: they never
    enter a verdict) are left at their defaults."""
    params = {**params, **{name: kind.defaults[name] for name in kind.context_params}}
    seen: set[str] = set()
    tried = 0
    for scenario in kind.probe(evidence, params):
        tried += 1
        try:
            seen.add(kind.statistic(scenario, params).verdict)
        except Insufficient:
            seen.add(INCONCLUSIVE)
        if len(seen) == len(VERDICTS):
            break
    return Reachability(tuple(v for v in VERDICTS if v in seen), tried)


# ---------------------------------------------------------------------------------------- run evidence
def seeds(ev: Evidence, model: str, dataset: str, variant: str = "") -> list[int]:
    """Seeds of a (model, dataset[, variant]) group in the evidence, whatever metrics they carry."""
    r = ev.runs
    if r is None or r.empty:
        return []
    mask = (r["model"] == model) & (r["dataset"] == dataset)
    if variant:
        mask &= r["variant"] == variant
    return sorted(int(s) for s in r.loc[mask, "seed"].unique())


def design_values(ev: Evidence, metric: str, model: str, dataset: str, variant: str) -> dict[int, float] | None:
    """A design metric's real per-seed values for a group, when the evidence has them."""
    if metric not in DESIGN_METRICS or ev.runs is None or ev.runs.empty:
        return None
    r = ev.runs
    mask = (r["metric"] == metric) & (r["model"] == model) & (r["dataset"] == dataset) & (r["variant"] == variant)
    vals = r.loc[mask, ["seed", "value"]].dropna()
    return dict(zip(vals["seed"].astype(int), vals["value"].astype(float))) if len(vals) else None


class RunsBuilder:
    """Runs of constructed evidence: the real groups and seeds, values set per (group, metric)."""

    def __init__(self, ev: Evidence) -> None:
        self.ev, self.rows = ev, []

    def set(self, model: str, dataset: str, variant: str, metric: str, values: dict[int, float]) -> "RunsBuilder":
        real = design_values(self.ev, metric, model, dataset, variant)
        for seed, value in (real or values).items():
            self.rows.append((model, dataset, variant, seed, metric, float(value)))
        return self

    def evidence(self, **changes: Any) -> Evidence:
        return dataclasses.replace(self.ev, runs=pd.DataFrame(self.rows, columns=RUN_COLS), **changes)


def spread(n: int) -> np.ndarray:
    """n fixed offsets with mean 0 and sd 1 that alternate in sign: a deterministic stand-in for noise,
    uncorrelated with the order of seeds, sweep points or dates (so it never fakes a trend)."""
    if n < 2:
        return np.zeros(n)
    z = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    z = z - z.mean()
    return z / z.std(ddof=1)


def variant_of(ev: Evidence, model: str, dataset: str) -> str:
    r = ev.runs
    if r is None or r.empty:
        return ""
    v = r.loc[(r["model"] == model) & (r["dataset"] == dataset), "variant"]
    return str(v.iloc[0]) if len(v) else ""


def group(ev: Evidence, model: str, dataset: str) -> tuple[str, list[int]]:
    """(variant, seeds) of a (model, dataset) group in the evidence."""
    return variant_of(ev, model, dataset), seeds(ev, model, dataset)


# ---------------------------------------------------------------------------------------- market evidence
def with_series(ev: Evidence, changes: dict[str, np.ndarray]) -> Evidence:
    """The market with some series' values replaced ("more" = larger, no transform), dates kept."""
    from bubblelens.analysis.growth import growth_rows

    series = dict(ev.market.series)
    for sid, values in changes.items():
        s = series[sid]
        keep = growth_rows(s).index
        frame = s.frame.copy()
        frame.loc[keep, "value"] = values
        series[sid] = dataclasses.replace(s, frame=frame,
                                          meta=dataclasses.replace(s.meta, transform="", direction="up"))
    return dataclasses.replace(ev, market=dataclasses.replace(ev.market, series=series))


def with_rows(ev: Evidence, changes: dict[str, tuple[pd.Index, np.ndarray]]) -> Evidence:
    """The market with the given rows of some series replaced (values toward "more", untransformed)."""
    from bubblelens.analysis.growth import growth_rows

    out = ev
    for sid, (index, values) in changes.items():
        rows = growth_rows(out.market.series[sid]).index
        full = pd.Series(out.market.series[sid].toward_more(), index=out.market.series[sid].frame.index)
        full.loc[index] = values
        out = with_series(out, {sid: full.loc[rows].to_numpy(float)})
    return out


def series_years(ev: Evidence, sid: str) -> np.ndarray | None:
    """Years since a series' first date, at each of its growth rows; None when the market lacks it."""
    from bubblelens.analysis.growth import growth_rows

    if ev.market is None or sid not in ev.market.series:
        return None
    dates = growth_rows(ev.market.series[sid])["date"]
    return ((dates - dates.min()).dt.days / 365.25).to_numpy(float)


# --------------------------------------------------------------------------------------- explosive runs
def explosive_values(ev: Evidence, p: Mapping[str, Any], amplitude: float, seed: int) -> Evidence:
    """Stationary noise (seeded AR(1), coefficient 0.5) on the tested series' dates, with an explosive run of
    `amplitude` in the claim's window (or the last quarter of the sample), on the scale the claim tests.
    Mean-reverting noise is far from explosive whatever the seed, so the calm scenario reaches "not
    supported" for any family of series (random walks did so only by luck of the draw: with 49 and 40
    quarters none of three seeded pairs did)."""
    from bubblelens.analysis.growth import growth_rows

    rng = np.random.default_rng(seed)
    changes = {}
    for sid in p["series"]:
        t = series_years(ev, sid)
        if t is None:
            continue
        n = len(t)
        shocks = rng.normal(0.0, 0.05 if p["scale"] == "log" else 1.0, n)
        walk = signal.lfilter([1.0], [1.0, -0.5], shocks)             # x_t = 0.5 x_{t-1} + e_t
        start = int(0.75 * n)
        if p["window"]:
            dates = growth_rows(ev.market.series[sid])["date"].to_numpy()
            inside = np.flatnonzero(dates >= np.datetime64(pd.Timestamp(p["window"][0])))
            start = int(inside[0]) if len(inside) else start
        steps = np.clip(np.arange(n) - start, 0, None)
        bubble = amplitude * (1.08 ** steps - 1.0)
        z = walk + bubble
        changes[sid] = 100.0 * np.exp(z) if p["scale"] == "log" else z - z.min() + 10.0
    return with_series(ev, changes)


# Explosive-run amplitudes 1/8 ... 4, weakest first, a quarter-octave apart: the first run the rule calls
# explosive stays close to the band, where BIC picks few lags and a bootstrap is quick.
LADDER = tuple(2.0 ** (k / 4) for k in range(-12, 9))


def explosive_probe(ev: Evidence, p: Mapping[str, Any], statistic: Callable, shape: Mapping[str, Any]
                    ) -> Iterator[Evidence]:
    """Stationary noise (not explosive), then the same noise with an explosive run in the window of growing
    amplitude until the rule says supported, then a bisection on the amplitude between the last run it did
    not call explosive and the first it did, for a p-value inside the pre-declared band. Weak runs first:
    a strong, smooth run makes BIC pick many lags, and such bootstraps are the slowest.
    `shape`: the scale and window the values are built for (`explosive_values`)."""
    if ev.market is None:
        yield ev
        return

    def verdict(scenario: Evidence) -> str:
        try:
            return statistic(scenario, p).verdict
        except Insufficient:
            return INCONCLUSIVE
    for seed in range(3):
        yield explosive_values(ev, shape, 0.0, seed)
        below, seen_band = 0.0, False
        for amplitude in LADDER:
            scenario = explosive_values(ev, shape, amplitude, seed)
            yield scenario
            v = verdict(scenario)
            if v == "supported":
                break
            below, seen_band = amplitude, v == INCONCLUSIVE
        else:
            continue
        if seen_band:                        # the ladder stepped into the band already: another seed
            continue
        lo, hi = math.log(below or amplitude / 64), math.log(amplitude)
        for _ in range(10):                  # the p-value falls as the explosive run grows
            mid = explosive_values(ev, shape, math.exp((lo + hi) / 2), seed)
            yield mid
            v = verdict(mid)
            if v == INCONCLUSIVE:            # found; `reachable` stops once every verdict is seen
                break
            lo, hi = ((lo + hi) / 2, hi) if v != "supported" else (lo, (lo + hi) / 2)


