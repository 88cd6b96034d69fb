"""Market-side claim kinds: each verdict reached on synthetic series, against closed forms where they exist.

growth_comparison: the Welch-Satterthwaite degrees of freedom written out from the two fits' standard
errors, Holm's step-down factor 2 for the smaller of two p-values, a falling price read as its reciprocal,
a random walk with drift wider than the HAC trend on persistent shocks, short pairs left out.
proportion_change: Newcombe's (1998) hybrid score interval (method 10) written out from Wilson intervals,
and the smallest significant first-wave n found by brute force. explosive_roots: steady growth is not
explosive in logs but is in levels, a window sees only the run inside it, Holm across series.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep

from bubblelens.claims.engine import evaluate_claim
from bubblelens.claims.explosive_statistics import band_verdict
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

from test_claims import evidence, fake_series, growing, monthly, spec


def evaluate(statistic: str, market, **params):
    """The claim kind applied through the engine (strict: a bug raises) to evidence of `market` series."""
    return evaluate_claim(spec(statistic, "market", **params), evidence(series=market))


# ------------------------------------------------------------------------------------ growth_comparison
ONE_PAIR = [{"faster": "h", "slower": "c"}]


@pytest.mark.parametrize("h, c, verdict", [
    (growing("h", 10.0), growing("c", 1.2), SUPPORTED),
    (growing("h", 1.2), growing("c", 10.0), NOT_SUPPORTED),
    (growing("h", 3.0, wiggle=0.4), growing("c", 3.0), INCONCLUSIVE),
    (growing("h", 3.0), fake_series("c", ["2022-01-31", "2023-01-31"], [1.0, 2.0]), INCONCLUSIVE)])
def test_growth_comparison_verdicts(h, c, verdict):
    r = evaluate("growth_comparison", [h, c], pairs=ONE_PAIR)
    assert r.verdict == verdict
    pair = r.details["pairs"][0]
    if len(c.frame) == 2:                      # two points (< min_points 3): left out, so no test
        assert pair.get("p_value") is None and "no pair has two growth fits" in r.reason
        assert pair["left_out"] == "c has 2 observation(s) in the window; each series needs >= 3"
    else:
        assert r.p_value == pytest.approx(pair["p_holm"]) and r.ci[0] < r.effect < r.ci[1]


def test_growth_comparison_welch_df_matches_the_formula():
    h, c = growing("h", 4.0, wiggle=0.4), growing("c", 2.0, wiggle=0.05)    # unequal standard errors
    r = evaluate("growth_comparison", [h, c], pairs=ONE_PAIR)
    fh, fc = r.details["series"]
    assert (fh["series"], fc["series"]) == ("h", "c") and fh["errors"] == fc["errors"] == "hac"
    va, vb = fh["se_log"] ** 2, fc["se_log"] ** 2
    df = (va + vb) ** 2 / (va ** 2 / fh["df"] + vb ** 2 / fc["df"])
    pair = r.details["pairs"][0]
    assert fh["df"] == fc["df"] == 10 and 10 < df < 20          # between one fit's df and their sum
    assert pair["df"] == pytest.approx(df, rel=1e-12)
    d, se = math.log(fh["factor"] / fc["factor"]), math.sqrt(va + vb)
    assert pair["ratio"] == pytest.approx(math.exp(d), rel=1e-12)
    assert pair["t"] == pytest.approx(d / se, rel=1e-12)
    assert pair["p_value"] == pytest.approx(2 * sps.t.sf(abs(d / se), df), rel=1e-9)
    half = sps.t.ppf(0.975, df) * se
    assert [pair["lo"], pair["hi"]] == pytest.approx([math.exp(d - half), math.exp(d + half)], rel=1e-12)


def test_growth_comparison_verdict_follows_the_holm_adjusted_p():
    near = [growing("h1", 4.5, wiggle=0.4), growing("c1", 3.0, wiggle=0.4)]   # raw p about 0.035
    alike = [growing("h2", 3.0, wiggle=0.4), growing("c2", 3.0)]              # p about 0.42
    pairs = [{"faster": "h1", "slower": "c1"}, {"faster": "h2", "slower": "c2"}]
    alone = evaluate("growth_comparison", near, pairs=pairs[:1])
    assert alone.verdict == SUPPORTED and 0.025 < alone.p_value < 0.05
    r = evaluate("growth_comparison", near + alike, pairs=pairs)
    p1, p2 = (q["p_value"] for q in r.details["pairs"])
    assert p1 == pytest.approx(alone.p_value) and p1 < 0.05 < p2        # significant before adjusting ...
    assert r.details["pairs"][0]["p_holm"] == pytest.approx(min(1.0, 2 * p1))
    assert r.details["pairs"][1]["p_holm"] == pytest.approx(max(2 * p1, p2))
    assert r.verdict == INCONCLUSIVE                                     # ... but not after


def test_growth_comparison_pairs_that_disagree_are_inconclusive():
    series = [growing("h1", 10.0), growing("c1", 1.2), growing("h2", 1.2), growing("c2", 10.0)]
    r = evaluate("growth_comparison", series, pairs=[{"faster": "h1", "slower": "c1"},
                                                     {"faster": "h2", "slower": "c2"}])
    assert [q["direction"] for q in r.details["pairs"]] == [1, -1]
    assert all(q["p_holm"] < 1e-6 for q in r.details["pairs"]) and r.verdict == INCONCLUSIVE


def test_growth_comparison_reads_a_falling_price_as_its_reciprocal():
    price = growing("c", 12.0, direction="down")         # falls 12x a year: capability per dollar rises 12x
    assert price.frame["value"].iloc[-1] < price.frame["value"].iloc[0]
    r = evaluate("growth_comparison", [price, growing("h", 3.0)], pairs=[{"faster": "c", "slower": "h"}])
    row = next(s for s in r.details["series"] if s["series"] == "c")
    assert row["reciprocal"] is True and row["factor"] == pytest.approx(12.0, rel=0.05)
    assert not next(s for s in r.details["series"] if s["series"] == "h")["reciprocal"]
    assert r.verdict == SUPPORTED and r.effect == pytest.approx(4.0, rel=0.05)


def test_growth_comparison_clusters_a_cross_section_by_year_and_fits_a_gapped_series_on_its_tail():
    years = np.repeat(np.arange(2016, 2022), 3)          # three models a year, six years, irregular days
    dates = [pd.Timestamp(f"{y}-01-01") + pd.Timedelta(days=int(d)) for y, d in zip(years, [20, 150, 300] * 6)]
    t = np.array([(d - dates[0]).days / 365.25 for d in dates])
    cost = fake_series("epoch_frontier_training_cost", dates, np.exp(0.9 * t + 0.3 * np.sin(7.0 * t)))
    gapped_dates = [*monthly(3, "2014-01-31"), *monthly(20, "2016-01-31")]       # a two-year early gap
    gapped = fake_series("g", gapped_dates, np.exp(np.arange(23) / 12 + 0.05 * np.sin(np.arange(23) * 2.1)))
    r = evaluate("growth_comparison", [gapped, cost], pairs=[{"faster": "g", "slower": "epoch_frontier_training_cost"}])
    rows = {s["series"]: s for s in r.details["series"]}
    assert rows["epoch_frontier_training_cost"]["errors"] == "cluster"
    assert rows["epoch_frontier_training_cost"]["df"] == 5                  # G - 1 calendar years
    assert rows["epoch_frontier_training_cost"]["n"] == 18
    assert rows["g"]["n"] == 20 and rows["g"]["first"] == "2016-01-31" and rows["g"]["errors"] == "hac"


def test_growth_comparison_random_walk_widens_the_interval_of_a_persistent_series():
    rng = np.random.default_rng(11)
    steps = np.log(3.0) / 12 + 0.08 * rng.standard_normal(36)       # monthly random walk, drift 3x a year
    h = fake_series("h", monthly(36), np.exp(np.cumsum(steps)))
    c = growing("c", 1.5, n=36)
    t = np.arange(36) / 12
    resid = np.log(h.frame["value"]) - np.polyval(np.polyfit(t, np.log(h.frame["value"]), 1), t)
    assert np.corrcoef(resid[:-1], resid[1:])[0, 1] > 0.7          # strongly autocorrelated around a trend
    trend = evaluate("growth_comparison", [h, c], pairs=ONE_PAIR)
    walk = evaluate("growth_comparison", [h, c], pairs=ONE_PAIR, random_walk=["h"])
    rows = {r["series"]: r for r in walk.details["series"]}
    assert rows["h"]["model"] == "random_walk" and rows["h"]["errors"] == "random walk with drift"
    assert rows["h"]["df"] == 34 and rows["c"]["model"] == "trend" and rows["c"]["errors"] == "hac"
    assert trend.details["series"][0]["model"] == "trend" and trend.details["series"][0]["errors"] == "hac"
    assert walk.details["pairs"][0]["model_faster"] == "random_walk"
    assert rows["h"]["se_log"] > 2 * trend.details["series"][0]["se_log"]
    assert walk.ci[1] / walk.ci[0] > trend.ci[1] / trend.ci[0]       # the pair's interval is wider


def test_growth_comparison_leaves_out_a_pair_below_min_points():
    short = fake_series("s", ["2020-03-31", "2020-06-30", "2020-09-30"], [1.0, 1.5, 2.0])
    pairs = [{"faster": "h", "slower": "c"}, {"faster": "h", "slower": "s"}]
    r = evaluate("growth_comparison", [growing("h", 10.0), growing("c", 1.2), short], pairs=pairs,
                 common_window=True, min_points=4)
    kept, out = r.details["pairs"]
    assert out["left_out"] == "s has 3 observation(s) in the window; each series needs >= 4"
    assert (out["n_faster"], out["n_slower"]) == (7, 3) and "p_holm" not in out and "ratio" not in out
    assert "left_out" not in kept and kept["p_holm"] == pytest.approx(kept["p_value"])    # a family of one
    assert r.verdict == SUPPORTED and {row["series"] for row in r.details["series"]} == {"h", "c"}
    none = evaluate("growth_comparison", [growing("h", 10.0), short], pairs=pairs[1:], min_points=4)
    assert none.verdict == INCONCLUSIVE and "h / s: s has 3 observation(s)" in none.reason
    default = evaluate("growth_comparison", [growing("h", 10.0), short], pairs=pairs[1:])   # min_points 3
    assert "left_out" not in default.details["pairs"][0] and default.p_value is not None


def test_growth_comparison_random_walk_needs_a_regular_declared_series(tmp_path):
    from bubblelens.analysis.growth import fit_series
    from bubblelens.claims.registry import loads_registry
    from bubblelens.claims.statistics import KINDS
    from bubblelens.core.errors import DataError

    gappy = fake_series("g", ["2020-01-31", "2020-02-29", "2020-09-30", "2020-10-31"], [1.0, 2.0, 3.0, 4.0])
    r = evaluate("growth_comparison", [growing("h", 3.0), gappy], pairs=[{"faster": "h", "slower": "g"}],
                 random_walk=["g"])
    assert r.verdict == INCONCLUSIVE and "needs equally spaced dates" in r.details["pairs"][0]["left_out"]
    with pytest.raises(ValueError, match="model must be one of"):
        fit_series(gappy, model="walk")
    text = """[[claim]]
