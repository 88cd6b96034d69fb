"""Training loops on tiny CPU runs: real steps, determinism, resume == uninterrupted, failure events,
checkpoints loadable with weights_only=True, ensemble == one seed at a time."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from bubblelens.training import loop as T
from bubblelens.core.devices import resolve_device
from bubblelens.core.config import DCGANParams, MixtureParams, VAEParams
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.core.errors import UsageError
from bubblelens.models.dcgan import DCGANConfig, build
from bubblelens.training.dcgan import KERAS_ADAM, gan_step, train_dcgan
from bubblelens.training.mixture import train_mixture_seeds
from bubblelens.training.vae import train_vae

TINY_GAN = DCGANParams(width=0.0625, epochs=2, max_steps=0, batch_size=32, lr=2e-4, n_samples=40)
TINY_VAE = VAEParams(width=0.125, latent_dim=4, epochs=1, max_steps=0, batch_size=32, n_samples=40)
TINY_MIX = MixtureParams(steps=60, batch_size=32, lr=1e-3, g_hidden=16, d_hidden=16, n_samples=50)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_split(SHIPPED_IMAGES, "train", 96).images           # 3 steps per epoch at batch 32


def test_one_step_changes_weights_and_losses_finite():
    torch.manual_seed(0)
    g, d = build(DCGANConfig(width=0.0625))
    og = torch.optim.Adam(g.parameters(), lr=1e-3, **KERAS_ADAM)
    od = torch.optim.Adam(d.parameters(), lr=1e-3, **KERAS_ADAM)
    before = [p.detach().clone() for p in list(g.parameters()) + list(d.parameters())]
    losses = gan_step(g, d, og, od, torch.rand(8, 1, 28, 28) * 2 - 1, torch.randn(8, 100), amp=False)
    after = list(g.parameters()) + list(d.parameters())
    assert torch.isfinite(losses).all()
    assert all(not torch.equal(a, b) for a, b in zip(before, after))   # every tensor of both nets moved


def test_dcgan_run_record(images):
    r = train_dcgan(TINY_GAN, images, seed=0)
    assert r.model == "dcgan" and r.variant == "reference" and r.dataset == "fashion_mnist"
    assert r.history["step"] == list(range(1, 7))
    assert all(np.isfinite(r.history[k]).all() for k in ("d_loss", "g_loss"))
    assert r.samples.shape == (40, 28, 28) and r.samples.dtype == np.uint8
    c = r.compute
    assert c["steps"] == 6 and c["epochs"] == 2 and c["flops_total"] == 6 * c["flops_per_step"] > 0
    assert c["params"] == c["params_g"] + c["params_d"] and c["peak_mem_kind"] == "cpu_rss_block"
    assert c["mfu"] is None and "no sourced peak" in c["mfu_note"]          # a CPU has no sourced peak
    assert c["flops_sampling"] == c["flops_forward_per_sample"] * 2 * 40      # scored + batch-stat samples
    assert c["energy_j"] is None and c["device"] == "cpu"
    assert r.failure_events == []
    data = json.loads(json.dumps(r.to_json()))
    back = T.RunResult.from_parts(data, {"samples": r.samples})
    assert back.history == r.history and back.config == r.config and np.array_equal(back.samples, r.samples)


def test_partial_last_batch_is_counted_as_its_own_shape(images):
    """100 images at batch 32: three full steps and one of 4 per epoch; FLOPs are counted per shape."""
    r = train_dcgan(replace(TINY_GAN, epochs=1), load_split(SHIPPED_IMAGES, "train", 100).images, seed=0)
    c = r.compute
    assert c["steps_by_batch"] == {"32": 3, "4": 1}
    f32, f4 = c["flops_by_batch"]["32"], c["flops_by_batch"]["4"]
    assert f4 == pytest.approx(f32 * 4 / 32, rel=1e-9)                      # convolution FLOPs scale with batch
    assert c["flops_total"] == 3 * f32 + f4


def test_snapshots_do_not_change_the_run(images):
    plain = train_dcgan(TINY_GAN, images, seed=0)
    snapped = train_dcgan(replace(TINY_GAN, snapshot_fractions=(0.5,)), images, seed=0)
    np.testing.assert_array_equal(plain.samples, snapped.samples)
    assert snapped.extras["snap_3"].shape == (40, 28, 28) and "snap_3" not in plain.extras
    # sampling is not training compute, even when a snapshot falls on a step whose shape is being counted
    first = train_dcgan(replace(TINY_GAN, snapshot_fractions=(1 / 6,)), images, seed=0)
    assert "snap_1" in first.extras
    assert snapped.compute["flops_by_batch"] == first.compute["flops_by_batch"] == plain.compute["flops_by_batch"]


def test_dcgan_deterministic_on_cpu(images):
    a = train_dcgan(replace(TINY_GAN, epochs=1), images, seed=3)
    b = train_dcgan(replace(TINY_GAN, epochs=1), images, seed=3)
    c = train_dcgan(replace(TINY_GAN, epochs=1), images, seed=4)
    assert a.history == b.history and np.array_equal(a.samples, b.samples)
    assert a.history != c.history


def test_dcgan_resume_equals_uninterrupted(images, tmp_path):
    full = train_dcgan(TINY_GAN, images, seed=1)
    part = train_dcgan(replace(TINY_GAN, max_steps=4), images, seed=1, ckpt_dir=tmp_path)   # "interrupted"
    assert part.compute["steps"] == 4
    resumed = train_dcgan(TINY_GAN, images, seed=1, ckpt_dir=tmp_path)
    assert resumed.history == full.history
    assert np.array_equal(resumed.samples, full.samples)
    ckpt = torch.load(tmp_path / T.CKPT_NAME, weights_only=True)
    assert ckpt["step"] == 6 and ckpt["config"]["params"]["width"] == TINY_GAN.width
    assert {"g", "d", "opt_g", "opt_d", "rng", "history"} <= set(ckpt)


def test_checkpoint_for_other_run_is_ignored(images, tmp_path):
    train_dcgan(replace(TINY_GAN, max_steps=2), images, seed=1, ckpt_dir=tmp_path)
    other = train_dcgan(replace(TINY_GAN, max_steps=2, lr=1e-3), images, seed=1, ckpt_dir=tmp_path)
    fresh = train_dcgan(replace(TINY_GAN, max_steps=2, lr=1e-3), images, seed=1)
    assert other.history == fresh.history


def test_diverged_run_returns_events_not_exception(images):
    r = train_dcgan(replace(TINY_GAN, lr=100.0, epochs=10, max_steps=30), images, seed=0)
    kinds = {e["kind"] for e in r.failure_events}
    assert kinds & {T.EVENT_DIVERGENCE, T.EVENT_NON_FINITE, T.EVENT_D_OVERPOWERING}
    assert all(isinstance(e["step"], int) and e["detail"] for e in r.failure_events)


def test_vae_run_and_non_finite_stop(images):
    r = train_vae(TINY_VAE, images, images[:50], seed=0)
    assert set(r.history) == {"step", "loss", "recon", "kl"}
    np.testing.assert_allclose(np.array(r.history["loss"]), np.array(r.history["recon"]) + np.array(r.history["kl"]),
                               rtol=1e-5)
    assert r.extras["latent_mu"].shape == (50, 4) and r.extras["recon"].shape == (50, 28, 28)   # min(64, n_eval)
    assert r.samples.shape == (40, 28, 28)
    bad = train_vae(replace(TINY_VAE, lr=10.0, epochs=20), images, images[:50], seed=0)
    assert bad.failure_events[0]["kind"] == T.EVENT_NON_FINITE
    assert bad.compute["steps"] < 60                             # stopped early, no exception


def test_failure_monitor_detects_d_overpowering():
    n = 200
    hist = {"step": list(range(1, n + 1)), "d_loss": [0.01] * n, "g_loss": list(np.linspace(4, 9, n))}
    mon = T.FailureMonitor("gan", total_steps=n)
    mon.update(hist)
    assert [e["kind"] for e in mon.events] == [T.EVENT_D_OVERPOWERING]
    healthy = {"step": hist["step"], "d_loss": [1.2] * n, "g_loss": [0.8] * n}
    mon2 = T.FailureMonitor("gan", total_steps=n)
    mon2.update(healthy)
    assert mon2.events == [] and not mon2.stop


def test_mixture_ensemble_equals_loop_and_is_seed_local():
    ens = train_mixture_seeds(TINY_MIX, "ring8", "pacgan", (0, 1, 2))
    loop = train_mixture_seeds(TINY_MIX, "ring8", "pacgan", (0, 1, 2), ensemble=False)
    alone = train_mixture_seeds(TINY_MIX, "ring8", "pacgan", (2,))
    for a, b in zip(ens, loop):
        assert a.seed == b.seed and a.samples.shape == (50, 2) and a.samples.dtype == np.float32
        np.testing.assert_allclose(a.history["g_loss"], b.history["g_loss"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ens[2].samples, alone[0].samples, rtol=1e-4, atol=1e-4)
    assert not np.allclose(ens[0].samples, ens[1].samples)
    assert ens[0].compute["ensemble_size"] == 3 and ens[0].compute["params_d"] > 0


def test_mixture_member_that_fails_ends_its_record_and_the_others_train_on(monkeypatch):
    """A member whose losses turn non-finite stops at the sync where it was seen (step 50 of 60 here:
    syncs every CHECK_EVERY = 25 steps); the ensemble's other members keep every step."""
    import bubblelens.training.mixture as mixture

    real_step = mixture._Ensemble.step

    def step_with_member_1_failing(self, step):
        losses = real_step(self, step)
        if step >= 30:
            losses[1] = float("nan")
        return losses

    monkeypatch.setattr(mixture._Ensemble, "step", step_with_member_1_failing)
    runs = train_mixture_seeds(TINY_MIX, "ring8", "vanilla", (0, 1))
    assert runs[0].history["step"][-1] == 60 and runs[0].compute["steps"] == 60
    assert runs[1].history["step"][-1] == 50 and runs[1].compute["steps"] == 50
    assert [e["kind"] for e in runs[1].failure_events] == [T.EVENT_NON_FINITE]
    assert runs[1].failure_events[0]["step"] == 31
    assert np.isfinite(runs[0].history["d_loss"]).all()


