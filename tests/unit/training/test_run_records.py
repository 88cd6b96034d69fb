"""The run-record checks the CUDA tests apply (tests/run_records.py), applied here to real CPU records of
tiny runs of each trainer: the same key set, with the CPU's values (block peak RSS, no energy, no MFU)."""
from __future__ import annotations

import numpy as np
import pytest

from bubblelens.core.config import DCGANParams, MixtureParams, VAEParams
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.training.compute import PEAK_MEM_CPU, PEAK_MEM_CUDA
from bubblelens.training.dcgan import train_dcgan
from bubblelens.training.mixture import train_mixture_seeds
from bubblelens.training.vae import train_vae
from run_records import (COMPUTE_KEYS, DCGAN_EXTRAS, MFU_NOTE, MIXTURE_EXTRAS, PEAK_MEM_KINDS, VAE_EXTRAS,
                         check_compute_record, check_run_record)

TINY_GAN = DCGANParams(width=0.0625, epochs=1, max_steps=0, batch_size=32, lr=2e-4, n_samples=40)
TINY_VAE = VAEParams(width=0.125, latent_dim=4, epochs=1, max_steps=0, batch_size=32, n_samples=40)
TINY_MIX = MixtureParams(steps=30, batch_size=32, lr=1e-3, g_hidden=16, d_hidden=16, n_samples=50)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_split(SHIPPED_IMAGES, "train", 96).images           # 3 steps per epoch at batch 32


@pytest.fixture(scope="module")
def dcgan_run(images, one_torch_thread):
    return train_dcgan(TINY_GAN, images, seed=0)


def test_dcgan_cpu_record(dcgan_run):
    r = dcgan_run
    check_run_record(r, "cpu", peak_dtype="bf16", extras=DCGAN_EXTRAS, n_samples=40)
    c = r.compute
    assert set(c) == COMPUTE_KEYS | DCGAN_EXTRAS | {MFU_NOTE}
    assert c["peak_mem_kind"] == PEAK_MEM_CPU and c["energy_j"] is None and c["mfu"] is None


def test_vae_cpu_record(images):
    r = train_vae(TINY_VAE, images, images[:50], seed=0)
    check_run_record(r, "cpu", peak_dtype="bf16", extras=VAE_EXTRAS, n_samples=40)


def test_mixture_cpu_records():
    for r in train_mixture_seeds(TINY_MIX, "ring8", "pacgan", (0, 1)):
        check_run_record(r, "cpu", peak_dtype="fp32", extras=MIXTURE_EXTRAS, n_samples=50)


def test_check_rejects_a_record_the_code_does_not_write(dcgan_run):
    """The checks fail on the drift the GPU test once had: a CUDA memory kind, a renamed MFU key."""
    good = dcgan_run.compute
    assert PEAK_MEM_CUDA not in PEAK_MEM_KINDS["cpu"]
    for bad in ({**good, "peak_mem_kind": PEAK_MEM_CUDA}, {**good, "mfu_bf16_h200": 0.4},
                {k: v for k, v in good.items() if k != "mfu"}):
        with pytest.raises(AssertionError):
            check_compute_record(bad, "cpu", peak_dtype="bf16", extras=DCGAN_EXTRAS)


@pytest.mark.parametrize("gpu, dtype, priced", [("NVIDIA H200", "bf16", True), ("NVIDIA H200", "fp32", False),
                                                ("NVIDIA H100 80GB HBM3", "fp32", True),
                                                ("NVIDIA A10G", "bf16", False)])
def test_check_accepts_the_cuda_record_the_code_writes(monkeypatch, gpu, dtype, priced):
    """Without a GPU: compute_record as the trainers call it on CUDA, under the name torch would report,
    passes the checks the GPU tests apply (MFU against the sourced peak where data/costs has one)."""
    import run_records

    from bubblelens.training import compute
    from bubblelens.training.costs import device_peak

    monkeypatch.setattr(compute, "device_name", lambda device: gpu)
    monkeypatch.setattr(run_records, "device_name", lambda device: gpu)
    ledger = compute.FlopLedger({"per_shape": {256: 10**11, 16: 10**11 // 16}, "steps": {256: 39, 16: 1}})
    meter = {"wall_s": 2.0, "peak_mem_bytes": 2**30, "peak_mem_kind": PEAK_MEM_CUDA, "energy_j": 500.0}
    peak = device_peak(gpu, dtype)
    assert (peak is not None) == priced
    rec = compute.compute_record(device="cuda", ledger=ledger, steps=40, wall_s=2.0, meter=meter, fwd_flops=10**8,
                                 n_generated=1024, params={"params": 3, "params_g": 2, "params_d": 1}, peak=peak,
                                 epochs=1.0)
    check_compute_record(rec, "cuda", peak_dtype=dtype, extras=DCGAN_EXTRAS)
    with pytest.raises(AssertionError):
        check_compute_record({**rec, "peak_mem_kind": PEAK_MEM_CPU}, "cuda", peak_dtype=dtype, extras=DCGAN_EXTRAS)
