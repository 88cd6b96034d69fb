"""`bsadf_at_ends` (the sieve wild bootstrap's inner loop) in this tree against a git revision, side by side.

The input is what a hype-explosive claim asks for: 499 bootstrap-like series of T = 1,863 (the S&P 500's
monthly valuation ratios since 1871: AR(1) changes, φ = 0.56, spread rising 1 -> 3), BSADF at the last
41 ends, at lags 0, 1 and 6 (the BIC lags of the P/D, CAPE and P/E ratios). Each tree runs in its own
process (one warm-up call, which in this tree includes numba's compilation or cache load, then the best of
--repeats timed calls); trees alternate per lag. Also printed: the largest difference between the two
trees' results.

    python benchmarks/bsadf_kernel.py --ref 3e28ad1         # ~2 minutes on one core
    python benchmarks/bsadf_kernel.py --smoke               # seconds: 8 series of 200, this tree twice (CI)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ref_tree import REPO, baseline

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from bubblelens.analysis.explosive_bootstrap import bsadf_at_ends
from bubblelens.analysis.timeseries import default_min_window
reps, t_len, ends, lag, repeats = (int(a) for a in sys.argv[2:7])
out = sys.argv[7]
rng = np.random.default_rng(2026)
e = rng.standard_normal((reps, t_len)) * np.linspace(1.0, 3.0, t_len)
u = np.empty_like(e)
u[:, 0] = e[:, 0]
for t in range(1, t_len):
    u[:, t] = 0.56 * u[:, t - 1] + e[:, t]
y = 50.0 + np.cumsum(u, axis=1)
minw = default_min_window(t_len)
t0 = time.perf_counter()
got = bsadf_at_ends(y, minw, lag, t_len - ends + 1, t_len)
first = time.perf_counter() - t0
best = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    got = bsadf_at_ends(y, minw, lag, t_len - ends + 1, t_len)
    best = min(best, time.perf_counter() - t0)
np.save(out, got)
print(json.dumps({"first": first, "best": best}))
"""


def time_tree(tree: Path, reps: int, t_len: int, ends: int, lag: int, repeats: int, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(reps), str(t_len), str(ends), str(lag),
                           str(repeats), str(out)], check=True, capture_output=True, text=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", help="git revision to compare against; required without --smoke")
    ap.add_argument("--reps", type=int, default=499)
    ap.add_argument("--length", type=int, default=1863)
    ap.add_argument("--ends", type=int, default=41)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="8 series of 200, 10 ends, one timed call, this tree "
                                                          "against itself unless --ref is given")
    args = ap.parse_args()
    if args.smoke:
        args.reps, args.length, args.ends, args.repeats = 8, 200, 10, 1
    with baseline(args.ref, args.smoke, ap, "bubblelens-bsadf-") as (tmp, ref_tree):
        print(f"bsadf_at_ends: {args.reps} series of {args.length}, last {args.ends} ends, 1 thread, "
              f"best of {args.repeats} after one warm-up call")
        print(f"{'lag':>4} {(args.ref or 'this tree') + ' s':>14} {'this tree s':>12} {'speed-up':>9} "
              f"{'first call s':>13} {'max |diff|':>11}")
        for lag in (0, 1, 6):
            ref = time_tree(ref_tree, args.reps, args.length, args.ends, lag, args.repeats, tmp / "ref.npy")
            cur = time_tree(REPO, args.reps, args.length, args.ends, lag, args.repeats, tmp / "cur.npy")
            diff = float(np.nanmax(np.abs(np.load(tmp / "ref.npy") - np.load(tmp / "cur.npy"))))
            print(f"{lag:>4} {ref['best']:>14.3f} {cur['best']:>12.3f} {ref['best'] / cur['best']:>8.2f}x "
                  f"{cur['first']:>13.2f} {diff:>11.2e}")


if __name__ == "__main__":
    main()
