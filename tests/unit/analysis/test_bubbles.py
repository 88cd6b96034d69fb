"""The explosive-root test of one series: in logs the null walks carry the series' own drift, so steady
exponential growth is not called explosive (a driftless null rejects it about 30 % of the time at 38
points and drift/sd 0.6, 60 % at drift/sd 1, against a nominal 5 %), while accelerating growth still is."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bubblelens.analysis.bubbles import explosive_test, null_drift

QUARTERS = pd.date_range("2016-12-31", periods=38, freq="QE")


def _frame(log_y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"date": QUARTERS[:len(log_y)], "value": np.exp(log_y)})


def test_null_drift_is_mean_step_over_step_sd():
    y = np.cumsum([0.5, 1.5, 0.5, 1.5, 0.5])
    d = np.diff(y)
    assert null_drift(y) == round(d.mean() / d.std(ddof=1), 2)
    assert null_drift(np.ones(5)) == 0.0


def test_steady_exponential_growth_in_logs_is_rarely_explosive():
    rejections = 0
    for seed in range(60):
        log_y = np.cumsum(0.6 + np.random.default_rng(seed).standard_normal(38))   # drift / sd = 0.6
        t = explosive_test("s", _frame(log_y), "log", reps=400)
        rejections += t.cvs.p_value("gsadf", t.result.gsadf) < 0.05
    # measured: 3 of 60 (5 %); the driftless shipped null (n = 38) rejects 18 of the same 60 (30 %)
    assert rejections / 60 < 0.15


def test_accelerating_growth_in_logs_is_explosive():
    rng = np.random.default_rng(3)
    steps = 0.3 + 0.05 * rng.standard_normal(38)
    steps[25:] = 0.3 * 1.25 ** np.arange(1, 14) + 0.05 * rng.standard_normal(13)   # the growth rate grows
    t = explosive_test("s", _frame(np.cumsum(steps)), "log", reps=400)
    assert t.drift > 0 and t.cvs.p_value("gsadf", t.result.gsadf) < 0.05


def test_levels_keep_the_driftless_null():
    wiggle = 0.01 * np.sin(np.arange(38) * 2.1)               # no window regression fits exactly
    t = explosive_test("s", _frame(np.linspace(0, 3, 38) + wiggle), "levels", reps=400, need_draws=True)
    assert t.drift == 0.0 and t.cvs.drift == pytest.approx(0.0)
