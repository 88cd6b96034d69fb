"""Milliseconds per training step of a 2-D mixture GAN ensemble, this tree against a git revision.

    python benchmarks/mixture_step.py --ref HEAD~1 [--seeds 10 --g-hidden 64 --d-hidden 32 --steps 600]

Each measurement runs in a fresh process with one torch thread (as a build's pool workers do), the
revision's code from a temporary worktree; runs alternate (ref, this tree, ref, ...) so that the
machine's drift hits both alike. Prints per variant the median and the fastest ms/step of each tree
and the ratio of the medians.
The first `--warmup` steps are not timed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside the tree under test (PYTHONPATH points at it): times `steps` ensemble steps.
TIMER = """
import json, sys, time
from dataclasses import replace
import torch
from bubblelens.core.config import MixtureParams
from bubblelens.models.mlp_gan import MLPGANConfig
from bubblelens.training.mixture import _Ensemble
a = json.loads(sys.argv[1])
torch.set_num_threads(1)
p = replace(MixtureParams(), steps=a["steps"] + a["warmup"], g_hidden=a["g"], d_hidden=a["d"])
pack = p.pack if a["variant"] == "pacgan" else 1
ens = _Ensemble(MLPGANConfig(g_hidden=a["g"], d_hidden=a["d"], pack=pack), p, a["dataset"],
                tuple(range(a["seeds"])), "cpu")
for s in range(a["warmup"]):
    ens.step(s)
t = time.perf_counter()
for s in range(a["warmup"], a["warmup"] + a["steps"]):
    ens.step(s)
print(json.dumps({"ms_per_step": 1000 * (time.perf_counter() - t) / a["steps"]}))
"""


def time_tree(tree: Path, args: dict) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", TIMER, json.dumps(args)], env=env,
                         capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        sys.exit(f"timing {tree} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])["ms_per_step"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="git revision to compare against (e.g. HEAD~1)")
    ap.add_argument("--dataset", default="ring8")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--g-hidden", type=int, default=64)
    ap.add_argument("--d-hidden", type=int, default=32)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bubblelens-step-") as tmp:
        ref_tree = Path(tmp) / "ref-tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(ref_tree), args.ref],
                       check=True, capture_output=True)
        try:
            print(f"{args.dataset}, E {args.seeds}, G {args.g_hidden} / D {args.d_hidden}, 1 thread, "
                  f"{args.steps} timed steps, {args.repeats} alternating runs per tree")
            print(f"{'variant':8s} {args.ref + ' median (min)':>22s} {'this tree median (min)':>24s} {'speed-up':>9s}")
            for variant in ("vanilla", "pacgan"):
                spec = {"dataset": args.dataset, "variant": variant, "seeds": args.seeds, "g": args.g_hidden,
                        "d": args.d_hidden, "steps": args.steps, "warmup": args.warmup}
                ref, cur = [], []
                for _ in range(args.repeats):
                    ref.append(time_tree(ref_tree, spec))
                    cur.append(time_tree(REPO, spec))
                r, c = statistics.median(ref), statistics.median(cur)
                print(f"{variant:8s} {r:14.2f} ({min(ref):5.2f}) {c:16.2f} ({min(cur):5.2f}) {r / c:8.2f}x")
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(ref_tree)],
                           capture_output=True)


if __name__ == "__main__":
    main()