id = "x"
category = "market"
statement = "s"
series = ["h", "c"]
statistic = "growth_comparison"
decision_rule = "r"
declared = 2026-01-01
known_when_declared = "k"
revisions = []
[claim.params]
pairs = [{ faster = "h", slower = "c" }]
random_walk = ["hh"]
[claim.reading]
supported = "s"
not_supported = "n"
inconclusive = "i"
"""
    with pytest.raises(DataError, match=r"field 'params.random_walk': 'hh' is not declared"):
        loads_registry(text, tmp_path / "claims.toml", KINDS, series_ids={"h", "c", "hh"})
    with pytest.raises(DataError, match=r"field 'params.pairs': 'x' is not declared in the claim's 'series' list"):
        loads_registry(text.replace('slower = "c"', 'slower = "x"'), tmp_path / "claims.toml", KINDS, {"h", "c", "x"})
    spec = loads_registry(text.replace('["hh"]', '["h"]'), tmp_path / "claims.toml", KINDS, {"h", "c"})[0]
    assert spec.params["random_walk"] == ["h"] and spec.params["min_points"] == 3


# ------------------------------------------------------------------------------------ proportion_change
WAVES = [{"when": "2024", "size_label": ""}, {"when": "2025", "size_label": "w2025"}]
PHASES = fake_series("phase", ["2023-07-01", "2024-07-01", "2025-07-01"], [None] * 3,
                     texts=["peak_of_inflated_expectations", "sliding_into_trough", "trough_of_disillusionment"])


def survey(first: float | None, last: float, n_first: float | None = None, n_last: float = 1006.0):
    """The signal (a share in % per wave, None = no value for that wave) and the wave sizes."""
    dates, values = zip(*[(d, v) for d, v in (("2024-07-01", first), ("2025-07-01", last)) if v is not None])
    sizes = [("2024-07-01", n_first, "w2024")] if n_first is not None else []
    sizes.append(("2025-07-01", n_last, "w2025"))
    return [fake_series("aband", dates, values),
            fake_series("sizes", [d for d, *_ in sizes], [n for _, n, _ in sizes], labels=[x for *_, x in sizes]),
            PHASES]


def change(series, waves=WAVES, **params):
    return evaluate("proportion_change", series, signal="aband", sizes="sizes", waves=waves,
                    assumed_min_n=params.pop("assumed_min_n", 100), **params)


def wilson(k: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for k successes in n."""
    p, den = k / n, 1 + z * z / n
    centre, half = (p + z * z / (2 * n)) / den, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return centre - half, centre + half


