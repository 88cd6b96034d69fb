"""Failure-mode metrics: mode and class coverage, blur and spectrum, posterior collapse, memorisation.

Each returns a plain dict keyed by KEY_* constants (plus supporting detail), so a report can say *how* a
model fails, not only that its FID is high:
- mode collapse on 2-D mixtures: PacGAN's protocol (Lin et al. 2018, after VEEGAN, Srivastava et al. 2017);
- class coverage on images: the domain classifier's predicted labels (bubblelens.evaluation.features);
- blur: variance of the Laplacian and the azimuthally averaged power spectrum (Durall et al. 2020), both
  as ratios fake/real so the number means the same whatever the image statistics;
- posterior collapse: active units (Burda et al. 2015);
- memorisation: nearest-neighbour distance of generated samples to the training set vs to held-out images.
"""
from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from bubblelens.evaluation.quality import (
    DEFAULT_BLOCK_ELEMS,
    as_features,
    check_same_dim,
    nearest_sq_dists,
    pick_device,
)

from bubblelens.evaluation.names import (
    KEY_MODES,
    KEY_HIGH_QUALITY,
    KEY_MODE_KL,
    KEY_CLASSES_COVERED,
    KEY_MIN_CLASS_SHARE,
    KEY_CLASS_KL,
    KEY_LAPLACIAN_RATIO,
    KEY_HF_RATIO,
    KEY_ACTIVE_UNITS,
    KEY_MEMORISATION_RATIO,
)

log = logging.getLogger(__name__)


HIGH_QUALITY_SIGMAS = 3.0       # PacGAN: high quality when within 3 standard deviations of the nearest mode
TRUE_HIGH_QUALITY = 1.0 - math.exp(-4.5)   # P(chi2_2 < 9) = 0.98889: what true 2-D samples score
HF_CUTOFF = 0.5                 # high frequencies: radius above this fraction of the Nyquist radius
ACTIVE_UNIT_THRESHOLD = 0.01    # Burda et al. 2015


def _kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform) in nats of a histogram over len(counts) bins; NaN for an empty histogram."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(np.sum(p * np.log(p * len(counts))))


# ---- mode collapse on 2-D mixtures ----

def mode_coverage(samples: Any, means: Any, std: float) -> dict:
    """PacGAN's mode metrics for samples (N, 2) of a mixture with `means` (K, 2) and isotropic `std`.

    A sample is high quality when its distance to the nearest mode is < 3 std (Mahalanobis, isotropic);
    a mode is captured when at least one high-quality sample is nearest to it; `mode_kl` is KL(p || uniform)
    of the histogram of high-quality samples over modes (0 = perfectly balanced; NaN when no sample is
    high quality, as there is no histogram). `kl` is an alias of `mode_kl`.
    """
    x = as_features(samples, "mode_coverage samples", "cpu")
    mu = as_features(means, "mode_coverage means", "cpu")
    check_same_dim(x, mu, "samples", "means")
    if not (std > 0 and math.isfinite(std)):
        raise ValueError(f"mode_coverage: std must be a positive finite number, got {std}")
    d = torch.cdist(x, mu)                        # (N, K) exact Euclidean
    nearest_d, nearest = d.min(dim=1)             # (N,), (N,)
    hq = (nearest_d / std) < HIGH_QUALITY_SIGMAS  # (N,)
    counts = np.bincount(nearest[hq].numpy(), minlength=len(mu))
    kl = _kl_to_uniform(counts)
    return {KEY_MODES: int((counts > 0).sum()), KEY_HIGH_QUALITY: float(hq.double().mean()),
            KEY_MODE_KL: kl, "kl": kl, "n_modes": int(len(mu)), "mode_counts": counts.tolist(),
            "n_samples": int(len(x))}


# ---- class coverage on images ----

