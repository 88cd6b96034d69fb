"""Which verdicts a claim's rule can reach at the sample sizes in hand: is its verdict evidence at all?

A verdict counts only if the data could have produced another one. For each claim, `reachable` applies
the claim's own statistic (the function the engine applies, with its declared parameters) to evidence
constructed at the sizes of the evidence at hand — the same groups, seeds, sweep points, series dates —
with values that push the rule each way, and records which verdicts come out. A verdict no scenario
reaches cannot be produced by any data of these sizes: the claim is settled by its design (or, at smoke
size, cannot be decided at all), and `bubblelens claims check` says so.

Scenarios are built per statistic kind (`PROBES`). Some are exhaustive by construction (the share of
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

from bubblelens.claims.kinds import INCONCLUSIVE, VERDICTS, Evidence, Insufficient
from bubblelens.claims.statistics import KINDS
from bubblelens.evaluation.names import KEY_FLOPS_TOTAL, KEY_HIGH_QUALITY

# Fixed by the configuration (shapes and steps), identical across seeds by construction: never varied.
DESIGN_METRICS = (KEY_FLOPS_TOTAL, "flops_per_step", "checkpoint_every")
RUN_COLS = ["model", "dataset", "variant", "seed", "metric", "value"]
Probe = Callable[[Evidence, Mapping[str, Any]], Iterator[Evidence]]
PROBES: dict[str, Probe] = {}


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


def probe(kind: str) -> Callable[[Probe], Probe]:
    def wrap(fn: Probe) -> Probe:
        PROBES[kind] = fn
        return fn
    return wrap


def reachable(statistic: str, params: Mapping[str, Any], evidence: Evidence) -> Reachability:
    """The verdicts `statistic` with `params` can reach on evidence of `evidence`'s sizes. Context params
    (StatisticKind.context_params: they never enter a verdict) are left at their defaults."""
    kind = KINDS[statistic]
    fn = kind.fn
    params = {**params, **{name: kind.params[name][1] for name in kind.context_params}}
    seen: set[str] = set()
    tried = 0
    for scenario in PROBES[statistic](evidence, params):
        tried += 1
        try:
            seen.add(fn(scenario, params).verdict)
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


def _design_values(ev: Evidence, metric: str, model: str, dataset: str, variant: str) -> dict[int, float] | None:
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
        real = _design_values(self.ev, metric, model, dataset, variant)
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


def _variant_of(ev: Evidence, model: str, dataset: str) -> str:
    r = ev.runs
    if r is None or r.empty:
        return ""
    v = r.loc[(r["model"] == model) & (r["dataset"] == dataset), "variant"]
    return str(v.iloc[0]) if len(v) else ""


# ----------------------------------------------------------------------------------------- model kinds
@probe("share_of_runs_failing")
def _share_failing(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Exhaustive: every number of failing runs from none to all (runs listed check by check). With a
    `min_high_quality` floor, the runs that count are those at or above it in the evidence at hand (how
    many reach it sets the sample size, like the number of seeds), all of them in a skeleton."""
    from bubblelens.claims.model_statistics import learned_seeds

    groups = []
    for c in p["checks"]:
        variant = c.get("variant") or _variant_of(ev, c["model"], c["dataset"])
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


def _group(ev: Evidence, model: str, dataset: str) -> tuple[str, list[int]]:
    return _variant_of(ev, model, dataset), seeds(ev, model, dataset)