def newcombe(k1: float, n1: float, k2: float, n2: float, level: float = 0.95) -> tuple[float, float]:
    """Newcombe (1998) method 10, the hybrid score interval for p1 - p2: each proportion's Wilson interval
    (l_i, u_i), then d -/+ sqrt of the squared distances to the bounds on the side each one moves d."""
    z = sps.norm.ppf(0.5 + level / 2)
    (l1, u1), (l2, u2) = wilson(k1, n1, z), wilson(k2, n2, z)
    p1, p2 = k1 / n1, k2 / n2
    return p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2)


def test_statsmodels_newcomb_is_newcombes_method_10():
    for k1, n1, k2, n2 in ((423, 1006, 17, 100), (5, 40, 30, 31), (0, 12, 3, 50)):
        got = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=0.05)
        assert [float(x) for x in got] == pytest.approx(newcombe(k1, n1, k2, n2), abs=1e-12)


def test_proportion_change_rise_with_an_unknown_first_wave():
    r = change(survey(17, 42), phase_series="phase", peak_phase="peak_of_inflated_expectations")
    assert r.verdict == SUPPORTED and r.effect == pytest.approx(25.0)
    first, last = r.details["waves"]
    assert not first["n_known"] and first["n_used"] == 100 and last["n"] == 1006
    assert "n unknown, taken as 100" in r.reason and r.n == 100
    k_last = 0.42 * 1006                                  # counts as the kind forms them: share x n, unrounded
    assert list(r.ci) == pytest.approx([100 * x for x in newcombe(k_last, 1006, 17, 100)], abs=1e-9)
    brute = next(n for n in range(2, 1000) if newcombe(k_last, 1006, 0.17 * n, n)[0] > 0)
    assert r.details["smallest_significant_n"] == brute and brute <= 30
    assert r.details["peak_date"] == "2023-07-01" and r.details["both_after_peak"] is True


