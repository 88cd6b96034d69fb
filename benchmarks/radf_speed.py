"""Side by side: bubblelens' recursive ADF engine vs plain per-window OLS (np.linalg.lstsq).

Runs both on the first n months of the PSY (2015) S&P 500 price/dividend series (lag 0, exuber's
default minimum window), prints wall times, the speed-up and the largest difference in BADF/BSADF.
The plain engine solves every one of the ~(T - minw)^2 / 2 window regressions separately; at
n = 1680 that is ~1.26 million lstsq calls (a minute or more), so it is opt-in:

    python benchmarks/radf_speed.py                 # n = 100, 200, 400
    python benchmarks/radf_speed.py --n 1680        # the full PSY sample, both engines
    python benchmarks/radf_speed.py --mc 1680       # also time critical-value simulation (100 reps)
    python benchmarks/radf_speed.py --smoke         # seconds: n = 40 and the simulation at n = 40, 5 reps (CI)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bubblelens.analysis.critical_values import simulate_statistics
from bubblelens.analysis.timeseries import default_min_window, radf

SP500 = Path(__file__).resolve().parents[1] / "tests" / "data" / "psy2015_sp500_pd.csv"


def naive_radf(y: np.ndarray, minw: int) -> tuple[np.ndarray, np.ndarray]:
    """BADF, BSADF by one lstsq per window (lag 0): the reference the fast engine must equal."""
    dy, x = np.diff(y), y[:-1]
    rows = len(dy)
    badf = np.empty(rows - minw + 1)
    bsadf = np.full(rows - minw + 1, -np.inf)
    for start in range(rows - minw + 1):
        for end in range(start + minw - 1, rows):
            z = np.column_stack([np.ones(end - start + 1), x[start:end + 1]])
            beta, ssr, *_ = np.linalg.lstsq(z, dy[start:end + 1], rcond=None)
            s2 = ssr[0] / (end - start + 1 - 2)
            t = beta[1] / np.sqrt(s2 * np.linalg.inv(z.T @ z)[1, 1])
            i = end - minw + 1
            if start == 0:
                badf[i] = t
            bsadf[i] = max(bsadf[i], t)
    return badf, bsadf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="sample sizes (repeatable)")
    parser.add_argument("--mc", type=int, help="also time 100 Monte Carlo replications at this n")
    parser.add_argument("--smoke", action="store_true",
                        help="both engines at n = 40 and the simulation at n = 40 with 5 replications "
                             "(seconds; CI)")
    args = parser.parse_args()
    mc_reps = 100
    if args.smoke:
        args.n, args.mc, mc_reps = args.n or [40], 40, 5
    sp = pd.read_csv(SP500)
    y_all = sp.loc[sp.in_psy2015_sample == 1, "pd_ratio"].to_numpy()
    print(f"{'n':>6} {'minw':>5} {'windows':>9} {'engine s':>9} {'lstsq s':>9} {'speed-up':>9} {'max |diff|':>11}")
    for n in args.n or [100, 200, 400]:
        y = y_all[:n]
        minw = default_min_window(n)
        t0 = time.perf_counter()
        fast = radf(y, minw)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        badf, bsadf = naive_radf(y, minw)
        t_slow = time.perf_counter() - t0
        k = n - 1 - minw + 1
        diff = max(np.abs(fast.badf - badf).max(), np.abs(fast.bsadf - bsadf).max())
        print(f"{n:>6} {minw:>5} {k * (k + 1) // 2:>9} {t_fast:>9.3f} {t_slow:>9.2f} {t_slow / t_fast:>8.0f}x {diff:>11.2e}")
    if args.mc:
        t0 = time.perf_counter()
        simulate_statistics(args.mc, default_min_window(args.mc), 0, mc_reps, seed=0)
        dt = time.perf_counter() - t0
        print(f"Monte Carlo n={args.mc}: {dt:.1f} s per {mc_reps} replications "
              f"(~{dt * 2000 / mc_reps / 60:.1f} min for 2,000)")


if __name__ == "__main__":
    main()
