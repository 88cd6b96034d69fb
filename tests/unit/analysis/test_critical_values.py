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
from bubblelens.analysis.critical_values import (LEVELS, SHIPPED_DIR, SHIPPED_N, critical_values, load_or_compute_critical_values,
                                        load_table, save_table, simulate_statistics, table_stem)
from bubblelens.analysis.timeseries import default_min_window

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


def test_save_load_roundtrip_is_exact(tmp_path):
    cv = critical_values(30, reps=50, seed=4, drift=1 / 30)
    path = save_table(cv, tmp_path)
    back = load_table(path)
    for f in ("adf", "sadf", "gsadf", "bsadf", "bsadf_cummax_badf", "obs"):
        np.testing.assert_array_equal(getattr(back, f), getattr(cv, f))
    assert (back.n, back.min_window, back.lag, back.reps, back.seed, back.drift) == (30, cv.min_window, 0, 50, 4, 1 / 30)
    loaded = load_or_compute_critical_values(30, None, 0, 50, 4, drift=1 / 30, table_dir=tmp_path)
    assert loaded.source.startswith("shipped")


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
