"""2-D Gaussian mixtures on which mode collapse can be counted exactly: PacGAN's ring of 8 and grid of 25
(Lin et al. 2018, synthetic_data_experiments; after VEEGAN, Srivastava et al. 2017).
"""
from __future__ import annotations

import numpy as np

MIXTURES = ("ring8", "grid25")
MIXTURE_TITLES = {"ring8": "ring-8", "grid25": "grid-25"}     # as the report names them


def mixture_spec(name: str) -> tuple[np.ndarray, float]:
    """(means (K, 2), std) of a named mixture."""
    if name == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
    if name == "grid25":
        axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        return np.array([(x, y) for x in axis for y in axis]), 0.05
    raise ValueError(f"unknown mixture '{name}'; choose one of: {', '.join(MIXTURES)}")


def mixture_scale(name: str) -> float:
    """The standard deviation of either coordinate of a named mixture, in closed form: modes drawn
    uniformly, so Var = mean over modes of (mean - overall mean)^2 + std^2 (both coordinates are equal
    for the ring and the grid)."""
    means, std = mixture_spec(name)
    return float(np.sqrt(((means[:, 0] - means[:, 0].mean()) ** 2).mean() + std ** 2))


def sample_mixture(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples (n, 2) float32, modes drawn uniformly."""
    means, std = mixture_spec(name)
    idx = rng.integers(0, len(means), size=n)
    return (means[idx] + std * rng.standard_normal((n, 2))).astype(np.float32)