def test_mixture_resume_after_a_crash_equals_uninterrupted(monkeypatch, tmp_path):
    """A crash at step 600 of 760 (checkpoints every 500, two data chunks of 250; the last chunk is a partial
    one of 10 steps): the rerun resumes at 500 and its results equal an uninterrupted run's exactly,
    including a member that failed before the checkpoint and the checkpoint samples taken before it.
    A checkpoint of other params is ignored."""
    import bubblelens.training.mixture as mixture

    params = replace(TINY_MIX, steps=760, eval_every=250, eval_samples=20)
    real_step = mixture._Ensemble.step
    calls = []

    def step(self, i, crash_at=None):
        if i == crash_at:
            raise RuntimeError("killed")
        calls.append(i)
        losses = real_step(self, i)
        if i >= 300:                                     # member 1 goes non-finite before the checkpoint at 500
            losses[1] = float("nan")
        return losses

    monkeypatch.setattr(mixture._Ensemble, "step", step)
    full = train_mixture_seeds(params, "ring8", "vanilla", (0, 1), save_every=500)
    monkeypatch.setattr(mixture._Ensemble, "step", lambda self, i: step(self, i, crash_at=600))
    with pytest.raises(RuntimeError, match="killed"):
        train_mixture_seeds(params, "ring8", "vanilla", (0, 1), ckpt_dir=tmp_path, save_every=500)
    ckpt = torch.load(tmp_path / "ensemble" / T.CKPT_NAME, weights_only=True)
    assert ckpt["step"] == 500 and ckpt["recorded"] == [500, 325]
    monkeypatch.setattr(mixture._Ensemble, "step", step)
    calls.clear()
    resumed = train_mixture_seeds(params, "ring8", "vanilla", (0, 1), ckpt_dir=tmp_path, save_every=500)
    assert calls == list(range(500, 760))
    for a, b in zip(full, resumed):
        assert a.history.keys() == b.history.keys() and a.failure_events == b.failure_events
        for k in a.history:                              # member 1's record holds NaNs: equal_nan
            np.testing.assert_array_equal(a.history[k], b.history[k])
        assert np.array_equal(a.samples, b.samples)
        assert np.array_equal(a.extras["checkpoint_samples"], b.extras["checkpoint_samples"])
        for k in ("steps", "steps_by_batch", "flops_total", "flops_per_step"):
            assert a.compute[k] == b.compute[k], k
    assert [e["kind"] for e in resumed[1].failure_events] == [T.EVENT_NON_FINITE]
    calls.clear()                                         # the checkpoint at 500 is still there (a crash left it)
    with pytest.raises(RuntimeError, match="killed"):
        monkeypatch.setattr(mixture._Ensemble, "step", lambda self, i: step(self, i, crash_at=600))
        train_mixture_seeds(params, "ring8", "vanilla", (0, 1), ckpt_dir=tmp_path, save_every=500)
    monkeypatch.setattr(mixture._Ensemble, "step", step)
    calls.clear()
    train_mixture_seeds(replace(params, lr=2e-3), "ring8", "vanilla", (0, 1), ckpt_dir=tmp_path, save_every=500)
    assert calls[0] == 0                                  # other params: a fresh start, not a resume
    with pytest.raises(ValueError, match="save_every"):
        train_mixture_seeds(params, "ring8", "vanilla", (0,), save_every=100)


