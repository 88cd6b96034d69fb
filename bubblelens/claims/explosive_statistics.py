"""Explosive-root claims: GSADF or window tests, Holm across series, a pre-declared band.

Two kinds. `explosive_roots`: GSADF (or a window's sup BSADF) against Monte Carlo random walks of the same
length and drift — for short series such as NVIDIA's quarterly revenue. `explosive_window`: the sup BSADF
over a window of ends against a sieve wild bootstrap of each series itself (analysis/explosive_bootstrap.py)
— for long valuation ratios, whose changes are autocorrelated and heteroskedastic, where a random-walk null
is far from the truth and rejects far too often.

Phillips, Shi & Yu (2015): a bubble is a price running away from its fundamentals, visible as an
explosive root in a valuation ratio (price / dividend, price / earnings), which is not explosive when
prices follow fundamentals. A fundamental itself (revenue) may grow explosively without any bubble.
`scale` says what is tested: in levels any exponential growth is explosive; in logs only growth faster
than exponential is, and the null random walks carry the series' own drift (analysis/bubbles.null_drift).

The statistic is GSADF over the whole sample, or, with a `window`, the supremum of the BSADF sequence
over the windows ending inside it ("is there an episode in 2020-2023?"); its p-value comes from the
shipped null draws of the same length (analysis/critical_values.py). With k series the p-values are
Holm-adjusted. The verdict is symmetric around a band pre-declared in the claim: supported when the
smallest adjusted p is below `alpha`; not supported when every adjusted p is at or above
`inconclusive_until`; inconclusive in between — so with long series every verdict stays reachable.

Each kind is registered whole (`register_kind`: parameters, statistic, reachability probe, alternatives).
The probes put stationary noise on the tested series' dates, then an explosive run of growing amplitude.
The alternatives (claims/operating.py): for `explosive_roots` (short series in logs) a random walk with
the series' drift (the null) against a drift that steps up halfway, from the first half's mean growth to
the second half's (a regime shift of the size the data show, not an explosive root); for
`explosive_window` (valuation ratios) the claim's own sieve wild bootstrap (the null) against the same
series with an explosive run in the window at the pace each ratio kept in the yardstick window (the
dot-com run-up). P-values of simulated series are read from the claim's bootstrap null draws of the
observed series, at its BIC lag (warp-speed Monte Carlo: Giacomini, Politis and White 2013, would draw
one bootstrap per simulated series; reading the observed series' draws instead is cheaper and may
overstate the run scenario's chance of "supported"). Under a null the p-value is uniform, so a band of
inconclusive p-values keeps the explosive claims from ever being settled in practice, whatever the sizes.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import numpy as np
import pandas as pd

from bubblelens.analysis import timeseries, trends
from bubblelens.analysis.bubbles import SCALES, explosive_test, series_frame
from bubblelens.analysis.explosive_bootstrap import bsadf_at_ends, sieve_wild_bootstrap
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Context, Evidence, Insufficient, Names
from bubblelens.claims.kinds import Outcome, Params, register_kind
from bubblelens.claims.market_statistics import series_of
from bubblelens.claims.operating import Alternatives, Scenario
from bubblelens.claims.reachability import explosive_probe

def _overlapping(episodes: list[dict], window: list) -> list[dict]:
    return [e for e in episodes if e["start"] <= window[1] and e["end"] >= window[0]]


def tested_series(ev: "Evidence", sid: str, p: Mapping[str, Any]) -> dict:
    """One series: GSADF (or the window's sup BSADF) with its Monte Carlo p-value and dated episodes."""
    s = series_of(ev, sid)
    f = series_frame(ev.market, sid)          # the regular run the report's panels test, too
    out: dict[str, Any] = {"series": sid, "title": s.meta.title, "scale": p["scale"], "n": len(f),
                           "first": str(f["date"].min().date()) if len(f) else None,
                           "last": str(f["date"].max().date()) if len(f) else None}
    ok, why = timeseries.check_testable(f["date"])
    if ok and p["scale"] == "log" and (f["value"] <= 0).any():
        ok, why = False, "a value is not positive, so the series cannot be tested in logs"
    out.update(testable=ok, reason=why)
    if not ok:
        return out
    t = explosive_test(sid, f, p["scale"], min_window=p["min_window"] or None, lag=p["lag"], reps=p["reps"],
                       seed=p["seed"], level=p["level"], min_duration=p["min_duration"])
    res, cvs = t.result, t.cvs
    day = lambda d: str(pd.Timestamp(d).date())                          # noqa: E731
    out.update(null_drift=t.drift, gsadf=res.gsadf, gsadf_cv=cvs.value("gsadf", p["level"]),
               gsadf_cvs=[cvs.value("gsadf", lv) for lv in (0.90, 0.95, 0.99)], min_window=res.min_window,
               gsadf_p=cvs.p_value("gsadf", res.gsadf), reps=cvs.reps, min_duration=t.min_duration,
               episodes=[{"start": day(e.start), "peak": day(e.peak), "end": day(e.end), "duration": e.duration}
                         for e in t.episodes])
    if p["window"]:
        first, last = _window_obs(res, p["window"])
        sup, pval = cvs.window_p_value(res, first, last)
        out.update(statistic="sup BSADF in window", value=sup, p_value=pval, window=list(p["window"]),
                   episodes_in_window=_overlapping(out["episodes"], p["window"]))
    else:
        out.update(statistic="GSADF", value=res.gsadf, p_value=out["gsadf_p"])
    if p["yardstick_window"]:
        out["episodes_in_yardstick"] = _overlapping(out["episodes"], p["yardstick_window"])
    return out


def _window_obs(res: Any, window: list) -> tuple[int, int]:
    """1-based observations of the BSADF windows ending inside [start, end]."""
    idx = pd.DatetimeIndex(res.index)
    inside = np.flatnonzero((idx >= pd.Timestamp(window[0])) & (idx <= pd.Timestamp(window[1])))
    if not len(inside):
        raise Insufficient(f"no observation of the tested series falls in the window {window[0]} to {window[1]}")
    return int(res.obs[inside[0]]), int(res.obs[inside[-1]])


def band_verdict(adjusted: list[float], alpha: float, until: float) -> str:
    """Supported below alpha, not supported when every adjusted p is >= until, inconclusive between."""
    if min(adjusted) < alpha:
        return SUPPORTED
    return NOT_SUPPORTED if min(adjusted) >= until else INCONCLUSIVE


def family_verdict(tested: list[dict], p: Mapping[str, Any], details: dict) -> tuple[str, dict, list[dict]]:
    """(verdict, the series with the smallest adjusted p, the family) over the testable series: Holm across
    them (each gets its `p_holm`), then the pre-declared band; Insufficient, with every series' reason,
    when none is testable."""
    family = [t for t in tested if t["testable"]]
    if not family:
        raise Insufficient("; ".join(f"{t['series']}: {t['reason']}" for t in tested), details)
    for t, adj in zip(family, trends.holm([t["p_value"] for t in family])):
        t["p_holm"] = float(adj)
    verdict = band_verdict([t["p_holm"] for t in family], p["alpha"], p["inconclusive_until"])
    return verdict, min(family, key=lambda t: t["p_holm"]), family


class ExplosiveRoots(Params):
    series: Annotated[list, Names("series")]
    scale: str
    window: list = []
    yardstick_window: list = []
    alpha: float = 0.05
    inconclusive_until: float = 0.20
    level: float = 0.95
    min_window: int = 0
    lag: int = 0
    reps: int = 2000
    seed: int = 123
    min_duration: int = 0


def explosive_roots(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Is any series explosive (in its window)? Holm-adjusted Monte Carlo p-values against a pre-declared
    band; series too short or irregular to test are listed with the reason and leave the family."""
    if p["scale"] not in SCALES:
        raise Insufficient(f"scale must be one of {SCALES}, got '{p['scale']}'")
    if not p["alpha"] < p["inconclusive_until"]:
        raise Insufficient("the inconclusive band is empty: alpha must be below inconclusive_until")
    tested = [tested_series(ev, sid, p) for sid in p["series"]]
    details: dict[str, Any] = {"series": tested, "scale": p["scale"], "band": [p["alpha"], p["inconclusive_until"]]}
    if ok := [t for t in tested if t["testable"]]:
        details["window_used"] = [min(t["first"] for t in ok), max(t["last"] for t in ok)]
    verdict, best, family = family_verdict(tested, p, details)
    reason = "; ".join(f"{t['series']} ({t['scale']}, n = {t['n']}): {t['statistic']} {t['value']:.2f}, "
                       f"Holm p {t['p_holm']:.3f}" for t in family)
    return Outcome(verdict, reason, best["value"], f"{best['statistic']} of {best['series']}", None, p["level"],
                   best["p_holm"], best["n"], details)


def _explosive_roots_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """Stationary noise, then an explosive run in the window (or the last quarter) of growing
    amplitude, on the scale the claim tests (`_explosive_probe`)."""
    yield from explosive_probe(ev, p, explosive_roots, p)


def _explosive_roots_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
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
            return band_verdict(trends.holm(pvals), p["alpha"], p["inconclusive_until"])
        return sample

    growth = lambda d: f"×{math.exp(4 * d):.2f}"     # noqa: E731  quarterly log steps -> a year
    steady = "; ".join(f"{m['series']} steady at {growth(m['drift'])} a year" for m in fits)
    shift = "; ".join(f"{m['series']} {growth(m['d1'])} a year, then {growth(m['d2'])} from mid-sample"
                      for m in fits)
    return Alternatives((Scenario("steady growth (null)", steady, sampler(False)),
                         Scenario("acceleration", shift, sampler(True))),
                        "random walks in logs, normal steps, the alternative a step up in drift (a regime shift, not "
                        "an explosive root); GSADF p-values from the claim's own null draws", sims=200)


register_kind("explosive_roots", ExplosiveRoots, explosive_roots,
              probe=_explosive_roots_probe, alternatives=_explosive_roots_alternatives)


# ------------------------------------------------------------------------- a window, bootstrap null
def _window_rows(dates: pd.Series, start: str, end: str | None = None) -> tuple[int, int]:
    """1-based observations of the dates in [start, end] (end None: to the last); Insufficient if none."""
    d = pd.DatetimeIndex(dates)
    inside = np.flatnonzero((d >= pd.Timestamp(start)) & (d <= (pd.Timestamp(end) if end else d.max())))
    if not len(inside):
        raise Insufficient(f"no observation falls in the window from {start} to {end or 'the last'}")
    return int(inside[0]) + 1, int(inside[-1]) + 1


@functools.lru_cache(maxsize=32)
def _window_test(values: bytes, first: int, last: int, min_window: int, max_lag: int, reps: int, seed: int):
    """Memoised in-process: a reachability probe re-evaluates scenarios whose series repeat (the engine
    applies the statistic to what the probe itself already tested), and each test is a bootstrap."""
    from bubblelens.analysis.explosive_bootstrap import window_test

    return window_test(np.frombuffer(values, dtype=np.float64), first, last, min_window=min_window or None,
                       max_lag=max_lag, reps=reps, seed=seed)


def window_tested(frame: pd.DataFrame, start: str, end: str | None, p: Mapping[str, Any]) -> dict:
    """The sieve wild-bootstrap window test (analysis/explosive_bootstrap.py) of one regular series in
    levels, on its observations up to `end` (the test must not see later data), for the windows ending
    from `start` to `end`."""
    f = frame if end is None else frame[frame["date"] <= pd.Timestamp(end)]
    first, last = _window_rows(f["date"], start, end)
    try:
        t = _window_test(np.ascontiguousarray(f["value"].to_numpy(np.float64)).tobytes(), first, last,
                         p["min_window"], p["max_lag"], p["reps"], p["seed"])
    except ValueError as exc:        # a window ending before the first admissible end: too little data
        raise Insufficient(f"the window from {start} to {end or 'the last observation'} cannot be tested: {exc}") \
            from None
    day = lambda i: str(pd.Timestamp(f["date"].iloc[i - 1]).date())       # noqa: E731, 1-based observation
    peak = int(np.argmax(t.bsadf))
    return {"n": t.n, "sample": [day(1), day(t.n)], "window": [day(first), day(last)], "lag": t.lag,
            "lag_at_cap": t.lag == p["max_lag"],
            "min_window": t.min_window, "value": t.statistic, "p_value": t.p_value, "cv95": t.cv95,
            "reps": t.reps, "method": t.method, "peak": day(first + peak),
            "bsadf": [[day(first + i), float(b)] for i, b in enumerate(t.bsadf)]}


def family_frames(ev: "Evidence", ids: list[str]) -> tuple[dict[str, tuple[Any, pd.DataFrame]], Any]:
    """{series id: (series, its regular run cut at the family's newest month)} and that month (None when
    no series has data): a window test compares the series over the same months."""
    frames = {sid: (series_of(ev, sid), series_frame(ev.market, sid)) for sid in ids}
    end = min((f["date"].max() for _, f in frames.values() if len(f)), default=None)
    return {sid: (s, f[f["date"] <= end] if end is not None else f) for sid, (s, f) in frames.items()}, end


def observed_window_test(frame: pd.DataFrame, start: str, p: Mapping[str, Any]):
    """The claim's own memoised window test of one series (analysis/explosive_bootstrap.WindowTest)."""
    first, last = _window_rows(frame["date"], start)
    return _window_test(np.ascontiguousarray(frame["value"].to_numpy(np.float64)).tobytes(), first, last,
                        p["min_window"], p["max_lag"], p["reps"], p["seed"])


class ExplosiveWindow(Params):
    series: Annotated[list, Names("series")]
    window_start: str
    yardstick_window: Annotated[list, Context()] = []
    alpha: float = 0.05
    inconclusive_until: float = 0.20
    max_lag: int = 6
    reps: int = 499
    seed: int = 123
    min_window: int = 0


def explosive_window(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Did any series (tested in levels) turn explosive in the windows ending from `window_start` to the
    newest month every series of the family has? Sup BSADF over those windows against a sieve wild
    bootstrap of each series (valid with autocorrelated, heteroskedastic changes), Holm across the family,
    a pre-declared band. The yardstick (context only: it never enters the verdict) is the same test on the
    windows ending inside `yardstick_window`, on the data up to its end."""
    if not p["alpha"] < p["inconclusive_until"]:
        raise Insufficient("the inconclusive band is empty: alpha must be below inconclusive_until")
    frames, end = family_frames(ev, p["series"])
    tested = []
    for sid, (s, f) in frames.items():
        out: dict[str, Any] = {"series": sid, "title": s.meta.title, "scale": "levels", "n": len(f),
                               "first": str(f["date"].min().date()) if len(f) else None,
                               "last": str(f["date"].max().date()) if len(f) else None}
        ok, why = timeseries.check_testable(f["date"])
        out.update(testable=ok, reason=why)
        if ok:
            out.update(statistic="sup BSADF in window", **window_tested(f, p["window_start"], None, p))
            if p["yardstick_window"]:
                y0, y1 = p["yardstick_window"]
                try:
                    out["yardstick"] = window_tested(f, y0, y1, p)
                except Insufficient as exc:
                    out["yardstick"] = {"window": [y0, y1], "error": str(exc)}
        tested.append(out)
    details: dict[str, Any] = {"series": tested, "band": [p["alpha"], p["inconclusive_until"]],
                               "window_used": [p["window_start"], str(end.date())] if end is not None else None}
    verdict, best, family = family_verdict(tested, p, details)
    reason = "; ".join(f"{t['series']} (n = {t['n']}, lag {t['lag']}): sup BSADF {t['value']:.2f} in windows ending "
                       f"{t['window'][0][:7]} to {t['window'][1][:7]}, bootstrap 95 % value {t['cv95']:.2f}, "
                       f"Holm p {t['p_holm']:.3f}" for t in family)
    return Outcome(verdict, reason, best["value"], f"sup BSADF in window of {best['series']}", None, 0.95,
                   best["p_holm"], best["n"], details)


def _explosive_window_probe(ev: Evidence, p: Mapping[str, Any]) -> Iterator[Evidence]:
    """As for explosive_roots, in levels, with the run starting at the window's first month."""
    yield from explosive_probe(ev, p, explosive_window, {"series": p["series"], "scale": "levels",
                                                          "window": [p["window_start"], ""]})


def _explosive_window_alternatives(ev: Evidence, p: Mapping[str, Any]) -> Alternatives:
    """Each ratio: the claim's sieve wild bootstrap of itself (no explosive episode), or the same draws
    times exp(g m), m months into the window, g the ratio's mean monthly log growth from the start of the
    yardstick window to its peak there."""
    frames, _ = family_frames(ev, p["series"])
    fits = []
    for sid, (_, f) in frames.items():
        if not timeseries.check_testable(f["date"])[0]:
            continue
        try:
            test = observed_window_test(f, p["window_start"], p)
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
            return [band_verdict(trends.holm(list(row)), p["alpha"], p["inconclusive_until"]) for row in pv]
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


register_kind("explosive_window", ExplosiveWindow, explosive_window,
              probe=_explosive_window_probe, alternatives=_explosive_window_alternatives)