def class_coverage(pred_labels: Any, n_classes: int = 10) -> dict:
    """Classes the domain classifier sees in generated images, and KL(p_generated || uniform) in nats.

    Fashion-MNIST classes are balanced, so a uniform reference is the data distribution; log(10) = 2.303
    is the KL of a generator that only ever makes one class.
    """
    labels = np.asarray(pred_labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"class_coverage: need a non-empty 1-D array of labels, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"class_coverage: labels must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"class_coverage: labels outside 0..{n_classes - 1} (min {labels.min()}, max {labels.max()})")
    counts = np.bincount(labels, minlength=n_classes)
    return {KEY_CLASSES_COVERED: int((counts > 0).sum()), KEY_CLASS_KL: _kl_to_uniform(counts),
            KEY_MIN_CLASS_SHARE: float(counts.min() * n_classes / labels.size),
            "histogram": counts.tolist(), "n_classes": n_classes, "n_samples": int(labels.size)}


# ---- blur and spectrum ----

def _as_images(images: Any, what: str) -> np.ndarray:
    """(N, H, W) float64 in [0, 1] from uint8 (0..255) or float images; (N, 1, H, W) is squeezed."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ValueError(f"{what}: need a non-empty (N, H, W) image array, got shape {arr.shape}")
    out = arr.astype(np.float64) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{what}: images contain NaN or infinite values")
    return out


def laplacian_variance(images: Any) -> np.ndarray:
    """(N,) variance of the 5-point Laplacian of each image (pixels in [0, 1] for uint8); low = blurry."""
    x = _as_images(images, "laplacian_variance")
    lap = _laplace_2d(x)                                       # (N, H, W)
    return lap.reshape(len(x), -1).var(axis=1)


def _laplace_2d(x: np.ndarray) -> np.ndarray:
    """5-point Laplacian over the image axes only (scipy.ndimage.laplace would also differentiate along N)."""
    out = ndimage.correlate1d(x, [1.0, -2.0, 1.0], axis=1, mode="reflect")
    out += ndimage.correlate1d(x, [1.0, -2.0, 1.0], axis=2, mode="reflect")
    return out


def spectrum(images: Any) -> np.ndarray:
    """Azimuthally averaged power spectrum (Durall et al. 2020), mean over images.

    Returns (R,) mean |FFT|^2 per integer radius r = 0 .. floor(min(H, W) / 2) (r = 0 is the DC term);
    pixels beyond the inscribed circle (the corners) are left out so every bin is a full ring.
    """
    x = _as_images(images, "spectrum")
    power = np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(1, 2))) ** 2    # (N, H, W)
    mean_power = power.mean(axis=0)                                      # (H, W)
    h, w = mean_power.shape
    yy, xx = np.indices((h, w))
    radius = np.rint(np.hypot(yy - h // 2, xx - w // 2)).astype(int)    # (H, W)
    r_max = min(h, w) // 2
    keep = radius <= r_max
    sums = np.bincount(radius[keep], weights=mean_power[keep], minlength=r_max + 1)
    counts = np.bincount(radius[keep], minlength=r_max + 1)
    return sums / counts


def high_freq_share(images: Any, cutoff: float = HF_CUTOFF) -> float:
    """Share of non-DC spectral power at radii above `cutoff` x Nyquist radius (of the averaged spectrum)."""
    spec = spectrum(images)
    radii = np.arange(len(spec))
    ac = spec[1:].sum()
    if ac == 0:
        return 0.0  # constant images have no structure at any frequency
    return float(spec[radii > cutoff * (len(spec) - 1)].sum() / ac)


def blur_report(real: Any, fake: Any) -> dict:
    """Blur of fake images relative to real ones: ratios < 1 mean smoother (blurrier) than real.

    laplacian_ratio = mean Laplacian variance fake / real; hf_ratio = high-frequency share fake / real.
    The spectra themselves are returned for charts. Both sets must share a representation (both uint8, or
    both float on the same scale): Laplacian variance scales with the square of the pixel range.
    """
    def is_u8(x: Any) -> bool:
        return (x.dtype == torch.uint8) if isinstance(x, torch.Tensor) else np.asarray(x).dtype == np.uint8
    if is_u8(real) != is_u8(fake):
        raise ValueError("blur_report: real and fake images must both be uint8 or both float on the same scale "
                         "(convert generator output in [-1, 1] with (x + 1) * 127.5 rounded to uint8)")
    lap_r, lap_f = laplacian_variance(real), laplacian_variance(fake)
    hf_r, hf_f = high_freq_share(real), high_freq_share(fake)
    return {
        KEY_LAPLACIAN_RATIO: float(lap_f.mean() / lap_r.mean()) if lap_r.mean() > 0 else float("nan"),
        KEY_HF_RATIO: float(hf_f / hf_r) if hf_r > 0 else float("nan"),
        "laplacian_real": float(lap_r.mean()), "laplacian_fake": float(lap_f.mean()),
        "hf_share_real": hf_r, "hf_share_fake": hf_f,
        "spectrum_real": spectrum(real).tolist(), "spectrum_fake": spectrum(fake).tolist(),
    }


# ---- posterior collapse ----

def active_units(latent_mu: Any, threshold: float = ACTIVE_UNIT_THRESHOLD) -> dict:
    """Burda et al. 2015: dimension d is active when Cov_x(E_q[z_d | x]) > threshold.

    `latent_mu` is (N, D) of encoder means over data x; variances use ddof=1. A collapsed dimension's
    posterior mean ignores x, so its variance across x is ~0.
    """
    mu = as_features(latent_mu, "active_units latent_mu", "cpu")
    if len(mu) < 2:
        raise ValueError(f"active_units needs >= 2 encoded samples, got {len(mu)}")
    var = mu.var(dim=0, unbiased=True).numpy()
    return {KEY_ACTIVE_UNITS: int((var > threshold).sum()), "n_dims": int(mu.shape[1]),
            "variances": var.tolist(), "threshold": threshold}


# ---- memorisation ----

def memorisation(fake_feats: Any, train_feats: Any, heldout_feats: Any, seed: int = 0,
                 block_elems: int = DEFAULT_BLOCK_ELEMS, device: str | torch.device | None = None) -> dict:
    """Nearest-neighbour distance of generated samples to the training set vs to held-out real images.

    A model that copies its training data sits much closer to training images than to unseen ones:
    memorisation_ratio = median over fakes of d(fake, train) / d(fake, held-out); ~1 means no preference,
    << 1 means copying. NN distances shrink as the reference set grows, so the larger of the two reference
    sets is subsampled (seeded) to the size of the smaller one before comparing.
    """
    dev = pick_device(device, fake_feats, train_feats, heldout_feats)
    fk = as_features(fake_feats, "memorisation fake", dev)
    tr = as_features(train_feats, "memorisation train", dev)
    ho = as_features(heldout_feats, "memorisation held-out", dev)
    check_same_dim(fk, tr, "fake", "train")
    check_same_dim(fk, ho, "fake", "held-out")
    n = min(len(tr), len(ho))
    rng = np.random.default_rng(seed)
    if len(tr) > n:
        tr = tr[torch.as_tensor(np.sort(rng.choice(len(tr), n, replace=False)), device=dev)]
    if len(ho) > n:
        ho = ho[torch.as_tensor(np.sort(rng.choice(len(ho), n, replace=False)), device=dev)]
    d_tr = nearest_sq_dists(fk, tr, block_elems).sqrt().cpu().numpy()    # (M,)
    d_ho = nearest_sq_dists(fk, ho, block_elems).sqrt().cpu().numpy()    # (M,)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d_ho > 0, d_tr / d_ho, np.where(d_tr > 0, np.inf, 1.0))
    if np.any(d_tr == 0):
        warnings.warn(f"{int((d_tr == 0).sum())} generated samples are exact copies of training samples",
                      stacklevel=2)
    return {KEY_MEMORISATION_RATIO: float(np.median(ratio)),
            "median_d_train": float(np.median(d_tr)), "median_d_heldout": float(np.median(d_ho)),
            "frac_closer_to_train": float(np.mean(d_tr < d_ho)),
            "exact_copies": int((d_tr == 0).sum()), "n_reference": int(n), "n_fake": int(len(fk))}