@pytest.mark.parametrize("first, last, n_first, verdict", [
    (42, 17, None, NOT_SUPPORTED), (30, 31, 100, INCONCLUSIVE), (17, 42, 100, SUPPORTED)])
def test_proportion_change_verdicts(first, last, n_first, verdict):
    waves = [{**WAVES[0], "size_label": "w2024" if n_first else ""}, WAVES[1]]
    r = change(survey(first, last, n_first), waves=waves)
    assert r.verdict == verdict
    n_used = n_first or 100
    k1, k0 = last / 100 * 1006, first / 100 * n_used
    assert list(r.ci) == pytest.approx([100 * x for x in newcombe(k1, 1006, k0, n_used)], abs=1e-9)
    assert ("smallest_significant_n" in r.details) == (n_first is None)     # only for an unknown n


def test_proportion_change_smallest_significant_n_of_a_fall_is_the_first_one():
    r = change(survey(42, 17))
    k1 = 0.17 * 1006         # unrounded counts keep significance monotone in n, so bisection finds the first
    brute = next(n for n in range(2, 1000) if newcombe(k1, 1006, 0.42 * n, n)[1] < 0)
    assert r.details["smallest_significant_n"] == brute


def test_proportion_change_missing_wave_is_inconclusive():
    r = change(survey(None, 42))
    assert r.verdict == INCONCLUSIVE and "'aband'" in r.reason and "2024" in r.reason
    r = change(survey(17, 42), waves=[WAVES[0], {"when": "2025", "size_label": "w2099"}])
    assert r.verdict == INCONCLUSIVE and "'sizes' has no wave labelled 'w2099'" in r.reason


