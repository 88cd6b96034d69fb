"""Training the source article's DCGAN on Fashion-MNIST, as the TensorFlow tutorial trains it.

The tutorial's `train_step` updates both networks from ONE forward pass: G's loss and D's loss come from
the same fake batch and both optimisers step together (simultaneous, not alternating, updates); that is
kept. Losses are BCE on logits, G's the non-saturating -log D(G(z)) (seed README item 7). Adam keeps
Keras's epsilon 1e-7 and beta2 0.999; lr, beta1 and the BatchNorm momentum come from DCGANParams (the
tutorial's 1e-4, 0.9, 0.01 by default; the quick profile uses Radford et al.'s 2e-4, 0.5, 0.1). On CUDA:
data resident on the GPU (no DataLoader), bf16 autocast, channels_last, optional torch.compile; the CPU
path stays plain fp32.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bubblelens.core.config import DCGANParams, canonical
from bubblelens.core.devices import device_name
from bubblelens.datasets.images import to_unit_range
from bubblelens.models.dcgan import DCGANConfig, build
from bubblelens.models.size import count_params, forward_flops_per_sample
from bubblelens.training import loop as T
from bubblelens.training.compute import ResourceMeter, compute_record
from bubblelens.training.costs import device_peak
from bubblelens.training.names import BATCH_STATS_SAMPLES, SNAPSHOT_PREFIX

log = logging.getLogger(__name__)

KERAS_ADAM = {"betas": (0.9, 0.999), "eps": 1e-7}

SAMPLE_SEED_OFFSET = 7_919          # sampling noise stream, separate from training noise
NOISE_SEED_OFFSET = 104_729
SAMPLE_CHUNK = 1000


def gan_step(g: torch.nn.Module, d: torch.nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             real: torch.Tensor, z: torch.Tensor, amp: bool) -> torch.Tensor:
    """One tutorial train_step. real (B, 1, 28, 28) in [-1, 1], z (B, noise). Returns (d_loss, g_loss)."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        fake = g(z)                                   # (B, 1, 28, 28)
        real_logits = d(real).float()                 # (B, 1)
        fake_logits = d(fake).float()                 # (B, 1)
    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
    g_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    d_loss = (F.binary_cross_entropy_with_logits(real_logits, ones)
              + F.binary_cross_entropy_with_logits(fake_logits, zeros))
    opt_g.zero_grad(set_to_none=True)
    opt_d.zero_grad(set_to_none=True)
    # Each loss reaches only its own network's parameters, as the tutorial's two GradientTapes.
    g_loss.backward(inputs=list(g.parameters()), retain_graph=True)
    d_loss.backward(inputs=list(d.parameters()))
    opt_g.step()
    opt_d.step()
    return torch.stack([d_loss.detach(), g_loss.detach()])


def snapshot_steps(params: DCGANParams, total: int) -> list[int]:
    """Optimiser steps after which samples are kept: each fraction of `total`, rounded, at least step 1."""
    return sorted({max(1, round(f * total)) for f in params.snapshot_fractions if 0 < f < 1})


@torch.no_grad()
def generate(g: torch.nn.Module, n: int, seed: int, noise_dim: int, device: str,
             batch_stats: bool = False) -> np.ndarray:
    """n images (n, 28, 28) uint8 from G. Declared and scored: eval mode, BatchNorm with its running
    statistics (the tutorial's training=False). `batch_stats=True` normalises each chunk of SAMPLE_CHUNK
    samples by its own statistics instead (measured beside it, not scored; the running statistics are not
    updated). Noise is drawn on the CPU so the same seed gives the same noise on any device."""
    gen = torch.Generator().manual_seed(seed + SAMPLE_SEED_OFFSET)
    g.eval()
    norms = [m for m in g.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)] if batch_stats else []
    saved = [m.momentum for m in norms]
    for m in norms:
        m.train()
        m.momentum = 0.0          # normalise by the batch, leave the running statistics as they are
    out = []
    for a in range(0, n, SAMPLE_CHUNK):
        z = torch.randn(min(SAMPLE_CHUNK, n - a), noise_dim, generator=gen).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            out.append(T.to_uint8_images(g(z), low=-1.0))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    g.train()
    return np.concatenate(out) if out else np.zeros((0, 28, 28), np.uint8)


