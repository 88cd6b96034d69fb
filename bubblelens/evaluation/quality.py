"""Sample-quality metrics on feature vectors: FID, KID, precision/recall, density/coverage.

Features are (N, D) numpy arrays or torch tensors (from `bubblelens.evaluation.features`, or any embedding).
Results are float64-exact: FID differences between models are often a fraction of a unit and float32 Gram
matrices lose that (PRDC filters in float32 but verifies every close call in float64, see below).
Pairwise work (KID, PRDC, nearest neighbours) is batched in torch so it runs on CPU or GPU, and PRDC
works in row blocks so 50k x 50k never holds a full distance matrix.

Conventions (each matches a reference implementation, tested in tests/unit/evaluation/test_quality.py):
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
  Ties and duplicates follow exact arithmetic, not rounding luck: a distance equal to a radius up to
  float64 rounding (1e-12 relative) is a tie and is outside (strict <), and a radius within rounding of 0
  is exactly 0. Hence a real point with >= k exact copies in the real set has radius 0 and its ball
  contains nothing; a fake set made of > k copies of one point (total mode collapse) has fake radii 0,
  so recall = 0; identical real and fake sets of distinct points give precision = recall = coverage =
  density = 1 exactly (each ball strictly holds its centre and k - 1 others; the k-th is on the boundary).
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch

from bubblelens.evaluation.names import KEY_COVERAGE, KEY_DENSITY, KEY_PRECISION, KEY_RECALL

log = logging.getLogger(__name__)


DEFAULT_BLOCK_ELEMS = 1 << 22   # entries per distance block: 4M (32 MiB in float64); measured fastest on CPU
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


# ---- PRDC: float32 filter, exact float64 verification ----
#
# The three N x M Gram products dominate PRDC's cost. We form them in float32 (half the time and memory
# traffic of float64), with a rigorous bound e on the float32 error of each entry (inputs rounded to float32,
# a D-term dot product, one add: |error| <= 2(D + 12) u32 x S, S a sum of the magnitudes involved). A decision
# further than e from its threshold is certain; the few entries inside the band are recomputed exactly in
# float64 from coordinate differences. The result equals the float64 computation; a block with too many
# ambiguous entries (e.g. thousands of duplicates) is done wholly in float64 instead.

_U32 = 2.0 ** -24


def _pair_sq(a: torch.Tensor, b: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor, block_elems: int) -> torch.Tensor:
    """(P,) float64 squared distances |a[ia] - b[ib]|^2 from coordinate differences, in chunks."""
    step = max(1, block_elems // a.shape[1])
    out = []
    for s in range(0, len(ia), step):
        diff = a[ia[s:s + step]] - b[ib[s:s + step]]                     # (P', D)
        out.append((diff * diff).sum(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=a.dtype, device=a.device)


def _kth_per_row(rows: torch.Tensor, vals: torch.Tensor, n_rows: int, k: int) -> torch.Tensor:
    """The (k+1)-th smallest of vals in each row; rows ascending (nonzero order), >= k+1 entries per row."""
    order = torch.argsort(vals, stable=True)
    order = order[torch.argsort(rows[order], stable=True)]              # by row, then by value
    counts = torch.bincount(rows, minlength=n_rows)
    starts = torch.cumsum(counts, 0) - counts
    return vals[order][starts + k]


def _knn_radii_mixed(x: torch.Tensor, k: int, block_elems: int) -> torch.Tensor:
    """knn_sq_radii with float32 candidates and exact float64 verification (identical result)."""
    n, d = x.shape
    x_sq = (x * x).sum(1)                                                 # (N,) float64
    x32, x_sq32 = x.float(), x_sq.float()
    err = 2.0 * (d + 12) * _U32 * (x_sq + x_sq.max())                      # (N,) bound on |g32 - g|
    rows = _rows_per_block(n, block_elems)
    out = []
    for s in range(0, n, rows):
        g = torch.addmm(x_sq32[None, :], x32[s:s + rows], x32.T, beta=1.0, alpha=-2.0)   # (B, N) float32
        kth = torch.topk(g, k + 1, dim=1, largest=False).values[:, -1:]                   # (B, 1)
        cand = g <= kth + (2.0 * err[s:s + rows, None]).float()          # holds every true k+1 nearest
        ii, jj = cand.nonzero(as_tuple=True)
        if len(ii) > cand.numel() // 16:                                 # degenerate block: plain float64
            g64 = _gram_rows(x[s:s + rows], x, x_sq)
            out.append(torch.topk(g64, k + 1, dim=1, largest=False).values[:, -1] + x_sq[s:s + rows])
            continue
        d2 = _pair_sq(x[s:s + rows], x, ii, jj, block_elems)
        out.append(_kth_per_row(ii, d2, cand.shape[0], k))
    return _snap(torch.cat(out), x_sq)


def prdc(real: Any, fake: Any, k: int = 5, block_elems: int = DEFAULT_BLOCK_ELEMS,
         device: str | torch.device | None = None, mixed: bool = True) -> dict:
    """Precision, recall, density, coverage with the `prdc` package's conventions (module notes).

    Works on row blocks of at most `block_elems` distances, so memory is O(block_elems + N + M).
    `mixed=True` (default) filters in float32 and verifies in float64 (same answer, ~2x faster on CPU);
    `mixed=False` computes every distance in float64.
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
    radii = _knn_radii_mixed if mixed else knn_sq_radii
    real_r2 = _ball_threshold(radii(r, k, block_elems), r_sq)                     # (N,) d2 < this: in ball i
    fake_r2 = _ball_threshold(radii(f, k, block_elems), f_sq)                     # (M,)
    real_thr = real_r2 - r_sq                                                     # (N,) g_ij < this: in ball i
    fake_count = torch.zeros(len(f), dtype=torch.int64, device=dev)              # (M,) density; > 0: precision
    real_covered = torch.zeros(len(r), dtype=torch.bool, device=dev)             # (N,) coverage
    real_recalled = torch.zeros(len(r), dtype=torch.bool, device=dev)            # (N,) recall
    rows = _rows_per_block(len(f), block_elems)
    if mixed:
        finite_rf = fake_r2[torch.isfinite(fake_r2)].abs()
        scale = f_sq.max() + (finite_rf.max() if len(finite_rf) else 0.0)
        err = 2.0 * (r.shape[1] + 12) * _U32 * (r_sq + scale + real_thr.abs().nan_to_num(posinf=0.0))  # (N,)
        f32, f_sq32, rf32 = f.float(), f_sq.float(), fake_r2.float()
    for s in range(0, len(r), rows):
        blk = slice(s, s + rows)
        if not mixed or not _prdc_block_mixed(r, f, f32, f_sq32, rf32, real_thr, real_r2, fake_r2, r_sq, err, blk,
                                              fake_count, real_covered, real_recalled, block_elems):
            g = torch.addmm(f_sq[None, :], r[blk], f.T, beta=1.0, alpha=-2.0)  # (B, M) d2 - |r_i|^2
            in_real_ball = g < real_thr[blk, None]                             # (B, M)
            # summing bytes as int32 is ~2x faster than summing bool; B < 2^31 so it cannot overflow
            fake_count += in_real_ball.view(torch.uint8).sum(0, dtype=torch.int32)
            real_covered[blk] = in_real_ball.any(1)
            # recall: d2_ij < rf2_j  <=>  g_ij - rf2_j < -|r_i|^2 for some j
            g -= fake_r2[None, :]
            real_recalled[blk] = g.min(1).values < -r_sq[blk]
    return {
        KEY_PRECISION: float((fake_count > 0).double().mean()),
        KEY_RECALL: float(real_recalled.double().mean()),
        KEY_DENSITY: float(fake_count.double().mean() / k),
        KEY_COVERAGE: float(real_covered.double().mean()),
    }


