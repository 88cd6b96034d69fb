"""Issue 21's claim machinery: the bootstrap window test of valuation ratios (explosive_window), growth
comparisons on the period both series cover, the dates each answer rests on, and the per-claim cache key.

The window kind is checked on series whose answer is known by construction: mean-reverting noise (never
explosive), the same noise with an explosive run inside the window (explosive), and a run that ends before
the window (not in the window). Bootstraps are small (99 replications) to keep the tests fast; the engine's
size and power are validated in tests/unit/analysis/test_explosive_bootstrap.py.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import signal

from bubblelens.claims.engine import evaluate_and_check, evaluate_claim, evidence_digest, result_from_json
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from bubblelens.claims.questions import Question, answer
from bubblelens.claims.reachability import reachable
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import ClaimError
from bubblelens.report.content import _currency

from test_claims import evidence, fake_series, growing, monthly, spec

N = 300
REPS = dict(reps=99, seed=7)


def calm(seed: int, n: int = N) -> np.ndarray:
    """Mean-reverting noise around 50 (AR(1), coefficient 0.5): as far from explosive as a series gets."""
    return 50.0 + signal.lfilter([1.0], [1.0, -0.5], np.random.default_rng(seed).standard_normal(n))


def with_run(y: np.ndarray, start: int, stop: int | None = None, root: float = 1.08) -> np.ndarray:
    """y with an explosive run from observation `start` (0-based) to `stop`: a kick of 2 above the level,
    then y_t - 50 = root (y_{t-1} - 50) + e_t, e_t ~ N(0, 0.25); after `stop` the series falls back."""
    y = y.copy()
    stop = len(y) if stop is None else stop
    shocks = 0.5 * np.random.default_rng(start).standard_normal(len(y))
    y[start - 1] += 2.0
    for t in range(start, stop):
        y[t] = 50.0 + root * (y[t - 1] - 50.0) + shocks[t]
    if stop < len(y):
        y[stop:] = y[stop:] - y[stop] + 50.0           # the collapse after the run
    return y


def window_claim(series, **params):
    ids = [s.meta.series_id for s in series]
    claim = spec("explosive_window", category="market", series=ids, **{**REPS, **params})
    return dataclasses.replace(claim, series=tuple(ids), metrics=()), evidence(series=series)


def test_calm_ratios_are_not_explosive_and_a_run_in_the_window_is():
    d = monthly(N, "1990-01-31")
    start = str(d[N - 40].date())
    claim, ev = window_claim([fake_series("a", d, calm(1)), fake_series("b", d, calm(2))], window_start=start)
    r = evaluate_claim(claim, ev)
    assert r.verdict == NOT_SUPPORTED and r.p_value >= 0.2
    t = r.details["series"][0]
    assert t["window"][0] == start and t["window"][1] == str(d[-1].date()) and len(t["bsadf"]) == 40
    assert r.evidence_window == [start, str(d[-1].date())]
    claim, ev = window_claim([fake_series("a", d, with_run(calm(1), N - 30)), fake_series("b", d, calm(2))],
                             window_start=start)
    r = evaluate_claim(claim, ev)
    rows = {t["series"]: t for t in r.details["series"]}
    assert r.verdict == SUPPORTED and rows["a"]["p_value"] == pytest.approx(1 / 100)
    assert rows["a"]["p_holm"] == pytest.approx(min(1.0, 2 * rows["a"]["p_value"]))   # Holm over two series
    assert rows["a"]["value"] > rows["a"]["cv95"] > rows["b"]["value"]


def test_a_run_before_the_window_is_not_in_it_but_the_yardstick_sees_it_without_deciding():
    d = monthly(N, "1990-01-31")
    y = with_run(calm(3), 150, 190)                       # explosive in observations 151-190, then over
    yard = [str(d[150].date()), str(d[195].date())]
    claim, ev = window_claim([fake_series("a", d, y)], window_start=str(d[N - 40].date()), yardstick_window=yard)
    r = evaluate_claim(claim, ev)
    t = r.details["series"][0]
    assert r.verdict == NOT_SUPPORTED
    assert t["yardstick"]["p_value"] < 0.05 and t["yardstick"]["window"] == yard
    assert t["yardstick"]["n"] == 196                    # the yardstick sees the data to its window's end only
    without = evaluate_claim(window_claim([fake_series("a", d, y)], window_start=str(d[N - 40].date()))[0], ev)
    assert without.verdict == r.verdict and without.p_value == r.p_value     # context never enters the verdict


def test_the_family_is_cut_at_the_newest_month_every_series_has():
    long, short = monthly(N, "1990-01-31"), monthly(N - 5, "1990-01-31")
    claim, ev = window_claim([fake_series("a", long, calm(4)), fake_series("b", short, calm(5, N - 5))],
                             window_start=str(long[N - 40].date()))
    r = evaluate_claim(claim, ev)
    assert {t["last"] for t in r.details["series"]} == {str(short[-1].date())}
    assert r.details["series"][0]["n"] == N - 5


def test_a_window_after_the_data_is_inconclusive_with_the_reason():
    d = monthly(N, "1990-01-31")
    claim, ev = window_claim([fake_series("a", d, calm(6))], window_start="2100-01-01")
    r = evaluate_claim(claim, ev)
    assert r.verdict == INCONCLUSIVE and "no observation falls in the window" in r.reason


def test_reachability_leaves_the_yardstick_out_and_reaches_every_verdict(monkeypatch):
    from bubblelens.claims import explosive_statistics

    d = monthly(N, "1990-01-31")
    claim, ev = window_claim([fake_series("a", d, calm(8)), fake_series("b", d, calm(9))],
                             window_start=str(d[N - 40].date()), yardstick_window=["1990-01-01", "2000-01-01"])
    seen = []
    real = explosive_statistics.window_tested
    monkeypatch.setattr(explosive_statistics, "window_tested",
                        lambda f, start, end, p: seen.append(end) or real(f, start, end, p))
    assert set(reachable(KINDS[claim.statistic], claim.params, ev).verdicts) == {SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE}
    assert seen and all(end is None for end in seen)      # only the verdict's own window was ever tested


# ------------------------------------------------------------------------------ common window, elasticity
def test_growth_comparison_fits_each_pair_on_the_period_both_cover():
    spend = growing("spend", 2.0, n=48)                                       # 2020-01 .. 2023-12
    cap = dataclasses.replace(growing("cap", 8.0, n=48), frame=growing("cap", 8.0, n=48).frame.iloc[12:])
    claim = spec("growth_comparison", category="market", pairs=[{"faster": "spend", "slower": "cap"}],
                 common_window=True)
    r = evaluate_claim(claim, evidence(series=[spend, cap]))
    pair = r.details["pairs"][0]
    first, last = str(cap.frame["date"].min().date()), str(spend.frame["date"].max().date())
    assert pair["window"] == [first, last] and pair["n_faster"] == pair["n_slower"] == 36
    assert r.verdict == NOT_SUPPORTED and pair["ratio"] < 1                   # capability outgrew spending
    assert pair["elasticity"] == pytest.approx(math.log(pair["factor_slower"]) / math.log(pair["factor_faster"]))
    assert pair["elasticity"] == pytest.approx(3.0, rel=0.05)                 # ln 8 / ln 2
    assert r.evidence_window == [first, last]
    apart = spec("growth_comparison", category="market", pairs=[{"faster": "spend", "slower": "cap"}])
    assert evaluate_claim(apart, evidence(series=[spend, cap])).details["pairs"][0]["n_faster"] == 48


# ------------------------------------------------------------------------------ currency of the answers
def test_each_answer_says_which_period_each_claim_covers_and_its_newest_date():
    spend, cap = growing("spend", 2.0, n=24), growing("cap", 8.0, n=24)
    market = spec("growth_comparison", category="market", pairs=[{"faster": "spend", "slower": "cap"}],
                  common_window=True)
    m = dataclasses.replace(evaluate_claim(market, evidence(series=[spend, cap])), claim_id="m")
    model = dataclasses.replace(evaluate_claim(spec("mean_below", metric="fid", model="dcgan",
                                                    dataset="fashion_mnist", bound=1.0), evidence()), claim_id="r")
    a = answer(Question("q", "Q?", ("r", "m"), {k: k for k in ("thesis", "against", "mixed", "open")}), [m, model])
    assert a.windows == (("r", None), ("m", ("2020-01-31", "2021-12-31")))
    assert a.evidence_through == "2021-12-31"
    text = _currency(a.to_json(), "quick")
    assert "m: 2020-01 to 2021-12" in text and "the quick runs of this build (r)" in text
    assert "newest market evidence 2021-12" in text


# ------------------------------------------------------------------------------ the per-claim cache
def test_cache_key_follows_the_claims_own_series_and_a_cached_result_is_relabelled_per_profile():
    d = monthly(N, "1990-01-31")
    claim, ev = window_claim([fake_series("a", d, calm(10))], window_start=str(d[N - 40].date()))
    other = fake_series("unrelated", d, calm(11))
    key = evidence_digest(claim, ev)
    ev2 = dataclasses.replace(ev, market=dataclasses.replace(ev.market, series={**ev.market.series, "unrelated": other}))
    assert evidence_digest(claim, ev2) == key                    # another series changed: same key
    edited = fake_series("a", d, calm(10) + np.r_[np.zeros(N - 1), 1.0])
    ev3 = dataclasses.replace(ev, market=dataclasses.replace(ev.market, series={"a": edited}))
    assert evidence_digest(claim, ev3) != key                    # its own series changed: recomputed
    assert evidence_digest(claim, dataclasses.replace(ev, profile="full")) == key   # market claims: any profile
    assert evidence_digest(claim, dataclasses.replace(ev, profile="smoke")) != key  # ... but smoke skips the odds
    r = evaluate_and_check(claim, ev)
    again = result_from_json(r.to_json(), claim, "smoke")
    assert again.verdict == r.verdict and again.reachable == r.reachable and again.ci == r.ci
    assert again.reachability == "decidable" == r.reachability


def test_the_memo_stores_clean_results_only_and_a_reworded_reading_shows(tmp_path, monkeypatch):
    import shutil

    from bubblelens.claims import engine
    from bubblelens.claims.kinds import Evidence
    from bubblelens.claims.reachability import RUN_COLS
    from bubblelens.claims.registry import load_registry
    from bubblelens.core.resources import DATA_DIR
    from bubblelens.market.load import load_market
    import pandas as pd
    from test_claims import DISILLUSION

    shutil.copytree(DATA_DIR / "market", tmp_path / "market")
    registry = tmp_path / "claims.toml"
    registry.write_text(DISILLUSION)
    ev = Evidence(pd.DataFrame(columns=RUN_COLS), pd.DataFrame(), load_market(tmp_path), "smoke")
    store: dict[str, dict] = {}

    def memo(spec, evidence, compute):              # a dictionary standing in for the stage cache
        key = spec.id + repr(sorted(evidence_digest(spec, evidence).items()))
        if key not in store:
            store[key] = compute().to_json()
        return result_from_json(store[key], spec, evidence.profile)

    (first,) = engine.evaluate_claims(registry, ev, memo=memo)
    assert first.verdict == SUPPORTED and len(store) == 1
    registry.write_text(DISILLUSION.replace('supported = "rose"', 'supported = "rose, reworded"'))
    (again,) = engine.evaluate_claims(registry, ev, memo=memo)
    assert again.reading == "rose, reworded" and len(store) == 1      # served from the memo, with today's text
    kind = KINDS["proportion_change"]
    monkeypatch.setitem(KINDS, "proportion_change", dataclasses.replace(kind, statistic=lambda ev, p: 1 / 0))
    store.clear()
    with pytest.raises(ClaimError, match="ZeroDivisionError"):         # a bug fails, and is never memoised
        engine.evaluate_claims(registry, ev, memo=memo)
    assert not store
    assert load_registry(registry, KINDS)[0].readings[SUPPORTED] == "rose, reworded"
