"""Statistics of market-side claims (curated series: growth races, explosive roots, survey shifts).

Each kind is a pure function of the evidence and the claim's declared parameters; `register` states its
parameters and which of them name metrics or market series, so a typo in claims.toml is caught before a
build runs. Missing or too little evidence raises `Insufficient` with the reader-facing reason, which the
engine reports as "inconclusive".
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, REQUIRED, SUPPORTED
from bubblelens.claims.kinds import Insufficient, Outcome, StatisticKind, fnum, registrar

if TYPE_CHECKING:
    from bubblelens.claims.kinds import Evidence

KINDS: dict[str, StatisticKind] = {}
register = registrar(KINDS)


def _series(ev: "Evidence", sid: str) -> Any:
    if ev.market is None or sid not in ev.market.series:
        raise Insufficient(f"series '{sid}' is not in the market data")
    return ev.market.series[sid]


def _numeric(s: Any) -> pd.DataFrame:
    """Dated numeric rows on the analysis scale (error rate for bounded scores); bounds ('<', '>') dropped."""
    f = s.frame.assign(v=s.values_for_analysis() if hasattr(s, "values_for_analysis") else s.frame["value"])
    bound = f["bound"].fillna("") if "bound" in f else pd.Series("", index=f.index)
    return f[f["v"].notna() & (bound == "")].sort_values("date", kind="stable")


def _reciprocal(s: Any) -> bool:
    """Is "more" the reciprocal of the analysed value? Yes for a falling price ('down'), and for a score
    analysed as its error rate (the complement falls as the score rises); both together cancel."""
    return (getattr(s.meta, "direction", "up") == "down") != (getattr(s.meta, "transform", "") == "error_rate")


def _growth(ev: "Evidence", sid: str, level: float) -> dict:
    """Annual growth factor of "more" for one series, with its interval (NaN where n = 2)."""
    from bubblelens.analysis import timeseries
    s = _series(ev, sid)
    f = _numeric(s)
    try:
        g = timeseries.growth_rate(f["date"], f["v"], level)
    except ValueError as exc:
        return {"series": sid, "n": len(f), "error": str(exc)}
    fac, lo, hi = g.annual_factor, g.lo, g.hi
    if _reciprocal(s):
        fac, lo, hi = 1 / fac, 1 / hi, 1 / lo
    se = (math.log(hi) - math.log(lo)) / (2 * sps.t.ppf(0.5 + level / 2, g.n - 2)) if g.n > 2 else math.nan
    return {"series": sid, "factor": fac, "lo": fnum(lo), "hi": fnum(hi), "n": g.n, "se_log": fnum(se),
            "first": str(g.first_date.date()), "last": str(g.last_date.date()), "reciprocal": _reciprocal(s)}


def _quoted(ev: "Evidence", q: Mapping[str, str]) -> dict:
    """A rate quoted by a source (x per year) with its quoted range, read from labelled rows."""
    f = _series(ev, q["series"]).frame.set_index("label")["value"]
    try:
        fac, lo, hi = (float(f[q[k]]) for k in ("point", "lo", "hi"))
    except KeyError as exc:
        raise Insufficient(f"series '{q['series']}' has no row labelled {exc}") from None
    return {"series": f"{q['series']}:{q['point']}", "factor": fac, "lo": lo, "hi": hi, "n": None,
            "se_log": None, "quoted_range": True}


@register("growth_race",
          {"hype": (list, REQUIRED), "capability": (list, REQUIRED), "quoted": (list, []),
           "level": (float, 0.95), "alpha": (float, 0.05)}, series_params=("hype", "capability", "quoted"),
          tables={"quoted": ("series", "point", "lo", "hi")})
def growth_race(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Did expectation series grow faster than capability series? Pairwise comparison of annual factors.

    A pair is separated when the intervals are disjoint or a z test on the log-slopes rejects at alpha.
    Supported when every evaluable pair has hype faster; not supported when any capability series is
    faster than a hype series (a counterexample to the universal claim); inconclusive otherwise.
    """
    hype = [_growth(ev, s, p["level"]) for s in p["hype"]]
    cap = [_growth(ev, s, p["level"]) for s in p["capability"]] + [_quoted(ev, q) for q in p["quoted"]]
    usable = lambda g: g.get("lo") is not None and g.get("hi") is not None    # noqa: E731
    pairs = []
    for h in filter(usable, hype):
        for c in filter(usable, cap):
            pval = None
            if h["se_log"] and c["se_log"]:
                z = (math.log(h["factor"]) - math.log(c["factor"])) / math.hypot(h["se_log"], c["se_log"])
                pval = float(2 * sps.norm.sf(abs(z)))
            sep = pval is not None and pval < p["alpha"]
            if h["lo"] > c["hi"] or (sep and h["factor"] > c["factor"]):
                rel = "hype faster"
            elif c["lo"] > h["hi"] or (sep and c["factor"] > h["factor"]):
                rel = "capability faster"
            else:
                rel = "not separated"
            pairs.append({"hype": h["series"], "capability": c["series"], "relation": rel, "p_value": pval})
    details = {"hype": hype, "capability": cap, "pairs": pairs}
    if not pairs:
        raise Insufficient("no hype/capability pair has growth intervals (series need >= 3 points)", details)
    rels = [q["relation"] for q in pairs]
    verdict = SUPPORTED if all(r == "hype faster" for r in rels) else \
        NOT_SUPPORTED if "capability faster" in rels else INCONCLUSIVE
    gm = lambda gs: float(np.exp(np.mean([math.log(g["factor"]) for g in gs if usable(g)])))  # noqa: E731
    effect = gm(hype) / gm(cap)
    counts = {r: rels.count(r) for r in ("hype faster", "capability faster", "not separated")}
    return Outcome(verdict, ", ".join(f"{v} pair(s) {k}" for k, v in counts.items()), effect,
                   "hype / capability annual growth factor (geometric means)", None, p["level"],
                   None, len(pairs), details)


