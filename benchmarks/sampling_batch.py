"""Seconds of flow matching's NFE sweep on a CPU, this tree against a git revision, and whether the images agree.

    python benchmarks/sampling_batch.py --ref 7d1c8e6 [--n 1000 --nfe 1 2 4 8 16 --repeats 3]
    python benchmarks/sampling_batch.py --smoke      # seconds: this tree against itself, 4 channels, 100 images (CI)

Each measurement runs in a fresh process with one torch thread, as a build's pool worker samples, and makes
the images the trainer makes (`training.flow.generate_sweep`, the first evaluation shared by every NFE, where the
tree has it; `generate` once per NFE before) with the network the trainer samples through
(`training.sampling.sampling_velocity`: compiled above its FLOP threshold, checked on the batch shape the
tree's `generate` evaluates: whole 1,000-image chunks before `eval_batch`, `eval_batch("cpu")` after).
The U-Net is the quick profile's (16 channels), initialised from seed 0 (speed does not depend on the
weights). Runs alternate (revision, this tree, ...), so that the machine's drift hits both alike; prints the
median seconds of each tree, the speed-up and whether every image of every NFE is equal, bit for bit.
With --smoke and no --ref, "the revision" is this tree itself (no worktree, no git needed).
"""
from __future__ import annotations

import argparse
import statistics

from ref_tree import REPO, baseline, run_in_tree

# Runs inside the tree under test (PYTHONPATH points at it).
TIMER = """
import hashlib, json, math, sys, time
import torch
from bubblelens.models.flow import UNet, UNetConfig
from bubblelens.training import flow
from bubblelens.training.sampling import sampling_velocity
a = json.loads(sys.argv[1])
torch.set_num_threads(1)
torch.manual_seed(0)
model = UNet(UNetConfig(channels=a["channels"]))
batch = min(flow.eval_batch("cpu") if hasattr(flow, "eval_batch") else flow.SAMPLE_CHUNK, a["n"])
t0 = time.perf_counter()
velocity, backend = sampling_velocity(model, math.inf if a["compiled"] else 0, "cpu", torch.zeros(batch, 1, 28, 28))
t1 = time.perf_counter()
digest = hashlib.sha256()
if hasattr(flow, "generate_sweep"):    # the whole sweep at once, the first evaluation shared (as the trainer)
    swept = flow.generate_sweep(model, a["n"], 0, tuple(a["nfe"]), "cpu", velocity)
    for nfe in a["nfe"]:
        digest.update(swept[nfe].tobytes())
else:
    for nfe in a["nfe"]:
        digest.update(flow.generate(model, a["n"], 0, nfe, "cpu", velocity).tobytes())
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "compile_s": t1 - t0, "backend": backend, "images": digest.hexdigest()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", help="git revision to compare against; required without --smoke")
    ap.add_argument("--n", type=int, default=1000, help="images per NFE")
    ap.add_argument("--nfe", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="4 channels, 100 images, NFE 1 and 2, one run per tree")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.nfe, args.channels, args.repeats = 100, [1, 2], 4, 1
    ref_name = args.ref or "this tree"
    with baseline(args.ref, args.smoke, ap, "bubblelens-sampling-") as (_, ref_tree):
        print(f"U-Net {args.channels} channels, {args.n} images at NFE {args.nfe}, 1 thread, "
              f"{args.repeats} alternating runs per tree")
        print(f"{'network':9s} {ref_name + ' median s':>18s} {'this tree median s':>19s} {'speed-up':>9s} "
              f"{'same images':>12s}")
        for compiled in ((False,) if args.smoke else (False, True)):
            spec = {"n": args.n, "nfe": args.nfe, "channels": args.channels, "compiled": compiled}
            ref, cur = [], []
            for _ in range(args.repeats):
                ref.append(run_in_tree(ref_tree, TIMER, spec))
                cur.append(run_in_tree(REPO, TIMER, spec))
            r = statistics.median(x["seconds"] for x in ref)
            c = statistics.median(x["seconds"] for x in cur)
            same = len({x["images"] for x in ref + cur}) == 1
            print(f"{cur[0]['backend']:9s} {r:18.2f} {c:19.2f} {r / c:8.2f}x {'yes' if same else 'NO':>12s}")


if __name__ == "__main__":
    main()
