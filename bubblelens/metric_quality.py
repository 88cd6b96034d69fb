"""Sample-quality metrics on feature vectors: FID, KID, precision/recall, density/coverage.

Features are (N, D) numpy arrays or torch tensors (from `bubblelens.features`, or any embedding).
Everything is computed in float64: FID differences between models are often a fraction of a unit and
float32 Gram matrices lose that. Pairwise work (KID, PRDC, nearest neighbours) is batched in torch so it
runs on CPU or GPU, and PRDC works in row blocks so 50k x 50k never holds a full distance matrix.

Conventions (each matches a reference implementation, tested in tests/unit/test_metric_quality.py):
- FID: Heusel et al. 2017 with covariance ddof=1 as pytorch-fid; tr sqrt(S1 S2) = sum of sqrt of the
  eigenvalues of S1 S2 (`numpy.linalg.eigvals`, not `eigvalsh`: the product is not symmetric, but its
  eigenvalues are real and >= 0 for PSD S1, S2, so rounding residue is clipped). This agrees with the
  scipy.linalg.sqrtm route to ~1e-10 relative, works with singular covariances (N < D, collapsed samples)
  where sqrtm needs an epsilon, and is faster. FID is biased by n (Chong & Forsyth 2020): compare models
  only at equal n; unequal n warns.
- KID: Binkowski et al. 2018; unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 over random subsets drawn
  without replacement, mean and std (ddof=0) over subsets, as torch-fidelity. Unbiased: can be < 0.
- PRDC: Kynkaanniemi et al. 2019 (precision, recall), Naeem et al. 2020 (density, coverage), with the
  `prdc` package's conventions: Euclidean distance, a point's radius is the distance to its k-th nearest
  OTHER point of its own set (the (k+1)-th smallest including itself), membership is strict `<`.
  Duplicates: squared distances below 1e-12 x (|x|^2 + |y|^2) are rounding residue of the Gram expansion
  and are set to exactly 0, so exact copies are at distance 0 as in exact arithmetic. Then a real point
  with >= k exact copies in the real set has radius 0 and, with strict `<`, its ball contains nothing;
  a fake set made of copies of one point (total mode collapse, > k copies) has fake radii 0, so recall = 0.
  Identical real and fake sets of distinct points give precision = recall = coverage = 1 and density ~ 1.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

KEY_FID = "fid"
KEY_KID_MEAN = "kid_mean"
KEY_KID_STD = "kid_std"
KEY_PRECISION = "precision"
KEY_RECALL = "recall"
KEY_DENSITY = "density"
KEY_COVERAGE = "coverage"

DEFAULT_BLOCK_ELEMS = 1 << 24   # entries of one distance block: 16M x 8 B = 128 MiB in float64
_DUP_RTOL = 1e-12               # relative size below which a squared distance is Gram rounding residue


# ---- input checks shared by all feature metrics ----

def as_features(x: Any, what: str, device: torch.device | str | None = None) -> torch.Tensor:
    """(N, D) float64 tensor from a numpy array or tensor; ValueError naming `what` on bad input."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    if t.ndim != 2:
        raise ValueError(f"{what}: features must be a 2-D (N, D) array, got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{what}: empty feature set (0 samples)")
    if t.shape[1] == 0:
        raise ValueError(f"{what}: features have dimension 0")
    t = t.to(device=device if device is not None else t.device, dtype=torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what}: features contain NaN or infinite values")
    return t


def check_same_dim(a: torch.Tensor, b: torch.Tensor, what_a: str, what_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"mismatched feature dimensions: {what_a} has D={a.shape[1]}, {what_b} has D={b.shape[1]}")


def pick_device(device: str | torch.device | None, *xs: Any) -> torch.device:
    """The explicit device, else the device of the first torch input, else CPU."""
    if device is not None:
        return torch.device(device)
    for x in xs:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


# ---- FID ----

def fid(real: Any, fake: Any) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (float64; see module notes)."""
    r = as_features(real, "fid real", "cpu").numpy()
    f = as_features(fake, "fid fake", "cpu").numpy()
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"mismatched feature dimensions: fid real has D={r.shape[1]}, fake has D={f.shape[1]}")
    if min(len(r), len(f)) < 2:
        raise ValueError(f"fid needs >= 2 samples per set for a covariance, got {len(r)} real and {len(f)} fake")
    if len(r) != len(f):
        warnings.warn(f"FID compared at unequal sizes ({len(r)} real vs {len(f)} fake); FID is biased by n, "
                      "so compare models only at equal n", stacklevel=2)
    mu1, mu2 = r.mean(axis=0), f.mean(axis=0)
    s1 = np.atleast_2d(np.cov(r, rowvar=False))   # (D, D), ddof=1
    s2 = np.atleast_2d(np.cov(f, rowvar=False))
    eig = np.linalg.eigvals(s1 @ s2)              # real, >= 0 up to rounding
    tr_covmean = float(np.sqrt(np.clip(eig.real, 0.0, None)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)  # a distance: tiny negatives are rounding (identical sets)


# ---- KID ----

def _poly_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cubic polynomial kernel (x.y/d + 1)^3; x (S, m, D), y (S, m, D) -> (S, m, m)."""
    k = torch.bmm(x, y.transpose(1, 2))   # (S, m, m)
    return k.div_(x.shape[-1]).add_(1.0).pow_(3)   # in place: avoids two more (S, m, m) temporaries


