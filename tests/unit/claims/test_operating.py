"""Operating characteristics: the simulated probability of each verdict against its closed form where one
exists (the Clopper-Pearson share of failing runs: a binomial sum over the counts whose interval lies
beyond the threshold), the settled rule, and every kind's alternatives on small evidence."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from bubblelens.analysis import stats
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, VERDICTS
from bubblelens.claims.operating import (OperatingCharacteristics, ScenarioResult, expit, logit, mirrored,
                                         operating_characteristics, shrunk_share)
from bubblelens.claims.statistics import KINDS

from test_claims import evidence, fake_series, growing, runs, spec

CHECK = {"model": "mlp_gan", "dataset": "ring8", "variant": "vanilla", "metric": "modes", "max": 8}


def exact_share_verdicts(n: int, share: float, threshold: float, level: float = 0.95) -> dict[str, float]:
    """P(verdict) of the share-of-failing-runs rule when each of n runs fails with probability `share`."""
    out = dict.fromkeys(VERDICTS, 0.0)
    for k in range(n + 1):
        cp = stats.clopper_pearson(k, n, level)
        v = SUPPORTED if cp["lo"] > threshold else NOT_SUPPORTED if cp["hi"] < threshold else INCONCLUSIVE
        out[v] += sps.binom.pmf(k, n, share)
    return out


@pytest.mark.parametrize("n, k, sims", [(20, 3, 1500), (12, 0, 600)])
def test_share_of_failing_runs_matches_the_binomial_closed_form(n, k, sims):
    claim = spec("share_of_runs_failing", checks=[CHECK], threshold=0.2)
    ev = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [7.0] * k + [8.0] * (n - k))))
    observed = KINDS[claim.statistic].statistic(ev, claim.params).verdict
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, observed, sims=sims)
    estimate = logit(shrunk_share(k, n))
    shares = {"as measured": expit(estimate), "mirrored": expit(mirrored(estimate, logit(0.2)))}
    for s in oc.scenarios:
        exact = exact_share_verdicts(n, shares[s.name], 0.2)
        for v in VERDICTS:
            se = math.sqrt(max(exact[v] * (1 - exact[v]), 1e-4) / sims)
            assert abs(s.probabilities[v] - exact[v]) < 4 * se, (s.name, v, s.probabilities[v], exact[v])


def _oc(probabilities: list[dict[str, float]], observed: str) -> OperatingCharacteristics:
    return OperatingCharacteristics(observed, "m", tuple(ScenarioResult(f"s{i}", "", p, 100)
                                                         for i, p in enumerate(probabilities)))


def test_settled_only_when_every_scenario_keeps_the_verdict_95_percent_of_the_time():
    keep = {SUPPORTED: 0.97, NOT_SUPPORTED: 0.01, INCONCLUSIVE: 0.02}
    flip = {SUPPORTED: 0.30, NOT_SUPPORTED: 0.60, INCONCLUSIVE: 0.10}
    assert _oc([keep, keep], SUPPORTED).settled
    assert not _oc([keep, flip], SUPPORTED).settled
    assert _oc([keep, flip], SUPPORTED).max_other == pytest.approx(0.70)
    assert not _oc([], SUPPORTED).settled                     # nothing simulated: nothing claimed
    back = OperatingCharacteristics.from_json(_oc([keep, flip], SUPPORTED).to_json())
    assert back.max_other == pytest.approx(0.70) and not back.settled


def test_mirror_reflects_across_a_threshold_or_a_band():
    assert mirrored(3.0, 1.0) == -1.0
    assert mirrored(-2.0, math.log(0.5), 0.0) == pytest.approx(2.0 + math.log(0.5))


def test_a_decisive_rule_on_a_large_effect_is_not_settled():
    """A verdict the mirrored truth would reverse is evidence, however large the effect measured."""
    claim = spec("mean_below", metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0)
    ev = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", [0.15, 0.17, 0.16])))
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, SUPPORTED, sims=100)
    assert oc.scenarios[0].probabilities[SUPPORTED] > 0.95
    assert oc.scenarios[1].probabilities[NOT_SUPPORTED] > 0.95 and not oc.settled


def test_seed_cv_at_its_threshold_rarely_decides():
    """A CV measured at the threshold sits at the edge: the rule is inconclusive most of the time."""
    claim = spec("seed_cv", metric="high_quality", model="mlp_gan", dataset="ring8", variant="vanilla",
                 threshold=0.05, min_n=10)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20)
    x = 0.6 * (1 + 0.05 * (x - x.mean()) / x.std(ddof=1))              # sample CV exactly 0.05
    ev = evidence(runs(("mlp_gan", "ring8", "vanilla", "high_quality", x.tolist())))
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, INCONCLUSIVE, sims=200)
    assert all(s.probabilities[INCONCLUSIVE] > 0.8 for s in oc.scenarios)


def test_growth_comparison_alternatives_reverse_the_verdict_when_mirrored():
    claim = spec("growth_comparison", category="market", pairs=[{"faster": "h", "slower": "c"}])
    ev = evidence(series=[growing("h", 3.0, n=30), growing("c", 1.5, n=20)])
    observed = KINDS[claim.statistic].statistic(ev, claim.params).verdict
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, observed, sims=30)
    assert observed == SUPPORTED
    assert oc.scenarios[0].probabilities[SUPPORTED] > 0.9 and oc.scenarios[1].probabilities[NOT_SUPPORTED] > 0.9


def test_proportion_change_alternatives_swap_the_waves():
    signal = fake_series("abandon", pd.to_datetime(["2024-07-01", "2025-07-01"]), [17.0, 42.0])
    sizes = fake_series("sizes", pd.to_datetime(["2025-07-01"]), [1006.0], labels=["w2025"])
    claim = spec("proportion_change", category="market", signal="abandon", sizes="sizes", assumed_min_n=100,
                 waves=[{"when": "2024", "size_label": ""}, {"when": "2025", "size_label": "w2025"}])
    ev = evidence(series=[signal, sizes])
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, SUPPORTED, sims=40)
    assert oc.scenarios[0].probabilities[SUPPORTED] == 1.0 and oc.scenarios[1].probabilities[NOT_SUPPORTED] == 1.0


def test_explosive_roots_have_a_null_and_an_acceleration():
    quarters = pd.date_range("2014-12-31", periods=40, freq="QE")
    z = np.concatenate([np.linspace(0, 2, 20), np.linspace(2.1, 6, 20)])     # growth that steps up halfway
    claim = spec("explosive_roots", category="market", series=["a"], scale="log", reps=200)
    ev = evidence(series=[fake_series("a", quarters, np.exp(z + 0.02 * np.sin(np.arange(40))))])
    observed = KINDS[claim.statistic].statistic(ev, claim.params).verdict
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, observed, sims=60)
    null, shift = oc.scenarios
    assert null.probabilities[SUPPORTED] < 0.2                   # about its size under the null
    assert shift.probabilities[SUPPORTED] > null.probabilities[SUPPORTED]


def test_every_kind_has_alternatives():
    assert all(callable(kind.alternatives) for kind in KINDS.values())


def test_unfittable_evidence_says_why_instead_of_guessing():
    claim = spec("share_of_runs_failing", checks=[CHECK], threshold=0.2)
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, evidence(runs()), INCONCLUSIVE)
    assert oc.unavailable.startswith("the evidence cannot be fitted") and not oc.settled


def test_same_verdict_per_scenario_is_replicability_then_the_other_side():
    keep = {SUPPORTED: 0.90, NOT_SUPPORTED: 0.02, INCONCLUSIVE: 0.08}
    flip = {SUPPORTED: 0.30, NOT_SUPPORTED: 0.60, INCONCLUSIVE: 0.10}
    oc = _oc([keep, flip], SUPPORTED)
    assert oc.same_per_scenario == pytest.approx((0.90, 0.30))
    js = oc.to_json()
    assert [s["same"] for s in js["scenarios"]] == pytest.approx([0.90, 0.30])
    assert js["mc_se_max"] == pytest.approx(0.05)                         # 100 draws: sqrt(1/4 / 100)


def test_compute_to_target_without_ties_matches_the_binomial_closed_form():
    """No undetermined pairs: each pair costlier with one true share, so the verdict is the Clopper-Pearson
    rule around one half on a binomial count, as for the share of failing runs."""
    from test_cost_statistics import CLAIM, _runs

    ev = evidence(_runs([1000.0] * 10, [4000.0] * 8 + [500.0] * 2))          # 8 of 10 costlier
    observed = KINDS[CLAIM.statistic].statistic(ev, CLAIM.params).verdict
    sims = 300
    oc = operating_characteristics("t", KINDS[CLAIM.statistic], CLAIM.params, ev, observed, sims=sims)
    estimate = logit(shrunk_share(8, 10))
    shares = {"as measured": expit(estimate), "mirrored": expit(mirrored(estimate, 0.0))}
    for s in oc.scenarios:
        exact = exact_share_verdicts(10, shares[s.name], 0.5)
        for v in VERDICTS:
            se = math.sqrt(max(exact[v] * (1 - exact[v]), 1e-4) / sims)
            assert abs(s.probabilities[v] - exact[v]) < 4 * se, (s.name, v, s.probabilities[v], exact[v])


def test_compute_returns_alternatives_move_the_ratio_both_ways():
    """Series whose gains shrink fast (ratio well below 0.5): supported as measured; mirrored across the band
    [0.5, 1] the gains grow, and the rule says not supported."""
    from test_claims import sweep_frame

    wiggle = [0.3, -0.3, 0.3, -0.3, 0.3]
    sweep = sweep_frame(lambda x, s: 20 + (60 + 5 * s) * math.exp(-1.2 * x) + wiggle[int(x)])
    claim = spec("compute_returns", "compute", model="dcgan")
    ev = evidence(sweep=sweep, profile="full")
    observed = KINDS[claim.statistic].statistic(ev, claim.params).verdict
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, observed, sims=20)
    assert observed == SUPPORTED
    measured, mirror = oc.scenarios
    assert measured.probabilities[SUPPORTED] > 0.8
    assert mirror.probabilities[SUPPORTED] < 0.2


def test_mean_below_with_one_comparator_seed_draws_around_its_value():
    """One comparator seed: the comparator stays at its value (no spread to draw), not at zero."""
    claim = spec("mean_below", metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0,
                 compare_model="dcgan")
    ev = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", [0.15, 0.17, 0.16]),
                       ("dcgan", "fashion_mnist", "reference", "laplacian_ratio", [0.9])))
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, SUPPORTED, sims=10)
    assert "dcgan as measured (0.9, sd 0)" in oc.scenarios[0].text


def test_growth_pairs_sharing_a_slower_series_have_no_mirror():
    claim = spec("growth_comparison", category="market", pairs=[{"faster": "h", "slower": "c"},
                                                                {"faster": "g", "slower": "c"}])
    ev = evidence(series=[growing("h", 3.0, n=30), growing("g", 2.5, n=30), growing("c", 1.5, n=20)])
    oc = operating_characteristics("t", KINDS[claim.statistic], claim.params, ev, SUPPORTED, sims=5)
    assert "share their slower series" in oc.unavailable
