"""Flow matching: the sampler against closed forms, FLOPs counted per NFE, the ensemble seed-local, the image
trainer resumable, and the NFE sweep's evaluation rows."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from bubblelens.core.config import FlowImageParams, FlowMixtureParams
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.models.flow import UNet, UNetConfig, VelocityMLP, VelocityMLPConfig, euler_sample, interpolate
from bubblelens.models.size import count_flops
from bubblelens.training import loop as T
from bubblelens.training.flow import sampling_flops, train_flow_images, train_flow_mixture_seeds
from bubblelens.training.names import CHECKPOINT_SAMPLES, FLOW_VARIANT, nfe_array

TINY_FLOW_MIX = FlowMixtureParams(hidden=16, x_freqs=2, steps=60, batch_size=32, lr=2e-3, nfe=(1, 4), n_samples=50,
                                  eval_every=20, eval_samples=30)
TINY_FLOW_IMG = FlowImageParams(channels=4, epochs=3, batch_size=16, lr=1e-3, nfe=(1, 2), n_samples=12,
                                snapshot_fractions=(0.5,), snapshot_nfe=1)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_straight_path_ends_at_noise_and_data():
    x0, x1 = torch.randn(5, 2), torch.randn(5, 2)
    at0, v = interpolate(x0, x1, torch.zeros(5))
    at1, _ = interpolate(x0, x1, torch.ones(5))
    assert torch.equal(at0, x0) and torch.allclose(at1, x1) and torch.allclose(v, x1 - x0)


@pytest.mark.parametrize("nfe", [1, 3, 16])
def test_euler_matches_closed_forms(nfe):
    """A constant field is integrated exactly at any NFE; dx/dt = x gives Euler's (1 + 1/N)^N, the
    textbook error of the method, not e (so the steps are the ones claimed, no more, no fewer)."""
    x0 = torch.randn(4, 2, dtype=torch.float64)
    c = torch.tensor([0.5, -2.0], dtype=torch.float64)
    const = euler_sample(lambda x, t: c.expand_as(x), x0, nfe, (4,))
    torch.testing.assert_close(const, x0 + c, rtol=0, atol=1e-12)
    growth = euler_sample(lambda x, t: x, x0, nfe, (4,))
    torch.testing.assert_close(growth, x0 * (1 + 1 / nfe) ** nfe, rtol=1e-12, atol=0)
    times = []
    euler_sample(lambda x, t: times.append(float(t[0])) or torch.zeros_like(x), x0, nfe, (4,))
    assert times == pytest.approx([k / nfe for k in range(nfe)])


def test_sampling_flops_are_counted_per_network_evaluation():
    for net, example in ((VelocityMLP(VelocityMLPConfig(hidden=16, x_freqs=2)), torch.zeros(1, 2)),
                         (UNet(UNetConfig(channels=4, groups=4)), torch.zeros(1, 1, 28, 28))):
        one, _ = count_flops(lambda: net(example, torch.zeros(1)))
        per_nfe = sampling_flops(net, example, (2, 8))
        assert one > 0 and per_nfe == {1: one, 2: 2 * one, 8: 8 * one}     # one evaluation always counted


def test_mixture_ensemble_is_seed_local_and_sweeps_nfe():
    ens = train_flow_mixture_seeds(TINY_FLOW_MIX, "ring8", (0, 1, 2))
    alone = train_flow_mixture_seeds(TINY_FLOW_MIX, "ring8", (2,))
    np.testing.assert_allclose(ens[2].history["loss"], alone[0].history["loss"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ens[2].samples, alone[0].samples, rtol=1e-3, atol=1e-4)
    assert not np.allclose(ens[0].samples, ens[1].samples)
    r = ens[0]
    assert (r.model, r.variant, r.samples.shape) == ("flow", FLOW_VARIANT, (50, 2))
    assert np.array_equal(r.samples, r.extras[nfe_array(4)]) and r.extras[nfe_array(1)].shape == (50, 2)
    assert r.extras[CHECKPOINT_SAMPLES].shape == (3, 30, 2) and r.config["checkpoint_steps"] == [20, 40, 60]
    by_nfe, c = r.compute["flops_per_sample_by_nfe"], r.compute
    # one network evaluation per sample, as for the one-pass generators; a scored sample costs NFE of them
    assert by_nfe == {"1": c["flops_forward_per_sample"], "4": 4 * c["flops_forward_per_sample"]}
    assert c["flops_per_sample_scored"] == by_nfe["4"] and c["flops_sampling"] == 50 * by_nfe["4"]
    assert r.compute["flops_total"] == 60 * r.compute["flops_per_step"] > 0


def test_lr_decays_linearly_to_zero():
    from bubblelens.training.flow import decay_lr
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    seen = []
    for step in (0, 25, 99):
        decay_lr(opt, 2e-3, step, 100)
        seen.append(opt.param_groups[0]["lr"])
    assert seen == pytest.approx([2e-3, 1.5e-3, 2e-5])


def test_logit_normal_times_follow_their_distribution_and_a_bad_name_is_a_usage_error():
    from scipy import stats

    from bubblelens.core.errors import UsageError
    from bubblelens.training.flow import draw_times

    t = draw_times(200_000, "logit_normal", torch.Generator().manual_seed(0), "cpu").numpy()
    # logit(t) ~ N(0, 1): Kolmogorov-Smirnov against the closed form (p > 0.001 for a correct sampler)
    assert stats.kstest(np.log(t / (1 - t)), "norm").pvalue > 1e-3
    u = draw_times(200_000, "uniform", torch.Generator().manual_seed(0), "cpu").numpy()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    with pytest.raises(UsageError, match="time_sampling"):
        FlowImageParams(time_sampling="cosine")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_split(SHIPPED_IMAGES, "train", 32).images           # 2 steps per epoch at batch 16


def test_image_flow_resume_after_a_crash_equals_uninterrupted(images, tmp_path):
    full = train_flow_images(TINY_FLOW_IMG, images, seed=1)

    def crash(step, total, values):
        if step == 4:
            raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        train_flow_images(TINY_FLOW_IMG, images, seed=1, ckpt_dir=tmp_path, progress=crash)
    assert torch.load(tmp_path / T.CKPT_NAME, weights_only=True)["step"] == 2
    resumed = train_flow_images(TINY_FLOW_IMG, images, seed=1, ckpt_dir=tmp_path)
    assert resumed.history == full.history
    assert resumed.extras.keys() == full.extras.keys() == {nfe_array(1), nfe_array(2), "snap_3"}
    for k in full.extras:
        assert np.array_equal(resumed.extras[k], full.extras[k])
    assert full.samples.shape == (12, 28, 28) and full.samples.dtype == np.uint8


def test_image_flow_checkpoint_of_another_length_is_not_resumed(images, tmp_path):
    """The learning rate decays over the run, so a checkpoint of a shorter run is not a prefix of this one."""
    train_flow_images(replace(TINY_FLOW_IMG, epochs=1), images, seed=1, ckpt_dir=tmp_path)
    again = train_flow_images(TINY_FLOW_IMG, images, seed=1, ckpt_dir=tmp_path)
    assert again.history == train_flow_images(TINY_FLOW_IMG, images, seed=1).history
    assert math.isclose(again.compute["epochs"], 3.0)