# ------------------------------------------------------------------------------------ explosive_roots
REPS = dict(reps=200)                # simulated null tables of 200 random walks: fast, memoised per n


def explosive(market, ids, **params):
    return evaluate("explosive_roots", market, series=ids, **{**REPS, **params})


def drifting_walk(n: int = 40, seed: int = 21) -> pd.Series:
    """Steady exponential growth: log values a random walk with drift 0.05 and step sd 0.2 (here 18x).

    The drift is small next to the steps: the null tables are driftless random walks, and against them a
    walk whose drift is comparable to its step sd is called explosive far more often than 5 % of the time.
    """
    rng = np.random.default_rng(seed)
    return np.exp(np.cumsum(0.05 + 0.2 * rng.standard_normal(n))) * 100


def test_steady_exponential_growth_is_explosive_in_levels_not_in_logs():
    s = fake_series("x", monthly(40), drifting_walk())
    logs, levels = explosive([s], ["x"], scale="log"), explosive([s], ["x"], scale="levels")
    assert logs.verdict == NOT_SUPPORTED and logs.p_value >= 0.2
    assert levels.verdict == SUPPORTED and levels.p_value < 0.05
    d = logs.details["series"][0]
    assert d["statistic"] == "GSADF" and d["n"] == 40 and d["reps"] == 200 and d["min_window"] == 11
    assert d["p_holm"] == d["p_value"] == logs.p_value                   # one series: nothing to adjust


def test_accelerating_log_is_explosive():
    rng = np.random.default_rng(3)
    z = np.empty(40)
    z[0] = 1.0
    for t in range(1, 40):                 # log y_t = 1.06 log y_{t-1} + e_t: faster than exponential
        z[t] = 1.06 * z[t - 1] + 0.05 * rng.standard_normal()
    r = explosive([fake_series("x", monthly(40), np.exp(z))], ["x"], scale="log")
    assert r.verdict == SUPPORTED and r.p_value < 0.01