def _radf_one(ev: "Evidence", sid: str, p: Mapping[str, Any], start: str = "", end: str = "") -> dict:
    """GSADF of one series against its critical value, or why the series cannot be tested."""
    from bubblelens.analysis import timeseries
    from bubblelens.analysis.critical_values import load_or_compute_critical_values
    f = _numeric(_series(ev, sid))
    f = f[(f["date"] >= pd.Timestamp(start or "1000-01-01")) & (f["date"] <= pd.Timestamp(end or "3000-01-01"))]
    ok, why = timeseries.check_testable(f["date"])
    out: dict[str, Any] = {"series": sid, "n": len(f), "testable": ok, "reason": why}
    if not ok:
        return out
    res = timeseries.radf(pd.Series(f["v"].to_numpy(float), index=pd.DatetimeIndex(f["date"])),
                          p["min_window"] or None, p["lag"])
    cvs = load_or_compute_critical_values(res.n, res.min_window, res.lag, p["reps"], p["seed"])
    cv = float(cvs.value("gsadf", p["level"]))
    eps = timeseries.datestamp(res, cvs.sequence_for(res, p["level"]), p["min_duration"])
    day = lambda d: str(pd.Timestamp(d).date())                               # noqa: E731
    out.update(gsadf=res.gsadf, sadf=res.sadf, cv=cv, min_window=res.min_window, explosive=res.gsadf > cv,
               episodes=[{"start": day(e.start), "peak": day(e.peak), "end": day(e.end),
                          "duration": e.duration} for e in eps])
    return out


@register("explosive_roots",
          {"series": (list, REQUIRED), "reference": (str, ""), "reference_start": (str, ""),
           "reference_end": (str, ""), "episode_window": (list, []), "min_window": (int, 0), "lag": (int, 0),
           "reps": (int, 2000), "seed": (int, 123), "level": (float, 0.95), "min_duration": (int, 0)},
          series_params=("series", "reference"))