def test_mixture_checkpoints_only_at_chunk_boundaries_before_the_end(tmp_path):
    """The ensemble runs through the shared step loop with save_at_end=False: a finished group leaves its last
    periodic checkpoint (step 250 of 260), not one at the end; its resume key drops only RESUME_FREE params."""
    params = replace(TINY_MIX, steps=260, eval_every=0)
    done = train_mixture_seeds(params, "ring8", "vanilla", (0, 1), ckpt_dir=tmp_path, save_every=250)
    ckpt = torch.load(tmp_path / "ensemble" / T.CKPT_NAME, weights_only=True)
    assert ckpt["step"] == 250 and ckpt["recorded"] == [250, 250] and ckpt["losses"].shape == (2, 250, 2)
    assert [r.compute["steps"] for r in done] == [260, 260]
    assert ckpt["resume_key"]["params"] == T.resume_params(params) and "n_samples" not in T.resume_params(params)


def test_mixture_bad_names():
    with pytest.raises(UsageError):
        train_mixture_seeds(TINY_MIX, "ring9", "vanilla", (0,))
    with pytest.raises(UsageError):
        train_mixture_seeds(TINY_MIX, "ring8", "wgan", (0,))


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="--device"):
            resolve_device("cuda")
    with pytest.raises(UsageError, match="--device"):
        resolve_device("tpu")


