"""CUDA path of the trainers (bf16 autocast, channels_last, data resident on the GPU): runs, stays finite,
records CUDA memory and MFU, and agrees in distribution with the CPU fp32 path. Skipped without CUDA.

The run records are checked by tests/run_records.py, which tests/unit/training/test_run_records.py also
runs on CPU records, so these checks read the keys the code writes even where no GPU is at hand."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from bubblelens.training import loop as T
from bubblelens.training.dcgan import train_dcgan
from bubblelens.training.mixture import train_mixture_seeds
from bubblelens.training.vae import train_vae
from bubblelens.core.config import DCGANParams, MixtureParams, VAEParams
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from run_records import DCGAN_EXTRAS, MIXTURE_EXTRAS, VAE_EXTRAS, check_run_record

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

GAN = DCGANParams(width=1.0, epochs=1, max_steps=40, batch_size=256, lr=1e-4, n_samples=512)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_split(SHIPPED_IMAGES, "train", 4096).images


def test_dcgan_cuda_reference_model(images, tmp_path):
    r = train_dcgan(GAN, images, seed=0, device="cuda", ckpt_dir=tmp_path)
    check_run_record(r, "cuda", peak_dtype="bf16", extras=DCGAN_EXTRAS, n_samples=512)   # MFU on H100/H200
    assert r.compute["params_g"] == 2_305_472 and r.compute["params_d"] == 212_865
    assert r.samples.shape == (512, 28, 28)
    # bf16 changes rounding, not the game: early losses stay near the CPU fp32 run's
    cpu = train_dcgan(replace(GAN, max_steps=10), images, seed=0, device="cpu")
    np.testing.assert_allclose(r.history["g_loss"][:10], cpu.history["g_loss"], rtol=0.1, atol=0.05)
    ckpt = torch.load(tmp_path / T.CKPT_NAME, weights_only=True)
    assert ckpt["step"] == 40


def test_dcgan_cuda_compiled(images):
    r = train_dcgan(replace(GAN, max_steps=30), images, seed=0, device="cuda", compile_model=True)
    assert np.isfinite(r.history["g_loss"]).all() and r.config["compiled"] is True


def test_vae_cuda(images):
    p = VAEParams(width=1.0, epochs=1, max_steps=50, batch_size=128, n_samples=256)
    r = train_vae(p, images, images[:500], seed=0, device="cuda")
    check_run_record(r, "cuda", peak_dtype="bf16", extras=VAE_EXTRAS, n_samples=256)
    assert r.history["loss"][-1] < r.history["loss"][0]
    assert r.extras["latent_mu"].shape == (500, 16)


def test_mixture_cuda_ensemble_matches_loop():
    p = MixtureParams(steps=100, batch_size=100, lr=1e-3, g_hidden=64, d_hidden=64, n_samples=200)
    ens = train_mixture_seeds(p, "grid25", "pacgan", (0, 1, 2), device="cuda")
    loop = train_mixture_seeds(p, "grid25", "pacgan", (0, 1, 2), device="cuda", ensemble=False)
    for a, b in zip(ens, loop):
        check_run_record(a, "cuda", peak_dtype="fp32", extras=MIXTURE_EXTRAS, n_samples=200)
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-2, atol=1e-2)   # TF32/cuBLAS batching
