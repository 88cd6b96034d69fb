"""bubblelens.analysis.critical_values: Monte Carlo tables against exuber's, determinism, shipped files.

Tolerance for the comparison with exuber's stored critical values (2,000 replications, seed 123): the
fraction of our R null draws above exuber's q-quantile estimates 1 - q with binomial variance
q(1-q)/R, and exuber's own quantile error adds about q(1-q)/2000 in probability terms. We allow 4 SD.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bubblelens.analysis import critical_values as cvmod
from bubblelens.analysis.critical_values import (DRAWS_N, LEVELS, SHIPPED_DIR, SHIPPED_N, TAIL_OBS, CriticalValues,
                                                 critical_values, load_or_compute_critical_values, load_table,
                                                 save_table, simulate_statistics, table_stem)
from bubblelens.analysis.timeseries import default_min_window, radf

DATA = Path(__file__).resolve().parents[2] / "data"
EXUBER_REPS = 2000
OUR_REPS = 800


def _within_mc_error(draws: np.ndarray, exuber_cv: float, level: float) -> tuple[bool, str]:
    frac = float(np.mean(draws > exuber_cv))
    sd = math.sqrt(level * (1 - level) * (1 / len(draws) + 1 / EXUBER_REPS))
    return abs(frac - (1 - level)) <= 4 * sd, f"P(stat > cv)={frac:.4f}, expected {1 - level:.2f} ± {4 * sd:.4f}"


@pytest.mark.parametrize("n", [24, 50, 100])
def test_scalar_critical_values_agree_with_exuber(n):
    row = pd.read_csv(DATA / "exuber_radf_crit_mc.csv").set_index("n").loc[n]
    minw = default_min_window(n)
    assert minw == row.minw
    draws = simulate_statistics(n, minw, 0, OUR_REPS, seed=1000 + n)
    for stat in ("adf", "sadf", "gsadf"):
        for level in LEVELS:
            ok, msg = _within_mc_error(draws[stat], row[f"{stat}_{round(level * 100)}"], level)
            assert ok, f"n={n} {stat} {level}: {msg}"


@pytest.mark.parametrize("n", [50, 100])
def test_exuber_bsadf_sequence_agrees_with_exuber(n):
    table = pd.read_csv(DATA / "exuber_radf_crit_bsadf_selected.csv")
    table = table[table.n == n].set_index("obs_index")
    minw = default_min_window(n)
    draws = simulate_statistics(n, minw, 0, OUR_REPS, seed=2000 + n)
    obs = np.arange(minw + 1, n + 1)
    np.testing.assert_array_equal(table.index.to_numpy(), obs)
    for t in obs[:: max(1, len(obs) // 6)]:
        for level in (0.90, 0.95):
            exuber_cv = table.loc[t, f"bsadf_{round(level * 100)}"]
            ok, msg = _within_mc_error(draws[cvmod.SEQ_EXUBER][:, t - obs[0]], exuber_cv, level)
            assert ok, f"n={n} obs={t} {level}: {msg}"


def test_sequences_are_consistent():
    cv = critical_values(40, reps=300, seed=3)
    m = 40 - cv.min_window
    assert cv.bsadf.shape == cv.bsadf_cummax_badf.shape == (m, 3) and len(cv.obs) == m
    # the first window is the only one ending there: BSADF = BADF = running max of BADF
    np.testing.assert_array_equal(cv.bsadf[0], cv.bsadf_cummax_badf[0])
    np.testing.assert_array_equal(cv.bsadf_cummax_badf[-1], cv.sadf)      # running max ends at SADF
    assert np.all(np.diff(cv.bsadf_cummax_badf, axis=0) >= -1e-12)        # quantiles of a running max
    assert np.all(np.diff(cv.gsadf) > 0) and np.all(cv.gsadf >= cv.sadf) and np.all(cv.sadf >= cv.adf)
    assert cv.value("gsadf", 0.95) == cv.gsadf[1] and np.array_equal(cv.sequence(0.99, "exuber"), cv.bsadf_cummax_badf[:, 2])
    with pytest.raises(ValueError):
        cv.value("gsadf", 0.5)


def test_seeded_and_independent_of_batch_size(monkeypatch):
    a = simulate_statistics(35, 10, 1, 40, seed=9)
    monkeypatch.setattr(cvmod, "BATCH", 7)
    b = simulate_statistics(35, 10, 1, 40, seed=9)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = simulate_statistics(35, 10, 1, 40, seed=10)
    assert not np.array_equal(a["gsadf"], c["gsadf"])


def _rounded(a: np.ndarray, fmt: str) -> np.ndarray:
    return np.vectorize(lambda v: float(fmt % v))(a)


def test_save_load_roundtrip_is_exact(tmp_path):
    cv = critical_values(30, reps=50, seed=4, drift=1 / 30)
    path = save_table(cv, tmp_path)
    back = load_table(path)
    for f in ("adf", "sadf", "gsadf", "bsadf", "bsadf_cummax_badf", "obs"):
        np.testing.assert_array_equal(getattr(back, f), getattr(cv, f))
    assert (back.n, back.min_window, back.lag, back.reps, back.seed, back.drift) == (30, cv.min_window, 0, 50, 4, 1 / 30)
    # draws and tail: exact to the written precision (%.10g and %.7g)
    assert set(back.draws) == {"adf", "sadf", "gsadf"}
    for stat in back.draws:
        np.testing.assert_array_equal(back.draws[stat], _rounded(cv.draws[stat], "%.10g"))
    np.testing.assert_array_equal(back.bsadf_tail, _rounded(cv.bsadf_tail, "%.7g"))
    np.testing.assert_array_equal(back.tail_obs, cv.obs[-min(len(cv.obs), TAIL_OBS):])
    assert json.loads(path.with_suffix(".json").read_text())["tail_obs"] == cv.bsadf_tail.shape[1]
    loaded = load_or_compute_critical_values(30, None, 0, 50, 4, drift=1 / 30, table_dir=tmp_path)
    assert loaded.source.startswith("shipped") and loaded.draws is not None


def test_tables_without_draws_load_and_need_draws_simulates(tmp_path):
    cv = critical_values(28, reps=40, seed=6)
    path = save_table(cv, tmp_path, with_draws=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.with_suffix(".json").name]
    assert "tail_obs" not in json.loads(path.with_suffix(".json").read_text())
    back = load_table(path)
    assert back.draws is None and back.bsadf_tail is None and len(back.tail_obs) == 0
    with pytest.raises(ValueError, match="no null draws"):
        back.p_value("gsadf", 1.0)
    assert load_or_compute_critical_values(28, reps=40, seed=6, table_dir=tmp_path).draws is None
    sim = load_or_compute_critical_values(28, reps=40, seed=6, table_dir=tmp_path, need_draws=True)
    assert sim.source == "computed" and sim.draws is not None
    np.testing.assert_array_equal(sim.gsadf, back.gsadf)               # the same seeded null


def test_p_value_of_null_quantile_is_its_level():
    cv = load_or_compute_critical_values(38)                             # shipped, with draws
    assert cv.source.startswith("shipped") and cv.draws is not None
    for stat in ("adf", "sadf", "gsadf"):
        p = cv.p_value(stat, cv.value(stat, 0.95))
        assert abs(p - 0.05) <= 0.01, (stat, p)
    assert abs(cv.p_value("gsadf", cv.value("gsadf", 0.99)) - 0.01) <= 0.005
    with pytest.raises(ValueError):
        cv.p_value("bsadf", 1.0)


def test_p_value_is_monotone_and_bounded():
    cv = critical_values(32, reps=200, seed=8)
    grid = np.linspace(-6, 8, 281)
    ps = np.array([cv.p_value("gsadf", x) for x in grid])
    assert np.all(np.diff(ps) <= 0) and ps[0] == 1.0 and ps[-1] == 1 / 201
    assert ps[0] > ps[-1]
    with pytest.raises(ValueError):
        cv.p_value("gsadf", float("nan"))


def test_window_p_value_random_walk_and_explosive_tail():
    n = 47
    cv = load_or_compute_critical_values(n, need_draws=True)
    assert cv.source.startswith("shipped") and cv.bsadf_tail.shape == (2000, n - cv.min_window)
    rng = np.random.default_rng(2024)
    walk = 10 + np.cumsum(rng.standard_normal(n))
    res = radf(walk)
    obs, p = cv.window_p_value(res, n - 9, n)
    assert 0 < p <= 1 and obs == res.bsadf[-10:].max()
    y = walk.copy()
    for t in range(n - 10, n):                                           # y_t = 1.08 y_{t-1}, last 10 obs
        y[t] = 1.08 * y[t - 1]
    res_x = radf(y)
    obs_x, p_x = cv.window_p_value(res_x, n - 9, n)
    assert p_x < 0.05 and obs_x > obs, (obs_x, p_x)


def test_window_p_value_covering_every_window_is_the_gsadf_p_value():
    cv = critical_values(40, reps=150, seed=12)                          # m = 29 <= TAIL_OBS: the tail is all
    res = radf(np.cumsum(np.random.default_rng(3).standard_normal(40)))
    obs, p = cv.window_p_value(res, int(res.obs[0]), 40)
    assert obs == res.gsadf and p == cv.p_value("gsadf", res.gsadf)
    single = cv.window_p_value(res, 40, 40)                              # one window: BSADF_n itself
    assert single == (res.bsadf[-1], (1 + np.sum(cv.bsadf_tail[:, -1] >= res.bsadf[-1])) / 151)


def test_window_p_value_rejects_windows_outside_the_tail_and_other_setups():
    n = 100
    cv = critical_values(n, reps=30, seed=5)                             # m = 81 > TAIL_OBS
    assert cv.bsadf_tail.shape == (30, TAIL_OBS) and list(cv.tail_obs) == list(range(n - TAIL_OBS + 1, n + 1))
    res = radf(np.cumsum(np.random.default_rng(0).standard_normal(n)))
    cv.window_p_value(res, n - TAIL_OBS + 1, n)                          # the whole tail is fine
    with pytest.raises(ValueError, match="not inside the shipped null tail"):
        cv.window_p_value(res, n - TAIL_OBS, n)
    with pytest.raises(ValueError, match="not inside"):
        cv.window_p_value(res, n - 5, n + 1)
    with pytest.raises(ValueError, match="after"):
        cv.window_p_value(res, n, n - 1)
    with pytest.raises(ValueError, match="n=101"):
        cv.window_p_value(radf(np.cumsum(np.random.default_rng(1).standard_normal(n + 1))), n - 5, n)
    ones = np.ones((len(cv.obs), 3))
    bare = CriticalValues(n, cv.min_window, 0, 10, 0, 0.0, np.ones(3), np.ones(3), np.ones(3), ones, ones, cv.obs)
    with pytest.raises(ValueError, match="no null BSADF tail"):
        bare.window_p_value(res, n - 5, n)


def test_load_or_compute_memoises_when_not_shipped():
    a = load_or_compute_critical_values(26, reps=60, seed=77)
    assert a.source == "computed" and a is load_or_compute_critical_values(26, reps=60, seed=77)


def test_shipped_tables_exist_and_regenerate_exactly():
    for n in SHIPPED_N:
        stem = table_stem(n, default_min_window(n), 0, cvmod.DEFAULT_REPS, cvmod.DEFAULT_SEED)
        meta = json.loads((SHIPPED_DIR / f"{stem}.json").read_text())
        assert meta["n"] == n and meta["reps"] == 2000 and meta["drift"] == 0.0 and "bubblelens_version" in meta
    shipped = load_or_compute_critical_values(24)
    assert shipped.source.startswith("shipped")
    fresh = critical_values(24)                                           # full 2,000 reps, well under 1 s
    for f in ("adf", "sadf", "gsadf", "bsadf", "bsadf_cummax_badf"):   # same numbers, up to rounding
        np.testing.assert_allclose(getattr(shipped, f), getattr(fresh, f), rtol=0, atol=1e-12)


def test_shipped_draws_belong_to_their_quantiles():
    for n in DRAWS_N:
        cv = load_or_compute_critical_values(n)
        assert cv.source.startswith("shipped") and cv.draws is not None, n
        k = min(len(cv.obs), TAIL_OBS)
        assert cv.bsadf_tail.shape == (cv.reps, k) and all(cv.draws[s].shape == (cv.reps,) for s in cv.draws)
        for stat in ("adf", "sadf", "gsadf"):                            # quantiles of the %.10g draws
            np.testing.assert_allclose(np.quantile(cv.draws[stat], LEVELS), getattr(cv, stat), rtol=0, atol=1e-8)
        np.testing.assert_allclose(np.quantile(cv.bsadf_tail, LEVELS, axis=0).T, cv.bsadf[-k:], rtol=0, atol=1e-6)


def test_shipped_psy_sample_table_carries_its_draws():
    cv = load_or_compute_critical_values(1680)
    assert cv.source.startswith("shipped") and cv.min_window == default_min_window(1680) == 90
    assert cv.bsadf_tail.shape == (2000, TAIL_OBS) and cv.draws["gsadf"].shape == (2000,)
    np.testing.assert_array_equal(cv.tail_obs, np.arange(1680 - TAIL_OBS + 1, 1681))
    assert np.all(np.isfinite(cv.gsadf)) and np.all(np.diff(cv.gsadf) > 0) and np.all(cv.gsadf >= cv.sadf)
