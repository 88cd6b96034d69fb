"""Wall time of `bubblelens build` in the situations the issues budget, side by side in one run.

    python benchmarks/build_times.py [--profile smoke|quick] [--keep DIR]

1. cold: empty cache, everything trained and rendered        (smoke < 60 s, quick < 10 min)
2. warm: the same build again, nothing changed               (< 10 s)
3. edit: one curated CSV value changed, then rebuilt          (quick < 30 s)
Each build runs in a fresh process with a private cache, as a user would run it.
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

REPO = Path(__file__).resolve().parent.parent


def build(profile: str, out: Path, cache: Path, data: Path) -> tuple[float, dict]:
    env = {**os.environ, "BUBBLELENS_CACHE": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bubblelens", "build", "--profile", profile, "--out", str(out),
                           "--data", str(data), "--quiet"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", choices=["smoke", "quick"])
    parser.add_argument("--keep", type=Path, help="keep outputs here instead of a temporary directory")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bubblelens-bench-"))
    data = root / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("images"))
    cache, out = root / "cache", root / "out"
    shutil.rmtree(cache, ignore_errors=True)

    rows = []
    wall, s = build(args.profile, out, cache, data)
    rows.append(("cold (empty cache)", wall, s))
    wall, s = build(args.profile, out, cache, data)
    rows.append(("warm (nothing changed)", wall, s))
    csv = data / "market" / "chatgpt_weekly_active_users.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    date, value, rest = lines[1].split(",", 2)
    lines[1] = f"{date},{float(value) + 1:g},{rest}"
    csv.write_text("".join(lines), encoding="utf-8")
    wall, s = build(args.profile, out, cache, data)
    rows.append(("edit one CSV value", wall, s))

    print(f"profile {args.profile}, {os.cpu_count()} CPUs, outputs in {root}")
    print(f"{'situation':28s} {'wall s':>8s} {'computed':>9s} {'cached':>7s} {'pages':>6s}")
    for name, wall, s in rows:
        print(f"{name:28s} {wall:8.1f} {s['computed']:9d} {s['cached']:7d} {s.get('pages', 0):6d}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