def kid(real: Any, fake: Any, subsets: int = 100, subset_size: int = 1000, seed: int = 0,
        device: str | torch.device | None = None) -> tuple[float, float]:
    """(mean, std) over `subsets` random subsets of the unbiased MMD^2 with the cubic kernel.

    A set smaller than `subset_size` makes every subset that smaller size (logged as a warning); subsets are
    drawn without replacement within a subset, independently across subsets, from numpy's PCG64(seed).
    """
    dev = pick_device(device, real, fake)
    r, f = as_features(real, "kid real", dev), as_features(fake, "kid fake", dev)
    check_same_dim(r, f, "kid real", "kid fake")
    if subsets < 1:
        raise ValueError(f"kid: subsets must be >= 1, got {subsets}")
    m = min(subset_size, len(r), len(f))
    if m < 2:
        raise ValueError(f"kid needs >= 2 samples per set, got {len(r)} real and {len(f)} fake")
    if m < subset_size:
        msg = f"KID subset size reduced from {subset_size} to {m} (smallest set has {min(len(r), len(f))} samples)"
        log.warning(msg)
        warnings.warn(msg, stacklevel=2)
    rng = np.random.default_rng(seed)
    idx = [(rng.choice(len(r), m, replace=False), rng.choice(len(f), m, replace=False)) for _ in range(subsets)]
    chunk = max(1, DEFAULT_BLOCK_ELEMS // (m * m))  # subsets per batch so one (S, m, m) kernel fits a block
    values = []
    for start in range(0, subsets, chunk):
        part = idx[start:start + chunk]
        ir = torch.as_tensor(np.stack([p[0] for p in part]), device=dev)   # (S, m)
        jf = torch.as_tensor(np.stack([p[1] for p in part]), device=dev)   # (S, m)
        x, y = r[ir], f[jf]                                                # (S, m, D)
        kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)  # (S, m, m)
        off_xx = kxx.sum((1, 2)) - torch.diagonal(kxx, dim1=1, dim2=2).sum(1)
        off_yy = kyy.sum((1, 2)) - torch.diagonal(kyy, dim1=1, dim2=2).sum(1)
        mmd = (off_xx + off_yy) / (m * (m - 1)) - 2.0 * kxy.sum((1, 2)) / (m * m)   # (S,)
        values.append(mmd.cpu())
    v = torch.cat(values).numpy()
    return float(v.mean()), float(v.std())


# ---- nearest neighbours and PRDC, in blocks ----
#
# Speed: d2_ij = |a_i|^2 + |b_j|^2 - 2 a_i.b_j. The row constant |a_i|^2 changes neither a row's order
# (k-th nearest, nearest) nor, moved to the other side, a comparison with a per-row threshold, so the hot
# loop only forms G_ij = |b_j|^2 - 2 a_i.b_j with one BLAS call (addmm) and compares G with thresholds:
# d2_ij < r2_i  <=>  G_ij < r2_i - |a_i|^2. Exact duplicates are decided on the radii instead of on every
# entry: a squared radius within Gram rounding of 0 (below _DUP_RTOL x 2|x_i|^2) is an exact 0, and a ball
# of radius 0 contains nothing (strict <), so it gets the threshold -inf.

