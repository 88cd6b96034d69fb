"""A cold build beside another CPU-bound job, against the same build on an idle machine, in one run.

    python benchmarks/under_load.py [--profile smoke|quick] [--beside N] [--repeats R] [--keep DIR]
    python benchmarks/under_load.py --smoke      # seconds: the same pairs, each build `--only data` (CI)

Issue 25: "a quick build beside another CPU-bound job takes at most 2x its idle time". The other job is
`--beside` processes (default 1), each multiplying 512x512 float64 matrices with one BLAS thread forever, as
another user's single-threaded numerical job would; they start with the build and are killed when it ends.
Each repeat runs the idle build first, then the loaded one, each from an empty cache and in a fresh process
(build_times.build), so that a drifting machine meets both about equally. Prints each build's wall time and
the loaded/idle ratio.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from build_times import build
from ref_tree import REPO

HOG = ("import numpy as np\n"
       "a = np.random.default_rng(0).random((512, 512))\n"
       "while True:\n"
       "    a = a @ a\n"
       "    a /= np.abs(a).max()\n")


@contextmanager
def cpu_jobs(n: int):
    """`n` single-threaded CPU-bound processes, running for the duration of the block."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", HOG], env=env) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def cold_build(profile: str, root: Path, only: str | None) -> tuple[float, dict]:
    """One build of this tree from an empty cache, with its own copy of the curated data."""
    shutil.rmtree(root, ignore_errors=True)
    data = root / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("images"))
    return build(profile, root / "out", root / "cache", data, REPO, only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=["smoke", "quick"])
    parser.add_argument("--beside", type=int, default=1, help="CPU-bound processes running beside the build")
    parser.add_argument("--repeats", type=int, default=1, help="idle/loaded pairs")
    parser.add_argument("--keep", type=Path, help="keep outputs here instead of a temporary directory")
    parser.add_argument("--smoke", action="store_true",
                        help="each build `--only data`: checks the script against the CLI, times nothing real")
    args = parser.parse_args()
    only = "data" if args.smoke else None
    root = args.keep or Path(tempfile.mkdtemp(prefix="bubblelens-load-"))
    rows = []
    for repeat in range(args.repeats):
        idle, _ = cold_build(args.profile, root / f"idle-{repeat}", only)
        with cpu_jobs(args.beside):
            loaded, _ = cold_build(args.profile, root / f"loaded-{repeat}", only)
        rows.append((idle, loaded))
        print(f"repeat {repeat}: idle {idle:.1f} s, beside {args.beside} CPU job(s) {loaded:.1f} s, "
              f"ratio {loaded / idle:.2f}", flush=True)
    print(f"profile {args.profile}{', --only data (smoke)' if args.smoke else ''}, {os.cpu_count()} CPUs, "
          f"{args.beside} CPU-bound job(s) beside the loaded builds, outputs in {root}")
    print(f"{'repeat':>6s} {'idle s':>8s} {'loaded s':>9s} {'ratio':>6s}")
    for repeat, (idle, loaded) in enumerate(rows):
        print(f"{repeat:6d} {idle:8.1f} {loaded:9.1f} {loaded / idle:6.2f}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
