"""The source article's DCGAN: an exact PyTorch port of the TensorFlow DCGAN tutorial's Keras models.

Why a port and not "a DCGAN": the report measures what *the article's* model does, so every Keras default
that changes numbers is copied (LeakyReLU slope 0.3, BatchNormalization eps 1e-3 / momentum 0.99, "same"
padding of the stride-2 transposed convolutions, Dense before BatchNorm on the flat 12,544-vector).
At width 1.0 the trainable parameter counts equal Keras's: G 2,305,472, D 212,865 (tests check this).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Keras defaults (tf.keras.layers.*), written out because PyTorch's differ.
KERAS_LEAKY_SLOPE = 0.3
KERAS_BN_EPS = 1e-3
KERAS_BN_MOMENTUM = 0.01      # Keras momentum 0.99 is PyTorch momentum 1 - 0.99
DROPOUT = 0.3

EXPECTED_PARAMS_G = 2_305_472
EXPECTED_PARAMS_D = 212_865


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture only (training settings live in config.DCGANParams)."""

    noise_dim: int = 100
    width: float = 1.0        # multiplies every channel count (256/128/64); 1.0 is the article's model

    def ch(self, base: int) -> int:
        return max(1, int(round(base * self.width)))


def _bn(n: int, two_d: bool) -> nn.Module:
    cls = nn.BatchNorm2d if two_d else nn.BatchNorm1d
    return cls(n, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)


class Generator(nn.Module):
    """z (B, noise_dim) -> image (B, 1, 28, 28) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.ch(256), cfg.ch(128), cfg.ch(64)
        self.c1 = c1
        self.fc = nn.Linear(cfg.noise_dim, 7 * 7 * c1, bias=False)
        self.bn0 = _bn(7 * 7 * c1, two_d=False)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(c1, c2, 5, stride=1, padding=2, bias=False),                   # (B, c2, 7, 7)
            _bn(c2, True), nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.ConvTranspose2d(c2, c3, 5, stride=2, padding=2, output_padding=1, bias=False),  # (B, c3, 14, 14)
            _bn(c3, True), nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.ConvTranspose2d(c3, 1, 5, stride=2, padding=2, output_padding=1, bias=False),   # (B, 1, 28, 28)
            nn.Tanh(),
        )
        self.act0 = nn.LeakyReLU(KERAS_LEAKY_SLOPE)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # Keras flattens NHWC, PyTorch reshapes NCHW; the order differs but the function class is the same.
        h = self.act0(self.bn0(self.fc(z)))            # (B, 7*7*c1)
        h = h.view(-1, self.c1, 7, 7)                  # (B, c1, 7, 7)
        return self.deconv(h)                          # (B, 1, 28, 28)


class Discriminator(nn.Module):
    """image (B, 1, 28, 28) -> logit (B, 1); no sigmoid (BCE on logits, as the tutorial's from_logits=True)."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c3, c2 = cfg.ch(64), cfg.ch(128)
        self.net = nn.Sequential(
            nn.Conv2d(1, c3, 5, stride=2, padding=2),        # (B, c3, 14, 14)  "same"
            nn.LeakyReLU(KERAS_LEAKY_SLOPE), nn.Dropout(DROPOUT),
            nn.Conv2d(c3, c2, 5, stride=2, padding=2),       # (B, c2, 7, 7)
            nn.LeakyReLU(KERAS_LEAKY_SLOPE), nn.Dropout(DROPOUT),
            nn.Flatten(),                                    # (B, c2*49)
            nn.Linear(c2 * 7 * 7, 1),                        # (B, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def keras_init_(module: nn.Module) -> None:
    """Keras initialisers (glorot_uniform kernels, zero biases): the tutorial's starting point."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def build(cfg: DCGANConfig) -> tuple[Generator, Discriminator]:
    g, d = Generator(cfg), Discriminator(cfg)
    keras_init_(g)
    keras_init_(d)
    return g, d


ARCHITECTURE_SOURCE = (
    "TensorFlow DCGAN tutorial (tensorflow.org/tutorials/generative/dcgan), as reproduced in the source "
    "article; ported to PyTorch with Keras defaults (LeakyReLU 0.3, BN eps 1e-3 momentum 0.99)"
)
