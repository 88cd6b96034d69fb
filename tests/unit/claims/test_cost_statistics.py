"""Compute to target: intervals from checkpoints within a pair's common budget, the symmetric pair rule,
each verdict from constructed evidence, and reachability at the quick profile's 2 x 10 pairs."""
from __future__ import annotations

import math

import pytest

from bubblelens.claims.cost_statistics import CHEAPER, COSTLIER, UNDETERMINED, needed, pair_direction
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, VERDICTS, Insufficient
from bubblelens.claims.reachability import reachable
from bubblelens.claims.statistics import KINDS

import pandas as pd

from test_claims import evidence, runs, spec


def test_needed_is_the_interval_between_checkpoints_within_the_common_budget():
    # checkpoints every 100 steps at 2 FLOPs per step; 1,000 steps done
    assert needed(300, True, 100, 1000, 2.0, common_budget=2000) == (400.0, 600.0)
    # reached at step 900 but the pair's common budget stops at step 500: not reached within it
    assert needed(900, True, 100, 1000, 2.0, common_budget=1000) == (1000.0, math.inf)
    # never reached: more than the last checkpoint looked at
    assert needed(1000, False, 100, 1000, 2.0, common_budget=1e9) == (2000.0, math.inf)


@pytest.mark.parametrize("base, treat, expected", [
    ((100, 200), (200, 300), COSTLIER), ((100, 200), (0, 100), CHEAPER), ((100, 200), (150, 250), UNDETERMINED),
    ((100, math.inf), (0, 100), CHEAPER), ((0, 100), (100, math.inf), COSTLIER),
    ((100, math.inf), (100, math.inf), UNDETERMINED)])
def test_pair_direction_is_symmetric_in_its_arms(base, treat, expected):
    assert pair_direction(base, treat) == expected
    mirror = {COSTLIER: CHEAPER, CHEAPER: COSTLIER, UNDETERMINED: UNDETERMINED}[expected]
    assert pair_direction(treat, base) == mirror


def _runs(steps_base: list[float], steps_treat: list[float], reached=1.0, fps=(1e6, 1.32e6)):
    """Vanilla and PacGAN on ring8: first checkpoint at target per seed; 8,000 steps, checkpoints every 500."""
    groups = []
    for arm, at, f in (("vanilla", steps_base, fps[0]), ("pacgan", steps_treat, fps[1])):
        n = len(at)
        groups += [("mlp_gan", "ring8", arm, "target_step", at), ("mlp_gan", "ring8", arm, "reached_target", [reached] * n),
                   ("mlp_gan", "ring8", arm, "checkpoint_every", [500.0] * n),
                   ("mlp_gan", "ring8", arm, "flops_per_step", [f] * n),
                   ("mlp_gan", "ring8", arm, "flops_total", [8000 * f] * n)]
    return runs(*groups)


CLAIM = spec("compute_to_target", model="mlp_gan", datasets=["ring8"], treatment="pacgan")


def _outcome(base, treat, **kw):
    return KINDS["compute_to_target"].fn(evidence(_runs(base, treat, **kw)), CLAIM.params)


def test_each_verdict_from_constructed_pairs():
    costlier = _outcome([1000.0] * 10, [4000.0] * 10)
    assert costlier.verdict == SUPPORTED and costlier.n == 10 and 0.5 < costlier.ci[0] < costlier.ci[1]
    assert _outcome([4000.0] * 10, [1000.0] * 10).verdict == NOT_SUPPORTED
    assert _outcome([2000.0] * 10, [1000.0, 4000.0] * 5).verdict == INCONCLUSIVE
    # the same checkpoint in both arms: PacGAN's steps cost more, but the intervals overlap -> undetermined
    with pytest.raises(Insufficient, match="10 of 10 undetermined"):
        _outcome([1000.0] * 10, [1000.0] * 10)
    with pytest.raises(Insufficient, match="undetermined"):      # never reached in either arm
        _outcome([8000.0] * 10, [8000.0] * 10, reached=0.0)


def test_reachable_at_ten_pairs_per_dataset_with_configured_budgets():
    claim = spec("compute_to_target", model="mlp_gan", datasets=["ring8", "grid25"], treatment="pacgan")
    ev = _runs([8000.0] * 10, [8000.0] * 10, reached=0.0)
    frames = [ev.assign(dataset=ds) for ds in ("ring8", "grid25")]
    assert set(reachable(claim.statistic, claim.params, evidence(pd.concat(frames))).verdicts) == set(VERDICTS)
    few = _runs([8000.0] * 3, [8000.0] * 3, reached=0.0)
    assert reachable(claim.statistic, claim.params, evidence(few)).verdicts == (INCONCLUSIVE,)
