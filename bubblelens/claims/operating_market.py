"""Alternatives for the market-side claim kinds (claims/operating.py): models fitted to the curated series,
simulated on the series' own dates.

- growth comparisons: each series its fitted log-linear trend with normal residuals, or, for series the
  claim models as random walks with drift, that walk (one model of a series, the claim's own);
- survey waves: binomial draws at each wave's sample size;
- explosive roots (short series in logs): a random walk with the series' drift (the null) against a
  drift that steps up halfway, from the first half's mean growth to the second half's (a regime shift
  of the size the data show);
- explosive windows (valuation ratios): the claim's own sieve wild bootstrap (the null) against the same
  series with an explosive run in the window at the pace each ratio kept in the yardstick window (the
  dot-com run-up). P-values of simulated series are read from the claim's bootstrap null draws of the
  observed series, at its BIC lag (warp-speed Monte Carlo: Giacomini, Politis and White 2013, would draw one
  bootstrap per simulated series; reading the observed series' draws instead is cheaper and may overstate
  the run scenario's chance of "supported").

What these models leave out, and the reports say so in each model's words: growth residuals are
independent (the series' autocorrelation is not simulated) and each series is fitted from the claim's
`since`, not on the pair's common window; the explosive-roots alternative is a break in drift, not an
explosive root; and under a null the p-value is uniform, so a band of inconclusive p-values keeps the
explosive claims from ever being settled in practice, whatever the sizes.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bubblelens.analysis import timeseries, trends
from bubblelens.analysis.bubbles import explosive_test, series_frame
from bubblelens.analysis.explosive_bootstrap import bsadf_at_ends, sieve_wild_bootstrap
from bubblelens.analysis.growth import growth_rows
from bubblelens.claims import explosive_statistics as explosive
from bubblelens.claims import market_statistics as market
from bubblelens.claims.kinds import Evidence, Insufficient
from bubblelens.claims.operating import Alternatives, Scenario, measured_and_mirrored, registrar, verdict_of
from bubblelens.claims.reachability import _with_series

ALTERNATIVES: dict = {}
alternatives = registrar(ALTERNATIVES)


def _years(dates: pd.Series) -> np.ndarray:
    return ((dates - dates.min()).dt.days / 365.25).to_numpy(float)


@alternatives("growth_comparison")
def _growth(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each series fitted from `since` on (trend + normal residuals, or a random walk with drift). Mirror:
    every pair's log growth ratio negated by moving its `slower` series' trend (the spending side, shared
    by the pairs, stays as fitted)."""
    walks = set(p.get("random_walk", []))
    models: dict[str, dict] = {}
    for pair in p["pairs"]:
        for sid in (pair["faster"], pair["slower"]):
            f = growth_rows(market.series_of(ev, sid))
            f = f[f["date"] >= pd.Timestamp(p["since"])] if p["since"] else f
            if sid in walks:
                f = timeseries.regular_tail(f)
            if len(f) < 3:
                raise Insufficient(f"series '{sid}' has {len(f)} points from {p['since'] or 'its start'} on")
            t, z = _years(f["date"]), np.log(f["v"].to_numpy(float))
            if sid in walks:
                steps = np.diff(z)
                per_year = (len(t) - 1) / (t[-1] - t[0])
                models[sid] = {"walk": True, "index": f.index, "z0": z[0], "n": len(z), "slope": steps.mean() * per_year,
                               "sd": float(steps.std(ddof=1)), "per_year": per_year}
            else:
                slope, intercept = np.polyfit(t, z, 1)
                resid = z - (intercept + slope * t)
                models[sid] = {"walk": False, "index": f.index, "t": t, "intercept": intercept, "slope": slope,
                               "sd": float(resid.std(ddof=2))}
    slower = [pair["slower"] for pair in p["pairs"]]
    if len(set(slower)) < len(slower):      # the mirror moves each pair's slower series: one move per series
        raise Insufficient("two pairs share their slower series, so no one trend mirrors both")
    gaps = {pair["slower"]: models[pair["faster"]]["slope"] - models[pair["slower"]]["slope"] for pair in p["pairs"]}

    def sampler(sign: float):
        def sample(rng: np.random.Generator) -> str:
            changes = {}
            for sid, m in models.items():
                slope = m["slope"] + (1 - sign) * gaps[sid] if sid in gaps else m["slope"]
                if m["walk"]:
                    steps = slope / m["per_year"] + m["sd"] * rng.standard_normal(m["n"] - 1)
                    z = m["z0"] + np.concatenate([[0.0], np.cumsum(steps)])
                else:
                    z = m["intercept"] + slope * m["t"] + m["sd"] * rng.standard_normal(len(m["t"]))
                changes[sid] = (m["index"], np.exp(z))
            return verdict_of(market.growth_comparison, _with_rows(ev, changes), p)
        return sample

    def text(sign: float) -> str:
        return "; ".join(f"{pair['faster']} / {pair['slower']} ×{math.exp(sign * gaps[pair['slower']]):.2f} a year"
                         for pair in p["pairs"]) + (" (as fitted)" if sign > 0 else " (each ratio inverted)")
    scenarios = measured_and_mirrored(1.0, -1.0, text, sampler)
    model = "log-linear trends with independent normal residuals, fitted from " + (p["since"] or "each start") + \
        (f"; {', '.join(sorted(walks))} a random walk with drift" if walks else "")
    return Alternatives(scenarios, model, sims=100)


