"""Milliseconds per training step of a 2-D mixture GAN ensemble, this tree against a git revision.

    python benchmarks/mixture_step.py --ref HEAD~1 [--seeds 10 --g-hidden 64 --d-hidden 32 --steps 600]
    python benchmarks/mixture_step.py --smoke     # seconds: this tree against itself, vanilla, 25 + 25 steps (CI)

Each measurement runs in a fresh process with one torch thread (as a build's pool workers do), the
revision's code from a temporary worktree; runs alternate (ref, this tree, ref, ...) so that the
machine's drift hits both alike. Prints per variant the median and the fastest ms/step of each tree
and the ratio of the medians. Each run trains with the build's own trainer (`train_mixture_seeds`, a
public entry point every revision since the package layout has) and times its steps from the trainer's
progress reports, which come every few steps after a host sync: the first report at or after `--warmup`
steps starts the clock, the last one (the final step) stops it. Checkpoint sampling is off.
With --smoke and no --ref, "the revision" is this tree itself (no worktree, no git needed).
"""
from __future__ import annotations

import argparse
import statistics

from ref_tree import REPO, baseline, run_in_tree


# Runs inside the tree under test (PYTHONPATH points at it): times the steps after the warm-up.
TIMER = """
import json, sys, time
from dataclasses import fields, replace
import torch
from bubblelens.core.config import MixtureParams
from bubblelens.training.mixture import train_mixture_seeds
a = json.loads(sys.argv[1])
torch.set_num_threads(1)
p = replace(MixtureParams(), steps=a["steps"] + a["warmup"], g_hidden=a["g"], d_hidden=a["d"], n_samples=100)
if "eval_every" in {f.name for f in fields(p)}:       # no checkpoint samples (revisions before it had none)
    p = replace(p, eval_every=0)
reports = []
train_mixture_seeds(p, a["dataset"], a["variant"], tuple(range(a["seeds"])), "cpu",
                    progress=lambda step, total, values: reports.append((step, time.perf_counter())))
start = next((r for r in reports if r[0] >= a["warmup"]), None)
if start is None or reports[-1][0] <= start[0]:
    sys.exit(f"too few progress reports to time steps after the warm-up: {[s for s, _ in reports]}")
end = reports[-1]
print(json.dumps({"ms_per_step": 1000 * (end[1] - start[1]) / (end[0] - start[0])}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", help="git revision to compare against (e.g. HEAD~1); required without --smoke")
    ap.add_argument("--dataset", default="ring8")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--g-hidden", type=int, default=64)
    ap.add_argument("--d-hidden", type=int, default=32)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true",
                    help="E 2, G 8 / D 8, 25 warm-up + 25 timed steps, one run per tree, vanilla only; without "
                         "--ref this tree against itself (seconds; CI)")
    args = ap.parse_args()
    variants = ("vanilla", "pacgan")
    if args.smoke:
        args.seeds, args.g_hidden, args.d_hidden, args.steps, args.warmup, args.repeats = 2, 8, 8, 25, 25, 1
        variants = ("vanilla",)
    ref_name = args.ref or "this tree"
    with baseline(args.ref, args.smoke, ap, "bubblelens-step-") as (_, ref_tree):
        print(f"{args.dataset}, E {args.seeds}, G {args.g_hidden} / D {args.d_hidden}, 1 thread, "
              f"{args.steps} timed steps, {args.repeats} alternating runs per tree")
        print(f"{'variant':8s} {ref_name + ' median (min)':>22s} {'this tree median (min)':>24s} {'speed-up':>9s}")
        for variant in variants:
            spec = {"dataset": args.dataset, "variant": variant, "seeds": args.seeds, "g": args.g_hidden,
                    "d": args.d_hidden, "steps": args.steps, "warmup": args.warmup}
            ref, cur = [], []
            for _ in range(args.repeats):
                ref.append(run_in_tree(ref_tree, TIMER, spec)["ms_per_step"])
                cur.append(run_in_tree(REPO, TIMER, spec)["ms_per_step"])
            r, c = statistics.median(ref), statistics.median(cur)
            print(f"{variant:8s} {r:14.2f} ({min(ref):5.2f}) {c:16.2f} ({min(cur):5.2f}) {r / c:8.2f}x")


if __name__ == "__main__":
    main()
