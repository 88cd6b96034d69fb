"""The source article's DCGAN: an exact PyTorch port of the TensorFlow DCGAN tutorial's Keras models.

Why a port and not "a DCGAN": the report measures what *the article's* model does, so every Keras default
that changes numbers is copied (LeakyReLU slope 0.3, BatchNormalization eps 1e-3 / momentum 0.99, Dense
before BatchNorm on the flat 12,544-vector) and TensorFlow's "same" padding is reproduced exactly: with
stride 2 and kernel 5 it pads 1 before and 2 after (PyTorch's padding=2 pads 2 and 2, and its transposed
convolution with output_padding=1 lands one pixel off), so D pads (1, 2) explicitly and G's stride-2
transposed convolutions use padding 1 and drop the last row and column. At width 1.0 the trainable
parameter counts equal Keras's: G 2,305,472, D 212,865 (tests check this). The BatchNorm momentum is
configurable (DCGANConfig.bn_momentum) because the quick profile trains with Radford et al.'s settings.
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
    """The DCGAN's architecture only (layer widths, BatchNorm); its training parameters are core.config.DCGANParams."""

    noise_dim: int = 100
    width: float = 1.0        # multiplies every channel count (256/128/64); 1.0 is the article's model
    bn_momentum: float = KERAS_BN_MOMENTUM   # PyTorch convention (weight of the new batch statistic)

    def ch(self, base: int) -> int:
        return max(1, int(round(base * self.width)))


def _bn(n: int, two_d: bool, momentum: float) -> nn.Module:
    cls = nn.BatchNorm2d if two_d else nn.BatchNorm1d
    return cls(n, eps=KERAS_BN_EPS, momentum=momentum)


# TensorFlow "same" padding for kernel 5, stride 2 on even sizes: total 3, i.e. 1 before and 2 after.
TF_SAME_PAD_S2 = (1, 2, 1, 2)     # (left, right, top, bottom) for nn.ZeroPad2d


class CropLast(nn.Module):
    """Drop the last row and column: a stride-2 transposed convolution with padding 1 gives 2n + 1 outputs
    whose first 2n are TensorFlow's "same" conv2d_transpose (the adjoint of the (1, 2)-padded conv)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1, :-1]


class Generator(nn.Module):
    """z (B, noise_dim) -> image (B, 1, 28, 28) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.ch(256), cfg.ch(128), cfg.ch(64)
        self.c1 = c1
        self.fc = nn.Linear(cfg.noise_dim, 7 * 7 * c1, bias=False)
        m = cfg.bn_momentum
        self.bn0 = _bn(7 * 7 * c1, two_d=False, momentum=m)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(c1, c2, 5, stride=1, padding=2, bias=False),                   # (B, c2, 7, 7)
            _bn(c2, True, m), nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.ConvTranspose2d(c2, c3, 5, stride=2, padding=1, bias=False), CropLast(),        # (B, c3, 14, 14)
            _bn(c3, True, m), nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.ConvTranspose2d(c3, 1, 5, stride=2, padding=1, bias=False), CropLast(),         # (B, 1, 28, 28)
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
            nn.ZeroPad2d(TF_SAME_PAD_S2), nn.Conv2d(1, c3, 5, stride=2),    # (B, c3, 14, 14)  "same"
            nn.LeakyReLU(KERAS_LEAKY_SLOPE), nn.Dropout(DROPOUT),
            nn.ZeroPad2d(TF_SAME_PAD_S2), nn.Conv2d(c3, c2, 5, stride=2),   # (B, c2, 7, 7)
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
    "article; ported to PyTorch with Keras defaults (LeakyReLU 0.3, BN eps 1e-3 momentum 0.99) and "
    "TensorFlow's asymmetric 'same' padding"
)
