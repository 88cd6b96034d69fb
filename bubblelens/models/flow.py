"""Flow matching's networks and sampler: the modern family beside the GAN and the VAE.

Conditional flow matching on the straight (rectified) path (Lipman et al. 2023, "Flow Matching for
Generative Modeling", ICLR; Liu et al. 2023, "Flow Straight and Fast", ICLR): with noise x0 ~ N(0, I),
data x1 and t ~ U(0, 1), the network v(x_t, t) at x_t = (1 - t) x0 + t x1 regresses the velocity
x1 - x0 (mean squared error). Sampling integrates dx/dt = v(x, t) from t = 0 to 1 with `nfe` Euler
steps, one network evaluation each: NFE is the sampling compute, counted, not assumed.

Two networks:
- `VelocityMLP` for the 2-D mixtures: (x, Fourier features of t) -> SiLU MLP -> velocity. Several seeds
  train as one ensemble through torch.func (stack_module_state + vmap), so member e's numbers depend on
  member e's weights and data only, as the mixture GANs' ensembles do (training/flow.py).
- `UNet` for 28 x 28 images: three resolutions (28, 14, 7) of GroupNorm-SiLU-conv blocks with skip
  connections, the time embedding added to every block (the DDPM U-Net's layout, Ho et al. 2020, at a
  width the CPU budget affords).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

ARCHITECTURE_SOURCE = ("Conditional flow matching, rectified path (Lipman et al. 2023; Liu et al. 2023): "
                       "2-D SiLU MLP velocity field; 28x28 U-Net (GroupNorm, SiLU, skips, additive time "
                       "embedding, after Ho et al. 2020); Euler sampling at a fixed number of steps")
TIME_FREQS = 4                   # Fourier frequencies of t fed to the MLP (sin and cos of pi k t, k = 1..4)


@dataclass(frozen=True)
class VelocityMLPConfig:
    data_dim: int = 2
    hidden: int = 128
    layers: int = 3              # hidden layers
    x_freqs: int = 0             # Fourier features of x: sin and cos of 2^k pi x, k < x_freqs (Tancik et al. 2020)


class VelocityMLP(nn.Module):
    """(x (B, 2), t (B,)) -> velocity (B, 2)."""

    def __init__(self, cfg: VelocityMLPConfig) -> None:
        super().__init__()
        self.x_freqs = cfg.x_freqs
        dims = [cfg.data_dim * (1 + 2 * cfg.x_freqs) + 1 + 2 * TIME_FREQS] + [cfg.hidden] * cfg.layers
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(cfg.hidden, cfg.data_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        k = torch.arange(1, TIME_FREQS + 1, dtype=x.dtype, device=x.device) * math.pi
        tk = t.unsqueeze(-1) * k                                              # (B, F)
        feats = [x, t.unsqueeze(-1), tk.sin(), tk.cos()]
        if self.x_freqs:
            xk = (x.unsqueeze(-1) * (math.pi * 2.0 ** torch.arange(self.x_freqs, dtype=x.dtype,
                                                                    device=x.device))).flatten(-2)   # (B, 2 * F)
            feats += [xk.sin(), xk.cos()]
        return self.net(torch.cat(feats, dim=-1))


def build_mlp(cfg: VelocityMLPConfig, seed: int) -> VelocityMLP:
    """One member's network, initialised from `seed` alone (PyTorch's default Linear init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VelocityMLP(cfg)


@dataclass(frozen=True)
class UNetConfig:
    channels: int = 32           # at 28 x 28; 2x at 14 x 14 and 7 x 7
    groups: int = 8              # GroupNorm groups (at most; the largest divisor of a block's channels)
    time_dim: int = 64


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (B,) -> (B, dim), frequencies as in the Transformer's."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=t.dtype, device=t.device) / half)
    args = 1000.0 * t.unsqueeze(-1) * freqs                                   # t scaled to DDPM's step range
    return torch.cat([args.sin(), args.cos()], dim=-1)


class _Block(nn.Module):
    """GroupNorm -> SiLU -> conv 3x3, plus the projected time embedding as a per-channel shift."""

    def __init__(self, c_in: int, c_out: int, cfg: UNetConfig) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(math.gcd(cfg.groups, c_in), c_in)       # groups that divide any width
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(cfg.time_dim, c_out)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.nn.functional.silu(self.norm(x))) + self.time(emb)[:, :, None, None]


class UNet(nn.Module):
    """(x (B, 1, 28, 28) in about [-1, 1], t (B,)) -> velocity (B, 1, 28, 28)."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        c, c2 = cfg.channels, 2 * cfg.channels
        self.cfg = cfg
        self.embed = nn.Sequential(nn.Linear(cfg.time_dim, cfg.time_dim), nn.SiLU(),
                                   nn.Linear(cfg.time_dim, cfg.time_dim))
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.down28 = _Block(c, c, cfg)                                       # 28 x 28
        self.to14 = nn.Conv2d(c, c2, 3, stride=2, padding=1)                  # -> 14 x 14
        self.down14 = _Block(c2, c2, cfg)
        self.to7 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)                  # -> 7 x 7
        self.mid = _Block(c2, c2, cfg)
        self.up14 = _Block(2 * c2, c2, cfg)                                   # upsampled mid + skip at 14
        self.up28 = _Block(c2 + c, c, cfg)                                    # upsampled + skip at 28
        self.out = nn.Sequential(nn.GroupNorm(math.gcd(cfg.groups, c), c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.embed(time_embedding(t, self.cfg.time_dim))               # (B, time_dim)
        h28 = self.down28(self.stem(x), emb)                                  # (B, c, 28, 28)
        h14 = self.down14(self.to14(h28), emb)                                # (B, 2c, 14, 14)
        h = self.mid(self.to7(h14), emb)                                      # (B, 2c, 7, 7)
        h = self.up14(torch.cat([nn.functional.interpolate(h, scale_factor=2.0), h14], 1), emb)
        h = self.up28(torch.cat([nn.functional.interpolate(h, scale_factor=2.0), h28], 1), emb)
        return self.out(h)


Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, target velocity) on the straight path; t broadcasts over x's trailing axes."""
    tt = t.reshape(*t.shape, *([1] * (x1.dim() - t.dim())))
    return (1 - tt) * x0 + tt * x1, x1 - x0


@torch.no_grad()
def euler_sample(velocity: Velocity, x0: torch.Tensor, nfe: int, time_shape: tuple[int, ...],
                 first_velocity: torch.Tensor | None = None) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 0 (noise x0) to t = 1 in `nfe` equal Euler steps.
    `time_shape` is the shape of the t tensor the network takes (the batch axes of x0). `first_velocity`:
    velocity(x0, 0) when the caller has it already (it is the same at every NFE: training/flow.py's sweep)."""
    if nfe < 1:
        raise ValueError(f"nfe must be at least 1, got {nfe}")
    x, dt = x0, 1.0 / nfe
    for k in range(nfe):
        shared = k == 0 and first_velocity is not None
        v = first_velocity if shared else velocity(x, torch.full(time_shape, k * dt, dtype=x0.dtype, device=x0.device))
        x = x + dt * v
    return x