def test_downsample_history_bucket_means():
    n = 1234
    hist = {"step": list(range(1, n + 1)), "loss": [float(i) for i in range(n)]}
    out = T.downsample_history(hist)
    assert len(out["step"]) == T.HISTORY_POINTS and out["step"][-1] == n
    assert out["loss"][0] == pytest.approx(np.mean(range(0, 2)))      # first bucket: steps 1-2 (edges by rounding)
    assert T.downsample_history({"step": [1, 2], "loss": [0.5, 0.25]}) == {"step": [1, 2], "loss": [0.5, 0.25]}


def test_mixture_checkpoints_leave_the_training_trajectory_alone():
    from dataclasses import replace

    from bubblelens.core.config import MixtureParams
    from bubblelens.training.mixture import train_mixture_seeds
    from bubblelens.training.names import CHECKPOINT_SAMPLES

    base = MixtureParams(steps=60, batch_size=20, g_hidden=8, d_hidden=8, n_samples=30, eval_every=0)
    plain = train_mixture_seeds(base, "ring8", "vanilla", (0, 1))
    checked = train_mixture_seeds(replace(base, eval_every=20, eval_samples=50), "ring8", "vanilla", (0, 1))
    for a, b in zip(plain, checked):
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.history == b.history and a.compute["flops_total"] == b.compute["flops_total"]
        assert CHECKPOINT_SAMPLES not in a.extras and b.extras[CHECKPOINT_SAMPLES].shape == (3, 50, 2)
        assert b.config["checkpoint_steps"] == [20, 40, 60]


def test_standardised_mixture_trains_on_unit_scale_and_samples_in_data_units():
    from bubblelens.datasets.mixtures import mixture_scale, sample_mixture
    from bubblelens.models.mlp_gan import MLPGANConfig
    from bubblelens.training.mixture import _Ensemble

    # The closed-form scale equals the sample standard deviation of a large draw (to 0.5 %).
    big = sample_mixture("grid25", 200_000, np.random.default_rng(1))
    assert big.std(axis=0) == pytest.approx([mixture_scale("grid25")] * 2, rel=5e-3)
    params = replace(TINY_MIX, standardise=True)
    cfg = MLPGANConfig(g_hidden=TINY_MIX.g_hidden, d_hidden=TINY_MIX.d_hidden)
    raw, std = (_Ensemble(cfg, p, "grid25", (0,), "cpu") for p in (TINY_MIX, params))
    real_raw, _ = raw._batch(0)
    real_std, _ = std._batch(0)
    # The same draws, divided by the scale: what the networks see has unit spread.
    np.testing.assert_allclose(real_std.numpy() * mixture_scale("grid25"), real_raw.numpy(), rtol=1e-6)
    # Samples come back in the data's units: the same generator output, times the scale.
    np.testing.assert_allclose(std.samples(20), raw.samples(20) * mixture_scale("grid25"), rtol=1e-5)
