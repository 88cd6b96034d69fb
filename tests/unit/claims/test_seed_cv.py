"""The seed_cv kind: each verdict at 10 seeds and threshold 5 %, an upper bound that does not exist, the
degenerate cases (identical seeds, non-positive mean), and the bootstrap methods the registry still names."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bubblelens.analysis.stats import cv_interval
from bubblelens.claims.engine import evaluate_claim
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Evidence
from bubblelens.claims.registry import ClaimSpec
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import ClaimError
from bubblelens.market.load import Market

RUN_COLS = ["model", "dataset", "variant", "seed", "metric", "value"]
# ten fixed "seeds", standardised to mean 0 and sd 1 so a group's CV is exactly the one asked for
Z = np.array([-1.3, -0.9, -0.5, -0.2, 0.0, 0.1, 0.4, 0.6, 0.8, 1.0])
Z = (Z - Z.mean()) / Z.std(ddof=1)


def fids(cv: float, mean: float = 30.0, z: np.ndarray = Z) -> list[float]:
    return list(mean * (1.0 + cv * z))


def evidence(values: list[float], model: str = "dcgan") -> Evidence:
    rows = [(model, "fashion_mnist", "reference", s, "fid", float(v)) for s, v in enumerate(values)]
    market = Market(series={}, sources={}, data_dir=Path("."))
    return Evidence(runs=pd.DataFrame(rows, columns=RUN_COLS), sweep=pd.DataFrame(), market=market,
                    profile="quick")


def spec(**params) -> ClaimSpec:
    base = {"metric": "fid", "model": "dcgan", "dataset": "fashion_mnist", "threshold": 0.05}
    full = {k: {**base, **params}.get(k, default) for k, default in KINDS["seed_cv"].defaults.items()}
    return ClaimSpec("gan-seed-sensitivity", "a statement", "models", "seed_cv", full, "rule",
                     {v: f"reading {v}" for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)}, ("fid",), ())


def run(values, **params):
    return evaluate_claim(spec(**params), evidence(values))


@pytest.mark.parametrize("cv, verdict", [(0.20, SUPPORTED), (0.01, NOT_SUPPORTED), (0.05, INCONCLUSIVE)])
def test_each_verdict_at_ten_seeds(cv, verdict):
    vals = fids(cv)
    r = run(vals)
    ref = cv_interval(vals, 0.95, "vangel")
    assert r.verdict == verdict and r.n == 10
    assert r.effect == pytest.approx(cv, rel=1e-12)
    assert r.ci == pytest.approx((ref["lo"], ref["hi"]), rel=1e-12)
    assert r.ci[0] < cv < r.ci[1] and r.ci[1] - r.ci[0] > 0
    assert r.details["method"] == "vangel" and r.details["upper_unbounded"] is False
    assert r.details["interval"] == pytest.approx(list(r.ci))
    # the decision follows the interval against the threshold
    assert (r.ci[0] > 0.05) == (verdict == SUPPORTED) and (r.ci[1] < 0.05) == (verdict == NOT_SUPPORTED)


def test_mckay_method_gives_its_own_interval():
    vals = fids(0.2)
    r = run(vals, method="mckay")
    ref = cv_interval(vals, 0.95, "mckay")
    assert r.verdict == SUPPORTED and r.details["method"] == "mckay"
    assert r.ci == pytest.approx((ref["lo"], ref["hi"]), rel=1e-12)


def test_unbounded_upper_can_support_but_never_refute():
    vals = [5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0, 40.0, 60.0]   # CV 0.98 at 10 seeds: no upper bound
    r = run(vals)
    assert r.details["upper_unbounded"] is True and math.isinf(r.ci[1]) and r.ci[0] > 0.05
    assert r.verdict == SUPPORTED and "unbounded" in r.reason
    assert r.to_json()["ci"][1] is None      # JSON has no infinity: null, with upper_unbounded saying why
    high = run(vals, threshold=0.9)          # lower bound (0.55) below the threshold, no upper bound: undecided
    assert high.verdict == INCONCLUSIVE and math.isinf(high.ci[1]) and high.ci[0] < 0.9


def test_identical_seeds_are_inconclusive_not_a_zero_width_interval():
    r = run([30.0] * 10)
    assert r.verdict == INCONCLUSIVE and r.ci is None
    assert "same fid" in r.reason and "no spread" in r.reason
    assert r.details["sd"] == 0.0


def test_non_positive_mean_is_inconclusive():
    r = run(fids(0.2, mean=-30.0))
    assert r.verdict == INCONCLUSIVE and r.ci is None and "<= 0" in r.reason


def test_too_few_seeds_is_inconclusive():
    r = run(fids(0.2)[:4])
    assert r.verdict == INCONCLUSIVE and r.reason == "too few seeds (n=4 < 5)"


def test_bootstrap_methods_still_accepted():
    # data/claims.toml still says method = "percentile"; reps and seed apply to the bootstrap only
    vals = fids(0.2)
    r = run(vals, method="percentile", reps=300, seed=1)
    assert r.verdict == SUPPORTED and r.details["method"] == "bootstrap-percentile"
    assert r.details["reps"] == 300 and r.details["seed"] == 1 and r.ci[0] < 0.2 < r.ci[1]
    assert run(vals, method="percentile", reps=300, seed=1).ci == r.ci           # seeded: reproducible
    assert run(vals, method="BCa", reps=300).details["method"] == "bootstrap-BCa"


def test_unknown_method_is_an_error():
    with pytest.raises(ClaimError, match="method must be one of"):
        run(fids(0.2), method="jackknife")
