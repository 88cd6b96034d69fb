"""How many steps PacGAN's 2-D recipe needs at a given width: high-quality share and modes, every k steps.

    python benchmarks/mixture_convergence.py --dataset ring8 --variant vanilla --seeds 8 --steps 20000 \
        --every 2000 [--g-hidden 128 --d-hidden 64]
    python benchmarks/mixture_convergence.py --smoke     # seconds: 2 seeds, 50 steps, tiny nets (CI)

Trains the seeds as one batched ensemble with the build's own trainer (`train_mixture_seeds`, the loop the
build runs) and has it keep every member's samples (n = 2,500, eval-mode BatchNorm, as the build's
checkpoints) every `--every` steps; prints per checkpoint the median and minimum high-quality share, the
number of members with all modes, and ms per step (the trainer's progress reports, so sampling is not
counted). The table comes once training has finished; progress goes to stderr meanwhile. The targets of
the quick profile: ring-8 runs of every variant reach >= 80 % high-quality samples, grid-25 PacGAN runs
>= 50 %.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from bubblelens.core.config import MixtureParams
from bubblelens.datasets.mixtures import mixture_spec
from bubblelens.evaluation.failures import mode_coverage
from bubblelens.training.mixture import train_mixture_seeds
from bubblelens.training.names import CHECKPOINT_SAMPLES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ring8")
    ap.add_argument("--variant", default="vanilla")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--every", type=int, default=2000)
    ap.add_argument("--g-hidden", type=int, default=400)
    ap.add_argument("--d-hidden", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--beta1", type=float, default=0.8)
    ap.add_argument("--standardise", action="store_true", help="train on standardised coordinates")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--samples", type=int, default=2500, help="samples per member at each checkpoint")
    ap.add_argument("--eval-only", action="store_true",
                    help="ignored (kept so that older command lines run): the batch-statistics column it "
                         "skipped needed the trainer's private ensemble and is gone")
    ap.add_argument("--smoke", action="store_true",
                    help="2 seeds, 50 steps, a checkpoint every 25, G 16 / D 16, 200 samples (seconds; CI)")
    args = ap.parse_args()
    if args.smoke:
        args.seeds, args.steps, args.every, args.g_hidden, args.d_hidden, args.samples = 2, 50, 25, 16, 16, 200
    torch.set_num_threads(args.threads)
    params = replace(MixtureParams(), steps=args.steps, g_hidden=args.g_hidden, d_hidden=args.d_hidden,
                     lr=args.lr, adam_beta1=args.beta1, standardise=args.standardise, eval_every=args.every,
                     eval_samples=args.samples, n_samples=args.samples)
    means, std = mixture_spec(args.dataset)
    reported: list[tuple[int, float]] = []          # (step, seconds since the start) at each progress report
    t0 = time.perf_counter()

    def progress(step: int, total: int, values: dict) -> None:
        before = reported[-1][0] if reported else 0
        reported.append((step, time.perf_counter() - t0))
        if step // args.every > before // args.every or step == total:       # passed a checkpoint
            print(f"  step {step} of {total}: {1000 * reported[-1][1] / step:.2f} ms/step", file=sys.stderr,
                  flush=True)

    print(f"{args.dataset} {args.variant} E={args.seeds} G {args.g_hidden} D {args.d_hidden} lr {args.lr} "
          f"beta1 {args.beta1} standardised {args.standardise}", flush=True)
    runs = train_mixture_seeds(params, args.dataset, args.variant, tuple(range(args.seeds)), "cpu",
                               progress=progress)
    steps = runs[0].config["checkpoint_steps"]
    checkpoints = np.stack([r.extras[CHECKPOINT_SAMPLES] for r in runs], axis=1)   # (checkpoints, E, n, 2)
    print("step   ms/step  hq_median  hq_min  members_all_modes  modes_median")
    for step, samples in zip(steps, checkpoints):
        # ms per step up to the first progress report at or after the checkpoint (one every few steps)
        at, elapsed = next(((s, t) for s, t in reported if s >= step), reported[-1])
        cov = [mode_coverage(s[np.isfinite(s).all(1)], means, std) for s in samples]
        hq = np.array([c["high_quality"] for c in cov])
        modes = np.array([c["modes"] for c in cov])
        print(f"{step:6d}  {1000 * elapsed / at:6.2f}  {np.median(hq):8.3f}  {hq.min():6.3f}  "
              f"{int((modes == len(means)).sum()):6d}/{args.seeds}  {np.median(modes):6.1f}", flush=True)


if __name__ == "__main__":
    main()