def _prdc_block_mixed(r: torch.Tensor, f: torch.Tensor, f32: torch.Tensor, f_sq32: torch.Tensor,
                      rf32: torch.Tensor, real_thr: torch.Tensor, real_r2: torch.Tensor, fake_r2: torch.Tensor,
                      r_sq: torch.Tensor, err: torch.Tensor, blk: slice, fake_count: torch.Tensor,
                      real_covered: torch.Tensor, real_recalled: torch.Tensor, block_elems: int) -> bool:
    """One row block of PRDC in float32 with exact verification; False (nothing updated) if degenerate.

    r (N, D), f (M, D) float64 centred features; *32 their float32 copies; real_thr (N,) threshold on
    g = d2 - |r_i|^2; real_r2 (N,), fake_r2 (M,) guarded squared radii; err (N,) float32 error bound per row.
    Updates fake_count (M,), real_covered (N,), real_recalled (N,) in place.
    """
    g = torch.addmm(f_sq32[None, :], r[blk].float(), f32.T, beta=1.0, alpha=-2.0)   # (B, M) float32
    thr, e = real_thr[blk, None].float(), err[blk, None].float()                     # (B, 1)
    sure_in = g < thr - e                                                            # (B, M)
    ii, jj = ((g >= thr - e) & (g <= thr + e)).nonzero(as_tuple=True)               # ambiguous pairs
    g -= rf32[None, :]                                                               # recall: h_ij
    h_min = g.min(1).values                                                          # (B,)
    target = -r_sq[blk].float()
    amb_rows = ((h_min >= target - e[:, 0]) & (h_min <= target + e[:, 0])).nonzero(as_tuple=True)[0]
    ri, rj = (g[amb_rows] <= (target + e[:, 0])[amb_rows, None]).nonzero(as_tuple=True)
    if len(ii) + len(ri) > g.numel() // 16:
        return False
    base = blk.start
    ok = _pair_sq(r, f, ii + base, jj, block_elems) < real_r2[ii + base]
    fake_count += sure_in.view(torch.uint8).sum(0, dtype=torch.int32)
    fake_count += torch.bincount(jj[ok], minlength=len(f))
    covered = sure_in.any(1)
    covered[ii[ok]] = True
    real_covered[blk] = covered
    recalled = h_min < target - e[:, 0]
    rows_abs = amb_rows[ri]
    hit = _pair_sq(r, f, rows_abs + base, rj, block_elems) < fake_r2[rj]
    recalled[rows_abs[hit]] = True
    real_recalled[blk] = recalled
    return True