def _with_rows(ev: Evidence, changes: dict[str, tuple[pd.Index, np.ndarray]]) -> Evidence:
    """The market with the given rows of some series replaced (values toward "more", untransformed)."""
    out = ev
    for sid, (index, values) in changes.items():
        rows = growth_rows(out.market.series[sid]).index
        full = pd.Series(out.market.series[sid].toward_more(), index=out.market.series[sid].frame.index)
        full.loc[index] = values
        out = _with_series(out, {sid: full.loc[rows].to_numpy(float)})
    return out


@alternatives("proportion_change")
def _proportions(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each wave's respondents binomial at its sample size (the unknown one at the rule's assumed n) and
    share; mirror: the two waves' shares swapped (a fall as large as the rise)."""
    out = market.proportion_change(ev, p)
    waves = out.details["waves"]
    dates = growth_rows(market.series_of(ev, p["signal"]))["date"]
    where = [((dates >= a) & (dates <= b)).to_numpy() for a, b in
             (market._period(str(w["when"])) for w in p["waves"])]
    sizes = [int(round(w["n_used"])) for w in waves]

    def sampler(order: float):
        shares = [w["share"] / 100 for w in (waves if order > 0 else waves[::-1])]

        def sample(rng: np.random.Generator) -> str:
            drawn = [100.0 * rng.binomial(n, s) / n for n, s in zip(sizes, shares)]
            values = np.where(where[0], drawn[0], np.where(where[1], drawn[1], 50.0))
            return verdict_of(market.proportion_change, _with_series(ev, {p["signal"]: values}), p)
        return sample

    def text(order: float) -> str:
        a, b = (waves if order > 0 else waves[::-1])
        return f"true shares {a['share']:g} % then {b['share']:g} % (n = {sizes[0]}, {sizes[1]})"
    return Alternatives(measured_and_mirrored(1.0, -1.0, text, sampler), "binomial respondents in each wave",
                        sims=100)


