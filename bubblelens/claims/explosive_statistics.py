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
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bubblelens.analysis import timeseries, trends
from bubblelens.analysis.bubbles import SCALES, explosive_test, series_frame
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, REQUIRED, SUPPORTED, Insufficient, Outcome
from bubblelens.claims.kinds import StatisticKind, registrar
from bubblelens.claims.market_statistics import series_of

if TYPE_CHECKING:
    from bubblelens.claims.kinds import Evidence

KINDS: dict[str, StatisticKind] = {}
register = registrar(KINDS)


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


@register("explosive_roots",
          {"series": (list, REQUIRED), "scale": (str, REQUIRED), "window": (list, []),
           "yardstick_window": (list, []), "alpha": (float, 0.05), "inconclusive_until": (float, 0.20),
           "level": (float, 0.95), "min_window": (int, 0), "lag": (int, 0), "reps": (int, 2000),
           "seed": (int, 123), "min_duration": (int, 0)},
          series_params=("series",))
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


@register("explosive_window",
          {"series": (list, REQUIRED), "window_start": (str, REQUIRED), "yardstick_window": (list, []),
           "alpha": (float, 0.05), "inconclusive_until": (float, 0.20), "max_lag": (int, 6), "reps": (int, 499),
           "seed": (int, 123), "min_window": (int, 0)},
          series_params=("series",), context_params=("yardstick_window",))
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
