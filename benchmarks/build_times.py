"""Wall time of `bubblelens build` in the situations the issues budget, side by side in one run.

    python benchmarks/build_times.py [--profile smoke|quick] [--ref REV] [--keep DIR] [--seed-cache DIR] [--edits N]
    python benchmarks/build_times.py --smoke      # seconds: the same three builds, each `--only data` (CI)

1. cold: empty cache, everything trained and rendered        (issue 25: smoke <= 45 s, quick <= 10 min)
2. warm: the same build again, nothing changed               (<= 3 s)
3. edit: one curated CSV value changed, then rebuilt          (<= 15 s)
Each build runs in a fresh process with a private cache, as a user would run it. With --ref REV the same
three situations also run for git revision REV (checked out in a temporary worktree and run from there),
interleaved with the current tree's, so both see the same machine load.

--smoke runs the same three situations through the same CLI, data copy, CSV edit and table, but each build
stops after its first stage (`--only data`: no training, no render), so it checks that this script and the
CLI still agree (options, the JSON summary, the data layout it edits) in seconds rather than timing builds.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ref_tree import REPO, checked_out


def build(profile: str, out: Path, cache: Path, data: Path, tree: Path, only: str | None) -> tuple[float, dict]:
    env = {**os.environ, "BUBBLELENS_CACHE": str(cache), "PYTHONPATH": str(tree)}
    stages = ["--only", only] if only else []
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bubblelens", "build", "--profile", profile, "--out", str(out),
                           "--data", str(data), "--quiet", *stages], capture_output=True, text=True, env=env,
                          cwd=tree)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}) in {tree}: {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def situations(profile: str, root: Path, tree: Path, only: str | None = None, seed_cache: Path | None = None,
               edits: int = 1):
    """Yield (situation, wall, summary) for cold, warm and `edits` edited builds of `tree` (each edit adds 1 to
    the same value; with `seed_cache`, the first build starts from a copy of that cache instead of an empty one)."""
    data = root / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(tree / "data", data, ignore=shutil.ignore_patterns("images"))
    cache, out = root / "cache", root / "out"
    # A cold build starts with no previous report either: one left by an earlier --keep run would add a
    # "what changed" section to the cold report and make the warm build re-render.
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    if seed_cache is not None:
        shutil.copytree(seed_cache, cache)
    first = "first (seeded cache)" if seed_cache is not None else "cold (empty cache)"
    yield (first, *build(profile, out, cache, data, tree, only))
    yield ("warm (nothing changed)", *build(profile, out, cache, data, tree, only))
    csv = data / "market" / "chatgpt_weekly_active_users.csv"
    for _ in range(edits):
        lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
        date, value, rest = lines[1].split(",", 2)
        lines[1] = f"{date},{float(value) + 1:g},{rest}"
        csv.write_text("".join(lines), encoding="utf-8")
        yield ("edit one CSV value", *build(profile, out, cache, data, tree, only))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", choices=["smoke", "quick"])
    parser.add_argument("--ref", help="also time this git revision (e.g. HEAD~3), interleaved")
    parser.add_argument("--keep", type=Path, help="keep outputs here instead of a temporary directory")
    parser.add_argument("--smoke", action="store_true",
                        help="each build `--only data`: checks the script against the CLI, times nothing real "
                             "(seconds; CI)")
    parser.add_argument("--seed-cache", type=Path,
                        help="start each tree's first build from a copy of this cache (the trained units of an "
                             "earlier build of the same training code) instead of an empty one: times the warm "
                             "and edit situations without the cold build; the first row is then not a cold time")
    parser.add_argument("--edits", type=int, default=1,
                        help="CSV-edit rebuilds per tree, interleaved (the edit situation is the noisiest)")
    args = parser.parse_args()
    only = "data" if args.smoke else None
    root = args.keep or Path(tempfile.mkdtemp(prefix="bubblelens-bench-"))
    with checked_out(args.ref, root / "ref-tree") as ref_tree:
        trees = ([(args.ref, ref_tree)] if args.ref else []) + [("current", REPO)]
        runs = {name: situations(args.profile, root / name.replace("/", "_"), tree, only, args.seed_cache,
                                 args.edits) for name, tree in trees}
        rows = []
        for _ in range(2 + args.edits):     # interleave: cold ref, cold current, warm ref, warm current, ...
            for name, gen in runs.items():
                rows.append((name, *next(gen)))
    print(f"profile {args.profile}{', --only data (smoke)' if args.smoke else ''}, {os.cpu_count()} CPUs, "
          f"outputs in {root}")
    print(f"{'tree':12s} {'situation':24s} {'wall s':>8s} {'computed':>9s} {'cached':>7s} {'pages':>6s}")
    for tree, name, wall, s in rows:
        print(f"{tree:12s} {name:24s} {wall:8.1f} {s['computed']:9d} {s['cached']:7d} {s.get('pages', 0):6d}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