@alternatives("explosive_roots")
def _explosive_roots(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each series' log steps: a random walk with its own drift (the null), or with the first half's mean
    step then the second half's (the larger last); steps normal at the halves' pooled sd."""
    if p["scale"] != "log" or p["window"]:
        raise Insufficient("alternatives are defined for whole-sample tests in logs")
    fits = []
    for sid in p["series"]:
        f = series_frame(ev.market, sid)
        if f is None or not timeseries.check_testable(f["date"])[0]:
            continue
        z = np.log(f["value"].to_numpy(float))
        t = explosive_test(sid, f, "log", min_window=p["min_window"] or None, lag=p["lag"], reps=p["reps"],
                           seed=p["seed"], level=p["level"], min_duration=p["min_duration"], need_draws=True)
        steps = np.diff(z)
        half = len(steps) // 2
        d1, d2 = sorted((steps[:half].mean(), steps[half:].mean()))
        pooled = math.sqrt((steps[:half].var(ddof=1) + steps[half:].var(ddof=1)) / 2)
        fits.append({"series": sid, "z0": z[0], "n": len(z), "drift": steps.mean(), "sd": steps.std(ddof=1),
                     "d1": d1, "d2": d2, "pooled": pooled, "half": half, "cvs": t.cvs,
                     "min_window": t.result.min_window, "per_year": 4.0})
    if not fits:
        raise Insufficient("no testable series")

    def sampler(shift: bool):
        def sample(rng: np.random.Generator) -> str:
            pvals = []
            for m in fits:
                if shift:
                    drift = np.where(np.arange(m["n"] - 1) < m["half"], m["d1"], m["d2"])
                    steps = drift + m["pooled"] * rng.standard_normal(m["n"] - 1)
                else:
                    steps = m["drift"] + m["sd"] * rng.standard_normal(m["n"] - 1)
                z = m["z0"] + np.concatenate([[0.0], np.cumsum(steps)])
                res = timeseries.radf(z, m["min_window"], p["lag"])
                pvals.append(m["cvs"].p_value("gsadf", res.gsadf))
            return explosive.band_verdict(trends.holm(pvals), p["alpha"], p["inconclusive_until"])
        return sample

    growth = lambda d: f"×{math.exp(4 * d):.2f}"     # noqa: E731  quarterly log steps -> a year
    steady = "; ".join(f"{m['series']} steady at {growth(m['drift'])} a year" for m in fits)
    shift = "; ".join(f"{m['series']} {growth(m['d1'])} a year, then {growth(m['d2'])} from mid-sample"
                      for m in fits)
    return Alternatives((Scenario("steady growth (null)", steady, sampler(False)),
                         Scenario("acceleration", shift, sampler(True))),
                        "random walks in logs, normal steps, the alternative a step up in drift (a regime shift, not "
                        "an explosive root); GSADF p-values from the claim's own null draws", sims=200)


@alternatives("explosive_window")
def _explosive_window(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each ratio: the claim's sieve wild bootstrap of itself (no explosive episode), or the same draws
    times exp(g m), m months into the window, g the ratio's mean monthly log growth from the start of the
    yardstick window to its peak there."""
    frames, _ = explosive.family_frames(ev, p["series"])
    fits = []
    for sid, (_, f) in frames.items():
        if not timeseries.check_testable(f["date"])[0]:
            continue
        try:
            test = explosive.observed_window_test(f, p["window_start"], p)
        except (Insufficient, ValueError):
            continue
        g = 0.0
        if p["yardstick_window"]:
            y = f.set_index("date")["value"]
            yard = y[(y.index >= pd.Timestamp(p["yardstick_window"][0])) & (y.index <= pd.Timestamp(p["yardstick_window"][1]))]
            if len(yard) > 1:
                months = max(int(np.argmax(yard.to_numpy())), 1)
                g = max(math.log(yard.max() / yard.iloc[0]) / months, 0.0)
        fits.append({"series": sid, "y": f["value"].to_numpy(float), "test": test, "g": g})
    if not fits:
        raise Insufficient("no testable series")
    if not any(m["g"] > 0 for m in fits):
        raise Insufficient("no yardstick run-up to scale an explosive alternative by")

    def batch(run: bool):
        def draw(rng: np.random.Generator, n: int) -> list[str]:
            pvals = []
            for m in fits:
                t = m["test"]
                sims = sieve_wild_bootstrap(m["y"], t.lag, n, int(rng.integers(2 ** 31)))     # (n, T)
                if run:
                    months = np.clip(np.arange(t.n) - (t.first_obs - 1), 0, None)
                    sims = sims * np.exp(m["g"] * months)
                stat = bsadf_at_ends(sims, t.min_window, t.lag, t.first_obs, t.last_obs).max(axis=1)   # (n,)
                pvals.append((1 + (t.null[None, :] >= stat[:, None]).sum(axis=1)) / (t.reps + 1))
            pv = np.column_stack(pvals)                                                          # (n, series)
            return [explosive.band_verdict(trends.holm(list(row)), p["alpha"], p["inconclusive_until"]) for row in pv]
        return draw

    pace = "; ".join(f"{m['series']} ×{math.exp(12 * m['g']):.2f} a year" for m in fits)
    return Alternatives((Scenario("no explosive episode (null)", "each ratio its own sieve wild bootstrap",
                                  batch=batch(False)),
                         Scenario("a dot-com-paced run", f"the same, rising from {p['window_start'][:7]} at the "
                                  f"yardstick's pace ({pace})", batch=batch(True))),
                        "the claim's AR sieve wild bootstrap of each ratio (unit root, its own autocorrelation and "
                        "volatility path), at its BIC lag; p-values against the observed series' bootstrap draws, "
                        "not each simulated series' own, which may overstate the chance of 'supported' under the "
                        "run", sims=100)
