"""Compute to target: step intervals from checkpoints within a pair's common step budget, the symmetric
pair rule, the FLOPs-per-step ratio stated but not tested, each verdict from constructed evidence, and
reachability at the quick profile's 2 x 10 pairs. Compute returns: the fitted floor bounded below."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bubblelens.claims.cost_statistics import CHEAPER, COSTLIER, UNDETERMINED, needed, pair_direction
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, VERDICTS, Insufficient
from bubblelens.claims.engine import evaluate_claim
from bubblelens.claims.reachability import reachable
from bubblelens.claims.sweep_statistics import fit_saturating
from bubblelens.claims.statistics import KINDS

import pandas as pd

from test_claims import evidence, runs, spec


def test_needed_is_the_step_interval_between_checkpoints_within_the_common_budget():
    # checkpoints every 100 steps; the pair's common budget 1,000 steps
    assert needed(300, True, 100, 1000) == (200.0, 300.0)
    # reached at step 900 but the pair's common budget stops at step 500: not reached within it
    assert needed(900, True, 100, 500) == (500.0, math.inf)
    # never reached: more than the last checkpoint looked at
    assert needed(1000, False, 100, 1000) == (1000.0, math.inf)
    # a budget from a FLOPs quotient a hair below a whole number of steps still reaches its last checkpoint
    assert needed(1000, True, 100, 1.056e10 / 1.32e6 - 1e-9) == (900.0, 1000.0)


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
        groups += [("mlp_gan", "ring8", arm, "target_step", at),
                   ("mlp_gan", "ring8", arm, "reached_target", [reached] * n),
                   ("mlp_gan", "ring8", arm, "checkpoint_every", [500.0] * n),
                   ("mlp_gan", "ring8", arm, "flops_per_step", [f] * n),
                   ("mlp_gan", "ring8", arm, "flops_total", [8000 * f] * n)]
    return runs(*groups)


CLAIM = spec("compute_to_target", model="mlp_gan", datasets=["ring8"], treatment="pacgan")


def _outcome(base, treat, **kw):
    return KINDS["compute_to_target"].statistic(evidence(_runs(base, treat, **kw)), CLAIM.params)


def test_each_verdict_from_constructed_pairs():
    costlier = _outcome([1000.0] * 10, [4000.0] * 10)
    assert costlier.verdict == SUPPORTED and costlier.n == 10 and 0.5 < costlier.ci[0] < costlier.ci[1]
    assert _outcome([4000.0] * 10, [1000.0] * 10).verdict == NOT_SUPPORTED
    assert _outcome([2000.0] * 10, [1000.0, 4000.0] * 5).verdict == INCONCLUSIVE
    # the same checkpoint in both arms: the same steps, whatever PacGAN's steps cost -> undetermined
    with pytest.raises(Insufficient, match="10 of 10 undetermined"):
        _outcome([1000.0] * 10, [1000.0] * 10)
    with pytest.raises(Insufficient, match="undetermined"):      # never reached in either arm
        _outcome([8000.0] * 10, [8000.0] * 10, reached=0.0)


def test_reachable_at_ten_pairs_per_dataset_with_configured_budgets():
    claim = spec("compute_to_target", model="mlp_gan", datasets=["ring8", "grid25"], treatment="pacgan")
    ev = _runs([8000.0] * 10, [8000.0] * 10, reached=0.0)
    frames = [ev.assign(dataset=ds) for ds in ("ring8", "grid25")]
    assert set(reachable(KINDS[claim.statistic], claim.params, evidence(pd.concat(frames))).verdicts) == set(VERDICTS)
    few = _runs([8000.0] * 3, [8000.0] * 3, reached=0.0)
    assert reachable(KINDS[claim.statistic], claim.params, evidence(few)).verdicts == (INCONCLUSIVE,)


def test_ties_in_steps_are_undetermined_whatever_a_step_costs():
    """Both arms first at target at the same checkpoint in every seed, PacGAN's steps 1.32x the FLOPs: the
    old FLOPs rule called PacGAN costlier (its interval ((s-e) 1.32 f, s 1.32 f] lies above (.., s f] once
    s >= 4.125 e); in steps the pairs are ties, so no pair's order is known and the claim is inconclusive."""
    f = 1e6
    old_base = ((3500 - 500) * f, 3500 * f)
    old_treat = ((3500 - 500) * 1.32 * f, 3500 * 1.32 * f)
    assert pair_direction(old_base, old_treat) == COSTLIER                     # what the FLOPs rule said
    ev = evidence(_runs([3500.0] * 10, [3500.0] * 10))
    with pytest.raises(Insufficient, match=r"too few pairs .*n=0 < 6.*10 of 10 undetermined.*x1\.32") as exc:
        KINDS["compute_to_target"].statistic(ev, CLAIM.params)
    assert exc.value.details["determined"] == 0 and exc.value.details["costlier"] == 0
    assert exc.value.details["flops_per_step_ratio"] == pytest.approx(1.32)
    r = evaluate_claim(CLAIM, ev)
    assert r.verdict == INCONCLUSIVE and "too few pairs" in r.reason