def train_dcgan(params: DCGANParams, images: np.ndarray, seed: int, device: str = "cpu", *,
                ckpt_dir: Path | None = None, progress: T.Progress | None = None,
                compile_model: bool = False) -> T.RunResult:
    """Train the article's DCGAN on uint8 images (N, 28, 28); never raises for a diverged run."""
    cuda = device == "cuda"
    cfg = DCGANConfig(noise_dim=params.noise_dim, width=params.width, bn_momentum=params.bn_momentum)
    bsz = params.batch_size
    plan = T.plan_steps("dcgan", images, params, seed)
    steps_per_epoch, total, resume_key = plan.steps_per_epoch, plan.total, plan.resume_key
    config = {"params": canonical(params), "architecture": canonical(cfg), "amp_bf16": cuda, "compiled": compile_model,
              "adam": {"betas": [params.adam_beta1, 0.999], "eps": KERAS_ADAM["eps"]},
              "sampling": "eval mode (BatchNorm running statistics)"}
    adam = {"betas": (params.adam_beta1, 0.999), "eps": KERAS_ADAM["eps"]}
    snaps = snapshot_steps(params, total)

    fork_devices = [torch.cuda.current_device()] if cuda else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        g, d = build(cfg)
        fwd_flops = forward_flops_per_sample(g, torch.zeros(1, cfg.noise_dim))
        g, d = g.to(device), d.to(device)
        data = torch.from_numpy(to_unit_range(images)).to(device)       # (N, 1, 28, 28) resident
        if cuda:
            g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
            data = data.contiguous(memory_format=torch.channels_last)
        opt_g = torch.optim.Adam(g.parameters(), lr=params.lr, **adam)
        opt_d = torch.optim.Adam(d.parameters(), lr=params.lr, **adam)
        noise_gen = torch.Generator(device).manual_seed(seed + NOISE_SEED_OFFSET)

        history: dict[str, list] = {T.KEY_STEP: [], T.KEY_D_LOSS: [], T.KEY_G_LOSS: []}
        p0 = T.resume_progress(T.load_checkpoint(ckpt_dir, resume_key), total, history, device, noise_gen,
                               {"g": g, "d": d, "opt_g": opt_g, "opt_d": opt_d})
        start, prev_wall, ledger = p0.start, p0.prev_wall, p0.ledger
        history, events = p0.history, p0.events
        if start:
            log.info("dcgan seed %d: resuming at step %d of %d", seed, start, total)
        monitor = T.FailureMonitor("gan", total, events)
        monitor.checked = len(history[T.KEY_STEP])

        g_run, d_run = (torch.compile(g), torch.compile(d)) if compile_model else (g, d)
        batches = T.EpochBatches(len(images), bsz, steps_per_epoch, seed, device)
        snapshots: dict[int, np.ndarray] = {}

        def step_fn(step: int) -> torch.Tensor:
            idx = batches(step)
            z = torch.randn(len(idx), cfg.noise_dim, generator=noise_gen, device=device)
            # The FLOP counter needs eager modules: a step whose shape is still to be counted never uses
            # the compiled ones.
            gm, dm = (g, d) if len(idx) not in ledger.per_shape else (g_run, d_run)
            return gan_step(gm, dm, opt_g, opt_d, data[idx], z, amp=cuda)

        def after_step(n: int) -> None:
            if n in snaps:   # outside the FLOP counter; sampling has its own noise stream: trajectory unchanged
                T.keep_snapshot(ckpt_dir, snapshots, n, generate(g, params.n_samples, seed, cfg.noise_dim, device))

        def save_fn(step: int) -> None:
            T.save_checkpoint(ckpt_dir, {
                "resume_key": resume_key, "config": config, "step": step, "g": g.state_dict(),
                "d": d.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "rng": T.rng_state(device, noise_gen), "history": history, "failure_events": monitor.events,
                "wall_s": prev_wall + meter.elapsed(), "flops": ledger.state()})

        with ResourceMeter(device) as meter:
            last = T.run_steps(
                start=start, total=total, keys=[T.KEY_D_LOSS, T.KEY_G_LOSS], history=history, monitor=monitor,
                step_fn=step_fn, shape_of=batches.size, ledger=ledger, progress=progress,
                save_fn=save_fn if ckpt_dir else None, save_every=steps_per_epoch, after_step=after_step)
        samples = generate(g, params.n_samples, seed, cfg.noise_dim, device)
        extras = {BATCH_STATS_SAMPLES: generate(g, params.n_samples, seed, cfg.noise_dim, device, batch_stats=True)}
        extras |= {f"{SNAPSHOT_PREFIX}{s}": a for s, a in T.load_snapshots(ckpt_dir, snapshots, snaps).items()}

    n_generated = params.n_samples * (2 + len(snaps))       # scored, batch-stat and snapshot samples
    compute = compute_record(
        device=device, ledger=ledger, steps=last, wall_s=prev_wall + meter.summary()["wall_s"],
        meter=meter.summary(), fwd_flops=fwd_flops, n_generated=n_generated,
        params={"params": count_params(g) + count_params(d), "params_g": count_params(g),
                "params_d": count_params(d)},
        peak=device_peak(device_name(device), "bf16") if cuda else None, epochs=last / steps_per_epoch)
    return T.RunResult("dcgan", "fashion_mnist", "reference", seed, config, T.downsample_history(history),
                       compute, list(monitor.events), samples, extras)
