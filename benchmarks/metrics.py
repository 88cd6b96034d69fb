"""Side-by-side: bubblelens metrics vs the reference packages, same inputs, one run.

    python benchmarks/metrics.py [--n 10000] [--dim 64] [--device cpu|cuda] [--large 0] [--threads 0]
    python benchmarks/metrics.py --smoke      # seconds: N = 300, D = 8, KID on 5 subsets of 100 (CI)

Checks agreement (PRDC to 1e-6 absolute against `prdc`, FID to 1e-6 relative against the
scipy.linalg.sqrtm route of pytorch-fid) and prints wall times and speed-ups. With --large N it also runs
PRDC at N x N on our blocked implementation alone (the reference would need three N x N float64 matrices:
60 GB at N = 50k) and reports peak RSS, to show the distance matrix is never held whole.
Timings are wall-clock on whatever else the machine is doing: run it on an idle machine.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import resource
import time

import numpy as np
import torch
from prdc import compute_prdc
from scipy import linalg

from bubblelens.evaluation import quality as metrics


def structured_features(n: int, dim: int, rng: np.random.Generator, shift: float) -> np.ndarray:
    """Clustered, anisotropic features (like classifier embeddings), not just white noise: 10 fixed
    clusters (seed 123) shared by both sets; `shift` moves the whole set."""
    layout = np.random.default_rng(123)
    centres = layout.standard_normal((10, dim)) * 1.5
    scales = layout.uniform(0.5, 1.5, size=dim)
    return centres[rng.integers(0, 10, n)] + rng.standard_normal((n, dim)) * scales + shift


def fid_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--large", type=int, default=0, help="also run blocked PRDC alone at this N (e.g. 50000)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--smoke", action="store_true",
                    help="every comparison at N = 300, D = 8, KID on 5 subsets of 100, --large 400; exits 1 on a "
                         "mismatch (seconds; CI)")
    args = ap.parse_args()
    kid_subsets, kid_size = 100, 1000
    if args.smoke:
        args.n, args.dim, args.large = 300, 8, 400
        kid_subsets, kid_size = 5, 100
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    real = structured_features(args.n, args.dim, rng, 0.0)
    fake = structured_features(args.n, args.dim, rng, 0.2)
    print(f"N = {args.n} x {args.n}, D = {args.dim}, k = {args.k}, device = {args.device}, "
          f"torch threads = {torch.get_num_threads()}")

    metrics.prdc(real[:100], fake[:100], k=args.k, device=args.device)  # warm-up (library init), not timed
    ours, t_ours = timed(metrics.prdc, real, fake, k=args.k, device=args.device)
    with contextlib.redirect_stdout(io.StringIO()):
        ref, t_ref = timed(compute_prdc, real, fake, args.k)
    worst = max(abs(ours[key] - float(ref[key])) for key in ref)
    print(f"PRDC  bubblelens {t_ours:7.2f} s   prdc {t_ref:7.2f} s   speed-up {t_ref / t_ours:5.1f}x   "
          f"max |diff| {worst:.1e}  {'OK' if worst <= 1e-6 else 'MISMATCH'}")
    print("      " + "  ".join(f"{key}={ours[key]:.4f}" for key in ours))

    f_ours, t_fo = timed(metrics.fid, real, fake)
    f_ref, t_fr = timed(fid_sqrtm, real, fake)
    rel = abs(f_ours - f_ref) / abs(f_ref)
    print(f"FID   bubblelens {t_fo:7.2f} s   sqrtm {t_fr:7.2f} s   speed-up {t_fr / t_fo:5.1f}x   "
          f"rel diff {rel:.1e}  {'OK' if rel <= 1e-6 else 'MISMATCH'}   fid={f_ours:.6f}")

    (k_mean, k_std), t_k = timed(metrics.kid, real, fake, subsets=kid_subsets, subset_size=kid_size,
                                 device=args.device)
    print(f"KID   bubblelens {t_k:7.2f} s   ({kid_subsets} subsets of {kid_size})   kid={k_mean:.6f} +- {k_std:.6f}")

    if args.smoke and (worst > 1e-6 or rel > 1e-6):
        raise SystemExit("smoke: bubblelens and the reference disagree (MISMATCH above)")
    if args.large:
        big_r = structured_features(args.large, args.dim, rng, 0.0)
        big_f = structured_features(args.large, args.dim, rng, 0.2)
        res, t_big = timed(metrics.prdc, big_r, big_f, k=args.k, device=args.device)
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        full_gib = 3 * args.large**2 * 8 / 2**30
        print(f"PRDC  blocked {args.large} x {args.large}: {t_big:.1f} s, peak RSS {peak_gib:.2f} GiB "
              f"(full float64 matrices would need {full_gib:.0f} GiB)   "
              + "  ".join(f"{key}={res[key]:.4f}" for key in res))


if __name__ == "__main__":
    main()
