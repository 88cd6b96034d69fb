"""Training the convolutional VAE on Fashion-MNIST with the correct ELBO (see models/vae.py).

Pixels are scaled to [0, 1] for the Bernoulli (BCE) likelihood. The reparameterisation noise comes from a
torch.Generator so a seed fixes the run; checkpoints, failure events and compute accounting are shared
with the GAN trainers (training/loop.py).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from bubblelens.training import loop as T
from bubblelens.core.devices import device_name
from bubblelens.models.catalogue import VAEPass
from bubblelens.models.size import count_params, forward_flops_per_sample
from bubblelens.training.compute import ResourceMeter, compute_record
from bubblelens.training.costs import device_peak
from bubblelens.training.names import LATENT_MU, RECON
from bubblelens.core.config import VAEParams, canonical
from bubblelens.models.vae import VAE, VAEConfig, elbo_terms
from bubblelens.training.dcgan import NOISE_SEED_OFFSET, SAMPLE_CHUNK, SAMPLE_SEED_OFFSET

log = logging.getLogger(__name__)

N_RECON = 64        # eval images reconstructed for the report's reconstruction grid


def _unit(images: np.ndarray, device: str) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1] on device."""
    return (torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).to(device).float() / 255.0).unsqueeze(1)


def vae_step(model: VAE, opt: torch.optim.Optimizer, x: torch.Tensor, eps: torch.Tensor, beta: float,
             amp: bool) -> torch.Tensor:
    """One ELBO step; x (B, 1, 28, 28) in [0, 1], eps (B, latent). Returns (loss, recon, kl)."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        logits, mu, logvar = model(x, eps)
    loss, recon, kl = elbo_terms(logits, x, mu, logvar, beta)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return torch.stack([loss.detach(), recon.detach(), kl.detach()])


@torch.no_grad()
def _evaluate(model: VAE, eval_x: torch.Tensor, n_samples: int, seed: int,
              device: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    model.eval()
    gen = torch.Generator().manual_seed(seed + SAMPLE_SEED_OFFSET)
    samples = []
    for a in range(0, n_samples, SAMPLE_CHUNK):
        z = torch.randn(min(SAMPLE_CHUNK, n_samples - a), model.cfg.latent_dim, generator=gen).to(device)
        samples.append(T.to_uint8_images(torch.sigmoid(model.decode(z).float()), low=0.0))
    mus = [model.encode(eval_x[a:a + SAMPLE_CHUNK])[0].float().cpu() for a in range(0, len(eval_x), SAMPLE_CHUNK)]
    recon_mu = model.encode(eval_x[:N_RECON])[0]
    recon = T.to_uint8_images(torch.sigmoid(model.decode(recon_mu).float()), low=0.0)
    model.train()
    latent_mu = torch.cat(mus).numpy().astype(np.float32) if mus else np.zeros((0, model.cfg.latent_dim), np.float32)
    out = np.concatenate(samples) if samples else np.zeros((0, 28, 28), np.uint8)
    return out, {LATENT_MU: latent_mu, RECON: recon}


def train_vae(params: VAEParams, images: np.ndarray, eval_images: np.ndarray, seed: int, device: str = "cpu", *,
              ckpt_dir: Path | None = None, progress: T.Progress | None = None) -> T.RunResult:
    """Train the VAE on uint8 images (N, 28, 28); eval_images give the latent means and reconstructions."""
    cuda = device == "cuda"
    cfg = VAEConfig(latent_dim=params.latent_dim, width=params.width)
    bsz = params.batch_size
    plan = T.plan_steps("vae", images, params, seed)
    steps_per_epoch, total, resume_key = plan.steps_per_epoch, plan.total, plan.resume_key
    config = {"params": canonical(params), "architecture": canonical(cfg), "amp_bf16": cuda}
    keys = [T.KEY_LOSS, T.KEY_RECON, T.KEY_KL]

    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        torch.manual_seed(seed)
        model = VAE(cfg)
        fwd_flops = forward_flops_per_sample(VAEPass(model), torch.zeros(1, 1, 28, 28))
        model = model.to(device)
        data, eval_x = _unit(images, device), _unit(eval_images, device)     # (N, 1, 28, 28) resident
        if cuda:
            model = model.to(memory_format=torch.channels_last)
            data = data.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=params.lr)
        noise_gen = torch.Generator(device).manual_seed(seed + NOISE_SEED_OFFSET)

        history: dict[str, list] = {T.KEY_STEP: [], **{k: [] for k in keys}}
        p0 = T.resume_progress(T.load_checkpoint(ckpt_dir, resume_key), total, history, device, noise_gen,
                               {"model": model, "opt": opt})
        start, prev_wall, ledger = p0.start, p0.prev_wall, p0.ledger
        history, events = p0.history, p0.events
        if start:
            log.info("vae seed %d: resuming at step %d of %d", seed, start, total)
        monitor = T.FailureMonitor("vae", total, events)
        monitor.checked = len(history[T.KEY_STEP])
        batches = T.EpochBatches(len(images), bsz, steps_per_epoch, seed, device)

        def step_fn(step: int) -> torch.Tensor:
            idx = batches(step)
            eps = torch.randn(len(idx), cfg.latent_dim, generator=noise_gen, device=device)
            return vae_step(model, opt, data[idx], eps, params.beta, amp=cuda)

        def save_fn(step: int) -> None:
            T.save_checkpoint(ckpt_dir, {
                "resume_key": resume_key, "config": config, "step": step, "model": model.state_dict(),
                "opt": opt.state_dict(), "rng": T.rng_state(device, noise_gen), "history": history,
                "failure_events": monitor.events, "wall_s": prev_wall + meter.elapsed(), "flops": ledger.state()})

        with ResourceMeter(device) as meter:
            last = T.run_steps(
                start=start, total=total, keys=keys, history=history, monitor=monitor, step_fn=step_fn,
                shape_of=batches.size, ledger=ledger, progress=progress, save_fn=save_fn if ckpt_dir else None,
                save_every=steps_per_epoch)
        samples, extras = _evaluate(model, eval_x, params.n_samples, seed, device)

    compute = compute_record(
        device=device, ledger=ledger, steps=last, wall_s=prev_wall + meter.summary()["wall_s"],
        meter=meter.summary(), fwd_flops=fwd_flops, n_generated=params.n_samples,
        params={"params": count_params(model)},
        peak=device_peak(device_name(device), "bf16") if cuda else None, epochs=last / steps_per_epoch)
    return T.RunResult("vae", "fashion_mnist", "reference", seed, config, T.downsample_history(history),
                       compute, list(monitor.events), samples, extras)
