"""Convolutional VAE for 28x28 images, with the ELBO the source article gets wrong (seed README, items 2-4).

The encoder outputs the parameters (mu, log sigma^2) of q(z|x); z is *sampled* by reparameterisation
z = mu + sigma * eps so gradients flow through mu and sigma. The loss per image is
    BCE(x, decoder(z)) summed over pixels  +  beta * KL(q(z|x) || N(0, I)),
    KL = -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2)      (closed form; tests compare it with torch.distributions)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURE_SOURCE = (
    "convolutional VAE (2 stride-2 conv encoder, mirrored transposed-conv decoder, Bernoulli likelihood), "
    "after Kingma & Welling 2014 and the PyTorch/Keras VAE examples"
)


@dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = 16
    width: float = 1.0        # multiplies the channel counts 32 / 64

    def ch(self, base: int) -> int:
        return max(1, int(round(base * self.width)))


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2 = cfg.ch(32), cfg.ch(64)
        self.c2 = c2
        self.enc = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),    # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),   # (B, c2, 7, 7)
            nn.Flatten(),                                           # (B, c2*49)
        )
        self.to_stats = nn.Linear(c2 * 49, 2 * cfg.latent_dim)      # (B, 2*latent): mu | log sigma^2
        self.from_z = nn.Linear(cfg.latent_dim, c2 * 49)
        self.dec = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),   # (B, c1, 14, 14)
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),              # (B, 1, 28, 28) logits
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) in [0, 1] -> mu, logvar (B, latent)."""
        mu, logvar = self.to_stats(self.enc(x)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent) -> pixel logits (B, 1, 28, 28)."""
        h = self.from_z(z).view(-1, self.c2, 7, 7)
        return self.dec(h)

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterised pass; eps (B, latent) ~ N(0, I) is passed in so a torch.Generator controls it."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per sample, (B,)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def elbo_terms(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
               beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, recon, kl), each the batch mean of a per-image sum; loss = recon + beta * kl is the negative ELBO."""
    recon = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none").flatten(1).sum(1)
    kl = kl_standard_normal(mu.float(), logvar.float())
    return (recon + beta * kl).mean(), recon.mean(), kl.mean()
