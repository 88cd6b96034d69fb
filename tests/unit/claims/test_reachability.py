"""Reachability: which verdicts each statistic kind can reach at given sizes, against closed forms where
they exist (Clopper-Pearson: 0 failures in n runs gives an upper bound 1 - (alpha/2)^(1/n), below 20 %
only from n = 17), and the design facts the probes must hold fixed (a configured FLOPs ratio)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bubblelens.claims.check import SMOKE_LABEL, ClaimCheck, check_claims, skeleton_evidence
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, VERDICTS, Params
from bubblelens.claims.reachability import Reachability, reachable, spread
from bubblelens.claims.statistics import KINDS
from bubblelens.core.config import profile_config

from test_claims import evidence, fake_series, growing, monthly, runs, spec

ALL = set(VERDICTS)


def reach(claim, ev) -> set[str]:
    return set(reachable(KINDS[claim.statistic], claim.params, ev).verdicts)


def test_every_claim_kind_is_registered_whole():
    """One record per kind: parameters, statistic, probe and alternatives (claims/kinds.py)."""
    for name, kind in KINDS.items():
        assert kind.name == name and issubclass(kind.params, Params), name
        assert callable(kind.statistic) and callable(kind.probe) and callable(kind.alternatives), name


def test_spread_is_standardised_and_not_a_trend():
    for n in (2, 3, 8, 17):
        z = spread(n)
        assert abs(z.mean()) < 1e-12 and abs(z.std(ddof=1) - 1) < 1e-12
        if n > 2:                                    # two points are a line whatever their order
            assert abs(np.corrcoef(z, np.arange(n))[0, 1]) < 0.5
    assert spread(1).tolist() == [0.0]


@pytest.mark.parametrize("n, expected", [(13, {SUPPORTED, INCONCLUSIVE}), (16, {SUPPORTED, INCONCLUSIVE}), (17, ALL)])
def test_share_failing_needs_17_runs_for_not_supported_at_20_percent(n, expected):
    claim = spec("share_of_runs_failing", checks=[{"model": "mlp_gan", "dataset": "ring8", "variant": "vanilla",
                                                    "metric": "modes", "max": 8}], threshold=0.2)
    ev = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [8.0] * n)))
    assert reach(claim, ev) == expected
    assert (1 - 0.025 ** (1 / n) < 0.2) == (NOT_SUPPORTED in expected)      # the closed form agrees


def test_mean_below_reaches_everything_at_three_seeds_and_nothing_at_one():
    claim = spec("mean_below", metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0,
                 compare_model="dcgan")
    three = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", [0.5] * 3),
                          ("dcgan", "fashion_mnist", "reference", "laplacian_ratio", [1.0] * 3)))
    one = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", [0.5]),
                        ("dcgan", "fashion_mnist", "reference", "laplacian_ratio", [1.0])))
    assert reach(claim, three) == ALL
    assert reach(claim, one) == {INCONCLUSIVE}


def test_seed_cv_below_its_minimum_seeds_is_settled():
    claim = spec("seed_cv", metric="fid", model="dcgan", dataset="fashion_mnist", threshold=0.05, min_n=5)
    assert reach(claim, evidence(runs(("dcgan", "fashion_mnist", "reference", "fid", [50.0] * 3)))) == {INCONCLUSIVE}


def _sweep(levels: int, seeds: int) -> pd.DataFrame:
    rows = [("dcgan", 0.25, 2 ** k, s, 1e12 * 2 ** k, np.nan) for k in range(levels) for s in range(seeds)]
    return pd.DataFrame(rows, columns=["model", "width", "epochs", "seed", "flops_total", "fid"])


def test_compute_returns_needs_a_sweep_of_enough_series():
    claim = spec("compute_returns", model="dcgan")
    assert reach(claim, evidence()) == {INCONCLUSIVE}
    assert reach(claim, evidence(sweep=_sweep(5, 3))) == ALL           # the quick profile's snapshots
    assert reach(claim, evidence(sweep=_sweep(5, 2))) == {INCONCLUSIVE}   # fewer series than min_series
    assert reach(claim, evidence(sweep=_sweep(2, 3))) == {INCONCLUSIVE}   # too few levels per series


def test_probes_keep_the_configured_flops_budgets():
    """FLOPs per step and budgets of fixed-length runs are set by the configuration: kept in every scenario."""

    claim = spec("compute_to_target", model="mlp_gan", datasets=["ring8"], treatment="pacgan")
    real = runs(("mlp_gan", "ring8", "vanilla", "flops_total", [8e9] * 6),
                ("mlp_gan", "ring8", "vanilla", "flops_per_step", [1e6] * 6),
                ("mlp_gan", "ring8", "pacgan", "flops_total", [1.056e10] * 6),
                ("mlp_gan", "ring8", "pacgan", "flops_per_step", [1.32e6] * 6))
    for scenario in KINDS["compute_to_target"].probe(evidence(real), claim.params):
        r = scenario.runs
        fps = r[r["metric"] == "flops_per_step"].groupby("variant")["value"].unique()
        assert fps["vanilla"].tolist() == [1e6] and fps["pacgan"].tolist() == [1.32e6]
        steps = r[r["metric"] == "target_step"]
        assert (steps["value"] <= 8000).all() and (steps["value"] > 0).all()


def test_growth_comparison_with_two_pairs_reaches_every_verdict():
    claim = spec("growth_comparison", category="market", pairs=[{"faster": "h0", "slower": "c"},
                                                                  {"faster": "h1", "slower": "c"}])
    series = [growing("h0", 2.0), growing("h1", 3.0, n=30), growing("c", 1.5, n=20)]
    assert reach(claim, evidence(series=series)) == ALL
    two_points = fake_series("c", monthly(2), [1.0, 2.0])            # no standard error: no test
    assert reach(claim, evidence(series=[*series[:2], two_points])) == {INCONCLUSIVE}


QUARTERS = pd.date_range("2016-12-31", periods=38, freq="QE")       # NVIDIA data centre after its gap


@pytest.mark.parametrize("params", [dict(scale="log"), dict(scale="log", window=["2024-01-01", "2026-03-31"])])
def test_explosive_roots_at_38_quarters_reaches_every_verdict(params):
    claim = spec("explosive_roots", category="market", series=["a", "b"], reps=200, **params)
    series = [fake_series("a", QUARTERS, np.linspace(1, 2, 38)), fake_series("b", QUARTERS, np.linspace(1, 3, 38))]
    assert reach(claim, evidence(series=series)) == ALL


def test_explosive_roots_on_a_12_point_series_is_settled_inconclusive():
    claim = spec("explosive_roots", category="market", series=["a"], scale="log", reps=200)
    assert reach(claim, evidence(series=[fake_series("a", monthly(12), np.linspace(1, 2, 12))])) == {INCONCLUSIVE}


def test_proportion_change_with_two_waves_reaches_every_verdict():
    signal = fake_series("abandon", pd.to_datetime(["2024-07-01", "2025-07-01"]), [17.0, 42.0])
    sizes = fake_series("sizes", pd.to_datetime(["2025-07-01"]), [1006.0], labels=["w2025"])
    claim = spec("proportion_change", category="market", signal="abandon", sizes="sizes", assumed_min_n=100,
                 waves=[{"when": "2024", "size_label": ""}, {"when": "2025", "size_label": "w2025"}])
    assert reach(claim, evidence(series=[signal, sizes])) == ALL
    one_wave = fake_series("abandon", pd.to_datetime(["2025-07-01"]), [42.0])
    assert reach(claim, evidence(series=[one_wave, sizes])) == {INCONCLUSIVE}


def test_check_fails_in_quick_and_full_and_labels_smoke():
    settled = Reachability((INCONCLUSIVE,), 3)
    assert ClaimCheck("c", settled, "quick").fails and ClaimCheck("c", settled, "full").fails
    smoke = ClaimCheck("c", settled, "smoke")
    assert not smoke.fails and smoke.status == SMOKE_LABEL
    assert not ClaimCheck("c", Reachability(tuple(VERDICTS), 3), "quick").fails


def test_a_build_names_the_undecidable_claims_only_in_quick_and_full():
    from types import SimpleNamespace

    from bubblelens.claims.check import SETTLED_LABEL
    from bubblelens.claims.engine import undecidable_claims

    results = [SimpleNamespace(claim_id="a", reachability="decidable", reachable=list(VERDICTS), n=20),
               SimpleNamespace(claim_id="b", reachability=SETTLED_LABEL, reachable=[SUPPORTED, INCONCLUSIVE], n=16)]
    expected = ["b cannot reach not supported with the n = 16 in hand"]
    assert undecidable_claims(results, "quick") == expected and undecidable_claims(results, "full") == expected
    smoke = [SimpleNamespace(claim_id="b", reachability=SMOKE_LABEL, reachable=[INCONCLUSIVE], n=1)]
    assert undecidable_claims(smoke, "smoke") == []
    assert ClaimCheck("b", Reachability((INCONCLUSIVE,), 3), "quick").status == SETTLED_LABEL


def test_skeleton_has_the_profiles_groups_and_seeds():
    cfg = profile_config("quick")
    ev = skeleton_evidence(cfg, None)
    mix = ev.runs[ev.runs["model"] == "mlp_gan"]
    assert mix["seed"].nunique() == len(cfg.seeds_mixture)
    assert set(mix["variant"]) == set(cfg.mixture.variants)
    assert set(ev.runs.loc[ev.runs["model"] == "dcgan", "seed"]) == set(cfg.seeds_image)
    claim = spec("mean_below", metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0)
    assert [c.reach.decidable for c in check_claims([claim], ev)] == [True]


def test_only_runs_above_the_floor_count_and_set_the_sample_size():
    claim = spec("share_of_runs_failing", checks=[{"model": "mlp_gan", "dataset": "grid25", "variant": "vanilla",
                                                    "metric": "modes", "max": 25}], threshold=0.2,
                 min_high_quality=0.5)
    # 20 runs, of which 12 reached a high-quality share of 0.5: only 12 count, too few for "not supported"
    ev = evidence(runs(("mlp_gan", "grid25", "vanilla", "modes", [3.0] * 8 + [25.0] * 12),
                       ("mlp_gan", "grid25", "vanilla", "high_quality", [0.1] * 8 + [0.7] * 12)))
    out = KINDS["share_of_runs_failing"].statistic(ev, claim.params)
    assert out.n == 12 and out.details["k"] == 0 and out.details["not_converged"] == 8
    assert "8 below the high-quality floor of 0.5 left out" in out.reason
    assert reach(claim, ev) == {SUPPORTED, INCONCLUSIVE}
    all_learned = evidence(runs(("mlp_gan", "grid25", "vanilla", "modes", [25.0] * 20),
                                ("mlp_gan", "grid25", "vanilla", "high_quality", [0.7] * 20)))
    assert reach(claim, all_learned) == ALL


def test_mean_below_paired_by_seed_reaches_everything_at_three_seeds():
    claim = spec("mean_below", metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0,
                 compare_model="dcgan", paired=True)
    three = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", [0.5] * 3),
                          ("dcgan", "fashion_mnist", "reference", "laplacian_ratio", [1.0] * 3)))
    assert reach(claim, three) == ALL