@probe("mean_below")
def _mean_below(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Far below the bound (and the comparator far above), far above it, and straddling it."""
    va, sa = _group(ev, p["model"], p["dataset"])
    vb, sb = _group(ev, p["compare_model"], p["dataset"]) if p["compare_model"] else ("", [])
    scale = abs(p["bound"]) or 1.0
    for centre, noise, other in ((0.5, 0.01, 2.0), (2.0, 0.01, 0.5), (1.0, 0.5, 1.0)):
        b = RunsBuilder(ev).set(p["model"], p["dataset"], va, p["metric"],
                                dict(zip(sa, scale * (centre + noise * spread(len(sa))))))
        if sb:      # half the wiggle: per-seed differences keep a spread when the rule pairs seeds
            b.set(p["compare_model"], p["dataset"], vb, p["metric"],
                  dict(zip(sb, scale * (other + 0.5 * noise * spread(len(sb))))))
        yield b.evidence()


@probe("seed_cv")
def _seed_cv(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Spread far below the threshold CV, far above it, and at it."""
    variant = p["variant"] or _variant_of(ev, p["model"], p["dataset"])
    ss = seeds(ev, p["model"], p["dataset"], p["variant"])
    for cv in (p["threshold"] / 20, p["threshold"] * 10, p["threshold"]):
        yield RunsBuilder(ev).set(p["model"], p["dataset"], variant, p["metric"],
                                  dict(zip(ss, 100.0 * (1 + cv * spread(len(ss)))))).evidence()


@probe("compute_returns")
def _compute_returns(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Quality on the sweep's own FLOPs following a strongly saturating law, a law whose gains grow, and
    one at the boundary (last doubling worth max_ratio of the first), seed by seed with a small wiggle."""
    sw = ev.sweep
    if sw is None or sw.empty or not (sw["model"] == p["model"]).any():
        yield ev
        return
    d = sw[sw["model"] == p["model"]].copy()
    sign = 1.0 if p["lower_is_better"] else -1.0
    span = d.groupby(["seed", "width"])["flops_total"].transform(lambda f: np.log2(f / f.min()))
    x_max = float(span.max()) if len(span) else 1.0
    k_edge = -np.log(p["max_ratio"]) / max(x_max - 1, 1e-9)
    wiggle = d.groupby(["seed", "width"]).cumcount().map(lambda i: 0.3 if i % 2 else -0.3)
    rank = d["seed"].rank(method="dense") + d["width"].rank(method="dense")
    shift = 0.05 * (rank - rank.mean())                 # each series its own rate, so intervals have width
    # (floor, A, k): gains that shrink fast, gains that grow (A < 0, k < 0: FID falls ever faster), the edge
    for floor, amplitude, k in ((20.0, 60.0, 2.0), (100.0, -10.0, -0.3), (20.0, 60.0, k_edge)):
        y = floor + amplitude * np.exp(-k * (1 + shift) * span) + wiggle
        yield dataclasses.replace(ev, sweep=d.assign(**{p["metric"]: sign * y}))


@probe("compute_to_target")
def _compute_to_target(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Treatment at target at the last checkpoints while the baseline is there at the first ones, the
    reverse, alternating, and nothing at target; FLOPs per step and budgets keep their real values."""
    for scenario in ("costlier", "cheaper", "mixed", "never"):
        b = RunsBuilder(ev)
        for ds in p["datasets"]:
            ss = sorted(set(seeds(ev, p["model"], ds, p["baseline"])) & set(seeds(ev, p["model"], ds, p["treatment"])))
            steps = {}
            for arm in (p["baseline"], p["treatment"]):
                fps = _design_values(ev, "flops_per_step", p["model"], ds, arm) or dict.fromkeys(ss, 1e6)
                every = _design_values(ev, "checkpoint_every", p["model"], ds, arm) or dict.fromkeys(ss, 100.0)
                budget = _design_values(ev, KEY_FLOPS_TOTAL, p["model"], ds, arm) or \
                    {s: 40 * every[s] * fps[s] for s in ss}
                b.set(p["model"], ds, arm, "flops_per_step", fps).set(p["model"], ds, arm, "checkpoint_every", every)
                b.set(p["model"], ds, arm, KEY_FLOPS_TOTAL, budget)
                steps[arm] = {s: (every[s], budget[s] / fps[s]) for s in ss}
            early = {arm: {s: e for s, (e, _) in steps[arm].items()} for arm in steps}
            late = {arm: {s: math.floor(0.9 * n / e) * e for s, (e, n) in steps[arm].items()} for arm in steps}
            base_at, treat_at = {"costlier": (early, late), "cheaper": (late, early),
                                 "mixed": (early, early), "never": (late, late)}[scenario]
            for arm, at in ((p["baseline"], base_at), (p["treatment"], treat_at)):
                at_arm = dict(at[arm])
                if scenario == "mixed" and arm == p["treatment"]:
                    at_arm = {s: (late if i % 2 else early)[arm][s] for i, s in enumerate(ss)}
                b.set(p["model"], ds, arm, "target_step", at_arm)
                b.set(p["model"], ds, arm, "reached_target", dict.fromkeys(ss, 0.0 if scenario == "never" else 1.0))
        yield b.evidence()


# ---------------------------------------------------------------------------------------- market kinds
def _with_series(ev: Evidence, changes: dict[str, np.ndarray]) -> Evidence:
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


def _years(ev: Evidence, sid: str) -> np.ndarray | None:
    from bubblelens.analysis.growth import growth_rows

    if ev.market is None or sid not in ev.market.series:
        return None
    dates = growth_rows(ev.market.series[sid])["date"]
    return ((dates - dates.min()).dt.days / 365.25).to_numpy(float)


@probe("growth_comparison")
def _growth_comparison(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Each pair's first series far faster than its second, far slower, and both alike with noise."""
    if ev.market is None:
        yield ev
        return
    for fast_g, slow_g, noise in ((10.0, 1.1, 0.01), (1.1, 10.0, 0.01), (2.0, 2.0, 0.8)):
        changes = {}
        for pair in p["pairs"]:
            for role, g in (("faster", fast_g), ("slower", slow_g)):
                t = _years(ev, pair[role])
                if t is not None and len(t):
                    changes[pair[role]] = np.exp(np.log(g) * t + noise * spread(len(t)))
        yield _with_series(ev, changes)


def _explosive_values(ev: Evidence, p: Mapping[str, Any], amplitude: float, seed: int) -> Evidence:
    """Stationary noise (seeded AR(1), coefficient 0.5) on the tested series' dates, with an explosive run of
    `amplitude` in the claim's window (or the last quarter of the sample), on the scale the claim tests.
    Mean-reverting noise is far from explosive whatever the seed, so the calm scenario reaches "not
    supported" for any family of series (random walks did so only by luck of the draw: with 49 and 40
    quarters none of three seeded pairs did)."""
    from bubblelens.analysis.growth import growth_rows

    rng = np.random.default_rng(seed)
    changes = {}
    for sid in p["series"]:
        t = _years(ev, sid)
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
    return _with_series(ev, changes)


# Explosive-run amplitudes 1/8 ... 4, weakest first, a quarter-octave apart: the first run the rule calls
# explosive stays close to the band, where BIC picks few lags and a bootstrap is quick.
LADDER = tuple(2.0 ** (k / 4) for k in range(-12, 9))


def _explosive_probe(ev: Evidence, p: Mapping[str, Any], statistic: Callable, shape: Mapping[str, Any]
                     ) -> Iterator[Evidence]:
    """Stationary noise (not explosive), then the same noise with an explosive run in the window of growing
    amplitude until the rule says supported, then a bisection on the amplitude between the last run it did
    not call explosive and the first it did, for a p-value inside the pre-declared band. Weak runs first:
    a strong, smooth run makes BIC pick many lags, and such bootstraps are the slowest.
    `shape`: the scale and window the values are built for (`_explosive_values`)."""
    if ev.market is None:
        yield ev
        return

    def verdict(scenario: Evidence) -> str:
        try:
            return statistic(scenario, p).verdict
        except Insufficient:
            return INCONCLUSIVE
    for seed in range(3):
        yield _explosive_values(ev, shape, 0.0, seed)
        below, seen_band = 0.0, False
        for amplitude in LADDER:
            scenario = _explosive_values(ev, shape, amplitude, seed)
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
            mid = _explosive_values(ev, shape, math.exp((lo + hi) / 2), seed)
            yield mid
            v = verdict(mid)
            if v == INCONCLUSIVE:            # found; `reachable` stops once every verdict is seen
                break
            lo, hi = ((lo + hi) / 2, hi) if v != "supported" else (lo, (lo + hi) / 2)


@probe("explosive_roots")
def _explosive_roots(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    from bubblelens.claims.explosive_statistics import explosive_roots

    yield from _explosive_probe(ev, p, explosive_roots, p)


@probe("explosive_window")
def _explosive_window(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """As for explosive_roots, in levels, with the run starting at the window's first month."""
    from bubblelens.claims.explosive_statistics import explosive_window

    yield from _explosive_probe(ev, p, explosive_window, {"series": p["series"], "scale": "levels",
                                                          "window": [p["window_start"], ""]})


@probe("proportion_change")
def _proportion_change(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """A large rise between the two waves, a large fall, and almost no change (sample sizes as they are)."""
    from bubblelens.analysis.growth import growth_rows
    from bubblelens.claims.market_statistics import _period

    if ev.market is None or p["signal"] not in ev.market.series:
        yield ev
        return
    dates = growth_rows(ev.market.series[p["signal"]])["date"]
    (a0, a1), (b0, b1) = (_period(str(w["when"])) for w in p["waves"])
    in_first = ((dates >= a0) & (dates <= a1)).to_numpy()
    in_last = ((dates >= b0) & (dates <= b1)).to_numpy()
    for first, last in ((20.0, 45.0), (45.0, 20.0), (30.0, 30.5)):
        yield _with_series(ev, {p["signal"]: np.where(in_first, first, np.where(in_last, last, 50.0))})