def explosive_roots(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """GSADF test of each series at `level`; the reference series (S&P 500 P/D) is the yardstick.

    Supported when any testable series' GSADF exceeds its critical value; not supported when at least
    one series is testable and none does; inconclusive when none is testable (too short, irregular).
    """
    details: dict[str, Any] = {"series": [_radf_one(ev, s, p) for s in p["series"]]}
    if p["reference"]:
        try:
            ref = _radf_one(ev, p["reference"], p, p["reference_start"], p["reference_end"])
        except Insufficient as exc:
            ref = {"series": p["reference"], "testable": False, "reason": str(exc)}
        if p["episode_window"] and ref.get("episodes") is not None:
            w0, w1 = p["episode_window"]
            ref["episodes_in_window"] = [e for e in ref["episodes"] if e["start"] <= w1 and e["end"] >= w0]
        details["reference"] = ref
    testable = [t for t in details["series"] if t["testable"]]
    if not testable:
        raise Insufficient("; ".join(f"{t['series']}: {t['reason']}" for t in details["series"]), details)
    best = max(testable, key=lambda t: t["gsadf"] - t["cv"])
    verdict = SUPPORTED if best["explosive"] else NOT_SUPPORTED
    return Outcome(verdict, f"{best['series']}: GSADF {best['gsadf']:.2f} vs {p['level']:.0%} critical value "
                   f"{best['cv']:.2f}", best["gsadf"], f"GSADF of {best['series']}", None, p["level"], None,
                   best["n"], details)


@register("after_peak_rise",
          {"phase_series": (str, REQUIRED), "peak_phase": (str, REQUIRED), "signals": (list, REQUIRED),
           "context": (list, []), "min_rise": (float, REQUIRED)},
          series_params=("phase_series", "signals", "context"))
def after_peak_rise(ev: "Evidence", p: Mapping[str, Any]) -> Outcome:
    """Did disillusionment signals rise after the hype peak? First vs last observation after the peak date.

    Supported when every signal with >= 2 post-peak values rose by >= min_rise (in its own unit, in the
    direction its metadata calls "more"); not supported when every one fell or stayed flat.
    """
    ph = _series(ev, p["phase_series"]).frame.sort_values("date", kind="stable")
    peak = ph[ph["value_text"] == p["peak_phase"]]
    if peak.empty:
        raise Insufficient(f"no '{p['peak_phase']}' row in {p['phase_series']}")
    t0 = peak["date"].iloc[0]
    details: dict[str, Any] = {"peak_date": str(t0.date()), "signals": [], "context": [],
                               "phases": [{"date": str(d.date()), "phase": v}
                                          for d, v in zip(ph["date"], ph["value_text"])]}
    for sid in p["signals"]:
        s = _series(ev, sid)
        f = _numeric(s)
        f = f[f["date"] > t0]
        row: dict[str, Any] = {"series": sid, "n_after_peak": len(f)}
        if len(f) >= 2:
            sign = -1.0 if getattr(s.meta, "direction", "up") == "down" else 1.0
            row.update(first_date=str(f["date"].iloc[0].date()), first=float(f["v"].iloc[0]),
                       last_date=str(f["date"].iloc[-1].date()), last=float(f["v"].iloc[-1]),
                       rise=sign * float(f["v"].iloc[-1] - f["v"].iloc[0]))
        details["signals"].append(row)
    for sid in p["context"]:
        f = _series(ev, sid).frame
        details["context"] += [{"series": sid, "label": r.get("label", ""), "date": str(r["date"].date()),
                                "value": fnum(r["value"]), "bound": r.get("bound", "")}
                               for r in f[f["date"] > t0].to_dict("records")]
    rows = [r for r in details["signals"] if "rise" in r]
    if not rows:
        raise Insufficient("no signal has 2 observations after the hype peak", details)
    rises = [r["rise"] for r in rows]
    verdict = SUPPORTED if min(rises) >= p["min_rise"] else NOT_SUPPORTED if max(rises) <= 0 else INCONCLUSIVE
    n = min(r["n_after_peak"] for r in rows)
    return Outcome(verdict, f"{rows[0]['series']} moved {rows[0]['first']:g} -> {rows[0]['last']:g} after the "
                   f"peak ({details['peak_date']}); n={n} observations after the peak: a before/after "
                   f"comparison, not a trend test", rises[0], f"rise of {rows[0]['series']} after the peak",
                   None, 0.95, None, n, details)