def test_the_flops_per_step_ratio_is_stated_not_tested():
    out = _outcome([1000.0] * 10, [4000.0] * 10)
    assert out.details["flops_per_step_ratio"] == pytest.approx(1.32)
    assert out.details["per_dataset"]["ring8"]["flops_per_step_ratio"] == pytest.approx(1.32)
    assert "each pacgan step costs x1.32 the FLOPs of a vanilla step (a design fact, not part of the test)" \
        in out.reason
    assert "training steps" in out.effect_label and "training steps" in out.reason
    # the same steps at equal cost per step give the same verdict: the ratio does not enter it
    same = _outcome([1000.0] * 10, [4000.0] * 10, fps=(1e6, 1e6))
    assert (same.verdict, same.effect, same.ci) == (out.verdict, out.effect, out.ci)
    assert "x1 the FLOPs" in same.reason


def test_the_common_budget_is_the_smaller_step_count():
    """PacGAN trained 6,000 steps, vanilla 8,000: a vanilla run first at target at step 7,000 is past the
    common budget (not reached within it, > 6,000), so a PacGAN run at 1,000 needed fewer steps."""
    ev = _runs([7000.0] * 10, [1000.0] * 10)
    ev.loc[(ev["variant"] == "pacgan") & (ev["metric"] == "flops_total"), "value"] = 6000 * 1.32e6
    out = KINDS["compute_to_target"].statistic(evidence(ev), CLAIM.params)
    assert out.verdict == NOT_SUPPORTED and out.details["costlier"] == 0 and out.details["determined"] == 10
    # a vanilla run at 6,000 and a PacGAN run not at target by its last checkpoint (6,000): PacGAN needed more
    ev = _runs([6000.0] * 10, [6000.0] * 10)
    ev.loc[(ev["variant"] == "pacgan") & (ev["metric"] == "reached_target"), "value"] = 0.0
    ev.loc[(ev["variant"] == "pacgan") & (ev["metric"] == "flops_total"), "value"] = 6000 * 1.32e6
    assert KINDS["compute_to_target"].statistic(evidence(ev), CLAIM.params).verdict == SUPPORTED


# ------------------------------------------------------------------------------------ compute returns
NEARLY_STRAIGHT = (np.arange(5.0), 100 - 10 * np.arange(5.0) + np.array([0.5, -0.5, 0.5, -0.5, 0.5]))


def test_an_unbounded_floor_can_come_out_negative_and_floor_min_bounds_it():
    x, y = NEARLY_STRAIGHT
    floor, _, _ = fit_saturating(x, y)                                   # the old behaviour, by default
    assert floor < 0                                                      # an impossible FID floor
    bounded = fit_saturating(x, y, floor_min=0.0)
    assert bounded[0] >= 0
    fitted = bounded[0] + bounded[1] * np.exp(-bounded[2] * x)
    assert np.sqrt(np.mean((fitted - y) ** 2)) < 1.0                       # converged: a close fit still
    # a start below the bound is clipped into it (curve_fit refuses starts outside the bounds)
    assert fit_saturating(x, y - 95, floor_min=0.0)[0] >= 0


def test_compute_returns_reports_floors_at_or_above_floor_min_by_default():
    from test_claims import sweep_frame

    wiggle = [0.5, -0.5, 0.5, -0.5, 0.5]
    sweep = sweep_frame(lambda x, s: 100 - (10 + s) * x + wiggle[int(x)])
    claim = spec("compute_returns", "compute", model="dcgan")
    assert KINDS["compute_returns"].defaults["floor_min"] == 0.0
    r = evaluate_claim(claim, evidence(sweep=sweep, profile="full"))
    floors = [row["floor"] for row in r.details["series"]]
    assert len(floors) == 3 and all(f >= 0 for f in floors)
    assert r.details["floor_min"] == 0.0
    unbounded = evaluate_claim(spec("compute_returns", "compute", model="dcgan", floor_min=-math.inf),
                               evidence(sweep=sweep, profile="full"))
    assert min(row["floor"] for row in unbounded.details["series"]) < 0   # what the unbounded fit said
