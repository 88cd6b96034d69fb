"""Cost of one shipped critical-value table with null draws: simulation time and file sizes.

Simulates `critical_values(n)` (2,000 replications, seed 123, lag 0, PSY minimum window), prints wall
and CPU time and peak memory, writes the table with `save_table` (CSV + JSON + `_draws.csv` +
`_tail.csv`) and prints every file's size next to the compressed-npz alternative for the draws and
tail (float64 and float32), and whether npz bytes are reproducible (zip entries carry a timestamp).

    python benchmarks/critical_value_tables.py                              # n = 1830, temp dir
    python benchmarks/critical_value_tables.py --n 1830 --out data/critical_values   # also ships it
    python benchmarks/critical_value_tables.py --smoke      # seconds: n = 60, 20 replications, temp dir (CI)

Run one at a time: the simulation is single-process numpy and takes minutes at n ~ 1,800.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bubblelens.analysis.critical_values import DEFAULT_REPS, DEFAULT_SEED, critical_values, save_table


def _npz_bytes(cv, path: Path, dtype) -> bytes:
    np.savez_compressed(path, adf=cv.draws["adf"], sadf=cv.draws["sadf"], gsadf=cv.draws["gsadf"],
                        tail=cv.bsadf_tail.astype(dtype))
    return path.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help="sample size (default 1830; 60 with --smoke)")
    parser.add_argument("--reps", type=int, default=None,
                        help=f"replications (default {DEFAULT_REPS}; 20 with --smoke)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="write the table here (default: a temporary folder)")
    parser.add_argument("--smoke", action="store_true",
                        help="the same steps at n = 60 and 20 replications, into a temporary folder that is "
                             "removed, without the 2 s pause of the npz check (seconds; CI)")
    args = parser.parse_args()
    if args.smoke and args.out is not None:
        parser.error("--smoke writes to a temporary folder only: a smoke table must never replace a real one")
    args.n = args.n if args.n is not None else (60 if args.smoke else 1830)
    args.reps = args.reps if args.reps is not None else (20 if args.smoke else DEFAULT_REPS)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="cv_bench_smoke_") as tmp:
            run(args, Path(tmp), pause=0.0)
    else:
        run(args, args.out or Path(tempfile.mkdtemp(prefix="cv_bench_")), pause=2.1)


def run(args: argparse.Namespace, out: Path, pause: float) -> None:
    w0, c0 = time.perf_counter(), time.process_time()
    cv = critical_values(args.n, None, 0, args.reps, args.seed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"n={args.n} min_window={cv.min_window} reps={args.reps}: wall {wall:.1f} s, CPU {cpu:.1f} s, "
          f"peak RSS {peak:.0f} MiB")
    print(f"gsadf 90/95/99 %: {', '.join(f'{v:.4f}' for v in cv.gsadf)}")
    csv = save_table(cv, out)
    for f in sorted(out.glob(f"{csv.stem}*")):
        print(f"{f.stat().st_size:>10,d}  {f.name}")
    with tempfile.TemporaryDirectory() as tmp:
        a = _npz_bytes(cv, Path(tmp) / "a.npz", np.float64)
        time.sleep(pause)                 # zip timestamps have a 2 s resolution
        b = _npz_bytes(cv, Path(tmp) / "b.npz", np.float64)
        c = _npz_bytes(cv, Path(tmp) / "c.npz", np.float32)
    same = f"{a == b}" if pause >= 2 else "not checked without the pause"
    print(f"{len(a):>10,d}  draws + tail as compressed npz, float64 (bytes reproducible: {same})")
    print(f"{len(c):>10,d}  draws + tail as compressed npz, float32 tail")


if __name__ == "__main__":
    main()