def run_then_collapse(n: int = 40) -> np.ndarray:
    """A random walk with an explosive run (root 1.08) over observations 15-24 and a collapse after it."""
    e = np.random.default_rng(0).standard_normal(n)
    y = np.empty(n)
    y[0] = 50.0
    for t in range(1, n):
        y[t] = 1.08 * y[t - 1] + e[t] if 14 <= t < 24 else (50.0 + e[t] if t == 24 else y[t - 1] + e[t])
    return y


def test_window_statistic_sees_only_the_run_inside_the_window():
    d = monthly(40)
    s = fake_series("x", d, run_then_collapse())
    over = [str(d[17].date()), str(d[25].date())]         # windows ending at observations 18-26
    after = [str(d[31].date()), str(d[39].date())]        # 32-40: the run is over
    inside = explosive([s], ["x"], scale="levels", window=over)
    later = explosive([s], ["x"], scale="levels", window=after)
    whole = explosive([s], ["x"], scale="levels")
    assert inside.verdict == SUPPORTED and later.verdict == NOT_SUPPORTED and whole.verdict == SUPPORTED
    a, b = inside.details["series"][0], later.details["series"][0]
    assert a["statistic"] == b["statistic"] == "sup BSADF in window" and a["window"] == over
    assert a["value"] > a["gsadf_cv"] > b["value"]
    assert a["gsadf"] == b["gsadf"] == whole.details["series"][0]["value"]   # same series, same GSADF
    assert a["episodes_in_window"] and not b["episodes_in_window"]


def test_a_series_with_an_early_gap_is_tested_on_its_regular_tail():
    early = pd.date_range("2014-03-31", periods=3, freq="QE")
    tail = pd.date_range("2016-12-31", periods=38, freq="QE")          # after a gap of two years
    y = 50 + np.cumsum(np.random.default_rng(5).standard_normal(41))
    r = explosive([fake_series("g", [*early, *tail], y)], ["g"], scale="levels")
    d = r.details["series"][0]
    assert d["testable"] and d["n"] == 38 and r.n == 38
    assert d["first"] == "2016-12-31" and d["last"] == str(tail[-1].date())


def test_too_short_a_series_is_inconclusive():
    r = explosive([fake_series("x", monthly(16), np.linspace(1, 2, 16))], ["x"], scale="log")
    assert r.verdict == INCONCLUSIVE and "insufficient data" in r.reason and "16 observations" in r.reason
    assert r.details["series"][0]["testable"] is False


def test_holm_across_series_and_untestable_series_leave_the_family():
    calm = fake_series("calm", monthly(40), 50 + np.cumsum(np.random.default_rng(1).standard_normal(40)))
    run = fake_series("run", monthly(40), run_then_collapse())
    r = explosive([calm, run], ["calm", "run"], scale="levels")
    rows = {t["series"]: t for t in r.details["series"]}
    small, large = sorted(rows.values(), key=lambda t: t["p_value"])
    assert small["series"] == "run" and small["p_holm"] == pytest.approx(min(1.0, 2 * small["p_value"]))
    assert large["p_holm"] == pytest.approx(min(1.0, max(2 * small["p_value"], large["p_value"])))
    assert r.p_value == small["p_holm"] and r.verdict == band_verdict([small["p_holm"], large["p_holm"]], 0.05, 0.2)
    short = fake_series("short", monthly(12), np.linspace(1, 2, 12))
    r = explosive([calm, short], ["calm", "short"], scale="levels")      # family of one: no adjustment
    rows = {t["series"]: t for t in r.details["series"]}
    assert rows["calm"]["p_holm"] == rows["calm"]["p_value"] and "p_holm" not in rows["short"]


@pytest.mark.parametrize("adjusted, verdict", [
    ([0.04, 0.9], SUPPORTED), ([0.2, 0.5], NOT_SUPPORTED), ([0.05, 0.6], INCONCLUSIVE), ([0.199, 1.0], INCONCLUSIVE)])
def test_band_verdict(adjusted, verdict):
    assert band_verdict(adjusted, 0.05, 0.2) == verdict
