"""The compiled sampler (training/sampling.py) against the eager U-Net it replaces, and its fallbacks."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from bubblelens.core.config import FlowImageParams
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.models.flow import UNet, UNetConfig, euler_sample
from bubblelens.training import flow, sampling
from bubblelens.training.flow import generate, train_flow_images
from bubblelens.training.loop import to_uint8_images


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return UNet(UNetConfig(channels=4))


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler for Inductor")
def test_a_compiled_sweep_equals_the_eager_one_within_float_rounding(unet):
    x0 = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    velocity, backend = sampling.sampling_velocity(unet, math.inf, "cpu", x0)
    assert backend == sampling.COMPILED and velocity is not unet
    unet.eval()
    eager = euler_sample(unet, x0, 8, (len(x0),))
    compiled = euler_sample(velocity, x0, 8, (len(x0),))
    # Stated tolerance: 1e-4 absolute after 8 Euler steps (measured about 1e-5 at 16 channels); as images,
    # a pixel moves by at most one level and almost none moves at all.
    assert torch.allclose(compiled, eager, rtol=0, atol=1e-4), (compiled - eager).abs().max()
    levels = (torch.from_numpy(to_uint8_images(compiled, -1.0)).int()
              - torch.from_numpy(to_uint8_images(eager, -1.0)).int()).abs()
    assert levels.max() <= 1 and levels.float().mean() < 1e-3


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler for Inductor")
def test_the_trainer_samples_through_the_compiled_network_with_the_eager_images(unet, monkeypatch):
    """The build's path end to end: train_flow_images with compilation forced on (a tiny sweep is below the
    threshold) gives the images `generate` makes with the eager network, up to one level in a few pixels."""
    monkeypatch.setattr(sampling, "COMPILE_ABOVE_FLOPS", 0)
    # 200 images: two CPU evaluation batches of 100, the shape the network is compiled and checked on.
    params = FlowImageParams(channels=4, epochs=1, batch_size=16, lr=1e-3, nfe=(1, 4), n_samples=200,
                             time_sampling="logit_normal")
    run = train_flow_images(params, load_split(SHIPPED_IMAGES, "train", 32).images, 0, "cpu")
    assert run.compute["sampling_backend"] == sampling.COMPILED
    assert run.samples.shape == (200, 28, 28) and run.samples.dtype == np.uint8
    torch.manual_seed(0)
    eager = generate(unet, 24, 0, 4, "cpu")
    compiled, _ = sampling.sampling_velocity(unet, math.inf, "cpu", torch.zeros(24, 1, 28, 28))
    levels = np.abs(generate(unet, 24, 0, 4, "cpu", compiled).astype(int) - eager.astype(int))
    assert levels.max() <= 1 and levels.mean() < 1e-3


def test_cpu_evaluation_batches_give_the_images_of_whole_chunks(unet, monkeypatch):
    """`generate` integrates a chunk's noise 100 images at a time on a CPU (cache-sized activations); each
    image's path is its own, so the images equal one integration of the whole chunk. 250 images: two full
    batches and a remainder. Stated tolerance: one level in a few pixels (measured here: bit for bit)."""
    by_batch = generate(unet, 250, 3, 2, "cpu")
    monkeypatch.setattr(flow, "CPU_EVAL_BATCH", flow.SAMPLE_CHUNK)
    whole = generate(unet, 250, 3, 2, "cpu")
    levels = np.abs(by_batch.astype(int) - whole.astype(int))
    assert by_batch.shape == (250, 28, 28) and levels.max() <= 1 and levels.mean() < 1e-3
    assert flow.eval_batch("cuda") == flow.SAMPLE_CHUNK


def test_a_short_sweep_or_another_device_stays_eager(unet):
    x0 = torch.zeros(2, 1, 28, 28)
    assert sampling.sampling_velocity(unet, sampling.COMPILE_ABOVE_FLOPS / 2, "cpu", x0) == (unet, sampling.EAGER)
    assert sampling.sampling_velocity(unet, math.inf, "cuda", x0) == (unet, sampling.EAGER)


def test_without_a_compiler_or_when_compiling_fails_the_sweep_runs_eagerly(unet, monkeypatch, caplog):
    x0 = torch.zeros(2, 1, 28, 28)
    monkeypatch.setattr(sampling.shutil, "which", lambda name: None)
    assert sampling.sampling_velocity(unet, math.inf, "cpu", x0) == (unet, sampling.EAGER)
    monkeypatch.undo()

    def broken(*args, **kwargs):                 # compiles lazily, as torch.compile does: fails when first called
        def call(*a, **k):
            raise RuntimeError("InductorError: no working C++ compiler\nmore lines")
        return call

    monkeypatch.setattr(sampling.torch, "compile", broken)
    unet.train()
    assert sampling.sampling_velocity(unet, math.inf, "cpu", x0) == (unet, sampling.EAGER)
    assert unet.training                                   # the model's mode is as it was
    assert "torch.compile failed (InductorError: no working C++ compiler)" in caplog.text


def test_a_sweep_shares_the_first_evaluation_and_gives_each_nfe_its_own_images_bit_for_bit(unet):
    """`generate_sweep` evaluates the network once at (noise, t = 0) per batch for all NFEs. Each NFE's images
    must be those of a plain Euler integration of the same noise at that NFE alone (bit for bit: the shared
    evaluation has the same input and batch shape), with sum(nfes) - len(nfes) + 1 evaluations per batch."""
    nfes, n, seed = (1, 2, 4), 150, 5          # two CPU batches: 100 and a remainder of 50
    calls = []

    def counted(x, t):
        calls.append(len(x))
        return unet(x, t)

    swept = flow.generate_sweep(unet, n, seed, nfes, "cpu", counted)
    gen = torch.Generator().manual_seed(seed + flow.SAMPLE_SEED_OFFSET)
    x0 = torch.randn(n, 1, 28, 28, generator=gen)
    unet.eval()
    with torch.no_grad():
        for nfe in nfes:
            alone = np.concatenate([to_uint8_images(euler_sample(unet, x0[b:b + 100], nfe, (len(x0[b:b + 100]),)), -1.0)
                                    for b in (0, 100)])
            np.testing.assert_array_equal(swept[nfe], alone)
    assert calls == [100] * (sum(nfes) - len(nfes) + 1) + [50] * (sum(nfes) - len(nfes) + 1)
