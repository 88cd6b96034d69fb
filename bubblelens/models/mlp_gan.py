"""MLP GANs for 2-D Gaussian mixtures, after PacGAN's public synthetic set-up (Lin et al. 2018).

G: noise (2-D Gaussian) -> 4 hidden ReLU layers of `g_hidden` -> 2-D point.
D: 3 hidden maxout layers (5 pieces) of `d_hidden` -> logit; the "pacgan" variant packs `pack` samples into
one D input (B, 2*pack) and shrinks the hidden width by 1/sqrt(pack) so both variants have about the same
number of D parameters (as PacGAN does). Batch norm in G is left out: it couples samples within a batch and
cannot be stacked across an ensemble of seeds without changing each member's result.

Why a functional forward: several seeds of one configuration train together as an *ensemble* — every weight
gets a leading member axis (E, ...) and each layer is one batched matmul (torch.baddbmm). Member e's numbers
then depend only on member e's parameters and data, so an ensemble run equals E separate runs up to float
rounding (tests/unit/test_models.py checks this against torch.func.functional_call per member).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import stack_module_state

ARCHITECTURE_SOURCE = (
    "PacGAN 2-D mixture set-up (Lin et al. 2018, github.com/fjxmlzn/PacGAN synthetic_data_experiments): "
    "G 4 ReLU layers, D 3 maxout layers (5 pieces); widths from MixtureParams; no batch norm"
)
MAXOUT_PIECES = 5


@dataclass(frozen=True)
class MLPGANConfig:
    noise_dim: int = 2
    data_dim: int = 2
    g_hidden: int = 400
    g_layers: int = 4
    d_hidden: int = 200
    d_layers: int = 3
    pack: int = 1               # 1 = vanilla GAN; m > 1 = PacGAN with packing degree m
    maxout: int = MAXOUT_PIECES

    @property
    def d_width(self) -> int:
        """D hidden width, scaled by 1/sqrt(pack) as in PacGAN to keep D's size comparable."""
        return max(1, int(round(self.d_hidden / math.sqrt(self.pack))))


class Generator(nn.Module):
    """noise (B, noise_dim) -> points (B, data_dim)."""

    def __init__(self, cfg: MLPGANConfig) -> None:
        super().__init__()
        dims = [cfg.noise_dim] + [cfg.g_hidden] * cfg.g_layers + [cfg.data_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return mlp_apply(layer_params(self), z, maxout=1)


class Discriminator(nn.Module):
    """packed points (B, data_dim*pack) -> logit (B, 1)."""

    def __init__(self, cfg: MLPGANConfig) -> None:
        super().__init__()
        self.maxout = cfg.maxout
        w = cfg.d_width
        dims_in = [cfg.data_dim * cfg.pack] + [w] * cfg.d_layers
        mods = [nn.Linear(a, w * cfg.maxout) for a in dims_in[:-1]] + [nn.Linear(w, 1)]
        self.layers = nn.ModuleList(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mlp_apply(layer_params(self), x, maxout=self.maxout)


def layer_params(module: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(lin.weight, lin.bias) for lin in module.layers]


def mlp_apply(params: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, maxout: int) -> torch.Tensor:
    """Hidden layers (ReLU, or maxout over `maxout` pieces when > 1), then a linear output layer.

    Plain: W (out, in), b (out,), x (B, in). Ensemble: W (E, out, in), b (E, out), x (E, B, in).
    """
    h = x
    for i, (w, b) in enumerate(params):
        if w.dim() == 3:
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))     # (E, B, out)
        else:
            h = torch.nn.functional.linear(h, w, b)                     # (B, out)
        if i < len(params) - 1:
            if maxout > 1:
                h = h.unflatten(-1, (-1, maxout)).max(-1).values       # (..., out / maxout)
            else:
                h = torch.relu(h)
    return h


def build(cfg: MLPGANConfig, seed: int) -> tuple[Generator, Discriminator]:
    """One member's networks, PyTorch default init drawn from `seed` (so a member does not depend on E)."""
    gen = torch.Generator().manual_seed(seed)
    g, d = Generator(cfg), Discriminator(cfg)
    _seeded_default_init(g, gen)
    _seeded_default_init(d, gen)
    return g, d


def _seeded_default_init(module: nn.Module, gen: torch.Generator) -> None:
    """nn.Linear's default init (kaiming_uniform a=sqrt(5) == U(+-1/sqrt(fan_in))), from an explicit generator."""
    with torch.no_grad():
        for lin in module.layers:
            bound = 1.0 / math.sqrt(lin.in_features)
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.uniform_(-bound, bound, generator=gen)


def stack_members(modules: list[nn.Module]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Stack E identical-architecture modules into ensemble layer params [(W (E,out,in), b (E,out)), ...]
    as fresh leaf tensors (torch.func.stack_module_state), ready for one optimiser."""
    params, _ = stack_module_state(modules)
    n = len(modules[0].layers)
    return [(params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]) for i in range(n)]


def unstack_member(params: list[tuple[torch.Tensor, torch.Tensor]], e: int, module: nn.Module) -> nn.Module:
    """Copy member e of ensemble params into `module` (for export / a per-seed state dict)."""
    with torch.no_grad():
        for lin, (w, b) in zip(module.layers, params):
            lin.weight.copy_(w[e])
            lin.bias.copy_(b[e])
    return module