def _gram_rows(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """G (A, B) = |b_j|^2 - 2 a_i.b_j: squared distances less the row constant |a_i|^2."""
    return torch.addmm(b_sq[None, :], a, b.T, beta=1.0, alpha=-2.0)


def _rows_per_block(n_cols: int, block_elems: int) -> int:
    return max(1, block_elems // max(1, n_cols))


def _snap(d2: torch.Tensor, x_sq: torch.Tensor) -> torch.Tensor:
    """Squared distances >= 0, those within Gram rounding of 0 (relative to 2|x|^2) set to exactly 0."""
    d2 = d2.clamp(min=0.0)
    d2[d2 <= _DUP_RTOL * 2.0 * x_sq] = 0.0
    return d2


def knn_sq_radii(x: torch.Tensor, k: int, block_elems: int = DEFAULT_BLOCK_ELEMS) -> torch.Tensor:
    """(N,) squared distance of each row to its k-th nearest OTHER row of x (prdc's (k+1)-th incl. self)."""
    x_sq = (x * x).sum(1)                                                            # (N,)
    rows = _rows_per_block(len(x), block_elems)
    kth = [torch.topk(_gram_rows(x[s:s + rows], x, x_sq), k + 1, dim=1, largest=False).values[:, -1]
           for s in range(0, len(x), rows)]                                          # (B,) each
    return _snap(torch.cat(kth) + x_sq, x_sq)


def nearest_sq_dists(query: torch.Tensor, ref: torch.Tensor, block_elems: int = DEFAULT_BLOCK_ELEMS) -> torch.Tensor:
    """(Q,) squared distance from each query row to its nearest row of ref (exact copies give 0)."""
    q_sq, r_sq = (query * query).sum(1), (ref * ref).sum(1)
    rows = _rows_per_block(len(ref), block_elems)
    near = torch.cat([_gram_rows(query[s:s + rows], ref, r_sq).min(dim=1).values
                      for s in range(0, len(query), rows)])                           # (Q,)
    return _snap(near + q_sq, q_sq)


def _ball_threshold(r2: torch.Tensor, x_sq: torch.Tensor) -> torch.Tensor:
    """Squared radius less a rounding guard, so `d2 < threshold` is the strict `<` of exact arithmetic.

    A distance equal to a radius (a tie: identical or duplicated sets, where the k-th neighbour of a real
    point is itself a fake point) is computed by two different BLAS calls and may round either way; the
    guard (_DUP_RTOL x 2(|x|^2 + r^2), a bound on the Gram rounding of both) counts such ties as equal, i.e.
    outside. Continuous data never has a distance within 1e-12 of a radius, so this does not change
    agreement with `prdc`. A radius-0 ball is empty under strict <: threshold -inf.
    """
    guarded = r2 - _DUP_RTOL * 2.0 * (x_sq + r2)
    return torch.where(r2 > 0, guarded, torch.full_like(r2, -torch.inf))


def prdc(real: Any, fake: Any, k: int = 5, block_elems: int = DEFAULT_BLOCK_ELEMS,
         device: str | torch.device | None = None) -> dict:
    """Precision, recall, density, coverage with the `prdc` package's conventions (module notes).

    Works on row blocks of at most `block_elems` distances, so memory is O(block_elems + N + M).
    """
    dev = pick_device(device, real, fake)
    r, f = as_features(real, "prdc real", dev), as_features(fake, "prdc fake", dev)
    check_same_dim(r, f, "prdc real", "prdc fake")
    if k < 1:
        raise ValueError(f"prdc: k must be >= 1, got {k}")
    if len(r) < k + 1 or len(f) < k + 1:
        raise ValueError(f"prdc with k={k} needs >= {k + 1} samples per set, got {len(r)} real and {len(f)} fake")
    centre = r.mean(0, keepdim=True)     # distances are translation-invariant; centring shrinks Gram rounding
    r, f = r - centre, f - centre
    r_sq, f_sq = (r * r).sum(1), (f * f).sum(1)                                    # (N,), (M,)
    real_thr = _ball_threshold(knn_sq_radii(r, k, block_elems), r_sq) - r_sq           # (N,) G_ij < this: in ball i
    fake_thr = _ball_threshold(knn_sq_radii(f, k, block_elems), f_sq)               # (M,) squared fake radii
    fake_in_any = torch.zeros(len(f), dtype=torch.bool, device=dev)              # (M,) precision
    fake_count = torch.zeros(len(f), dtype=torch.int64, device=dev)              # (M,) density
    real_covered = torch.zeros(len(r), dtype=torch.bool, device=dev)             # (N,) coverage
    real_recalled = torch.zeros(len(r), dtype=torch.bool, device=dev)            # (N,) recall
    rows = _rows_per_block(len(f), block_elems)
    for s in range(0, len(r), rows):
        g = torch.addmm(f_sq[None, :], r[s:s + rows], f.T, beta=1.0, alpha=-2.0)  # (B, M) d2 - |r_i|^2
        in_real_ball = g < real_thr[s:s + rows, None]                             # (B, M)
        fake_in_any |= in_real_ball.any(0)
        fake_count += in_real_ball.sum(0)
        real_covered[s:s + rows] = in_real_ball.any(1)
        # recall: d2_ij < rf2_j  <=>  g_ij - rf2_j < -|r_i|^2 for some j
        g -= fake_thr[None, :]
        real_recalled[s:s + rows] = g.min(1).values < -r_sq[s:s + rows]
    return {
        KEY_PRECISION: float(fake_in_any.double().mean()),
        KEY_RECALL: float(real_recalled.double().mean()),
        KEY_DENSITY: float(fake_count.double().mean() / k),
        KEY_COVERAGE: float(real_covered.double().mean()),
    }
