"""How many steps PacGAN's 2-D recipe needs at a given width: high-quality share and modes, every k steps.

    python benchmarks/mixture_convergence.py --dataset ring8 --variant vanilla --seeds 8 --steps 20000 \
        --every 2000 [--g-hidden 128 --d-hidden 64]

Trains the seeds as one batched ensemble (as the build does) and evaluates every member's samples
(n = 2,500, eval-mode BatchNorm) every `--every` steps; prints per checkpoint the median and minimum
high-quality share, the number of members with all modes, and ms per step. The targets of the quick
profile: ring-8 runs of every variant reach >= 80 % high-quality samples, grid-25 PacGAN runs >= 50 %.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from bubblelens.core.config import MixtureParams
from bubblelens.datasets.mixtures import mixture_spec
from bubblelens.evaluation.failures import mode_coverage
from bubblelens.models.mlp_gan import MLPGANConfig
from bubblelens.training.mixture import _Ensemble


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
    ap.add_argument("--eval-only", action="store_true", help="skip the batch-statistics comparison")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    params = replace(MixtureParams(), steps=args.steps, g_hidden=args.g_hidden, d_hidden=args.d_hidden,
                     lr=args.lr, adam_beta1=args.beta1, standardise=args.standardise)
    pack = params.pack if args.variant == "pacgan" else 1
    cfg = MLPGANConfig(g_hidden=args.g_hidden, d_hidden=args.d_hidden, pack=pack)
    means, std = mixture_spec(args.dataset)
    ens = _Ensemble(cfg, params, args.dataset, tuple(range(args.seeds)), "cpu")
    print(f"{args.dataset} {args.variant} E={args.seeds} G {args.g_hidden} D {args.d_hidden} lr {args.lr} "
          f"beta1 {args.beta1} standardised {args.standardise}")
    print("step   ms/step  hq_median  hq_min  members_all_modes  modes_median  hq_median(batch-stat sampling)")
    t0 = time.perf_counter()
    for step in range(args.steps):
        ens.step(step)
        if (step + 1) % args.every == 0:
            elapsed = time.perf_counter() - t0
            samples = ens.samples(2500)
            cov = [mode_coverage(s[np.isfinite(s).all(1)], means, std) for s in samples]
            hq = np.array([c["high_quality"] for c in cov])
            modes = np.array([c["modes"] for c in cov])
            hq_b = float("nan")
            if not args.eval_only:  # G normalising a batch of 2,500 by its own statistics, for comparison;
                # training-mode BatchNorm updates the running statistics, so they are put back afterwards
                # (otherwise every checkpoint would shift the eval-mode samples of the next one).
                saved = [t.clone() for t in ens.g.running_mean + ens.g.running_var]
                with torch.no_grad():
                    batch = ens.g(torch.randn(args.seeds, 2500, 2), training=True) * ens.scale
                for t, v in zip(ens.g.running_mean + ens.g.running_var, saved):
                    t.copy_(v)
                hq_b = np.median([mode_coverage(s, means, std)["high_quality"] for s in batch.numpy()])
            print(f"{step + 1:6d}  {1000 * elapsed / (step + 1):6.2f}  {np.median(hq):8.3f}  {hq.min():6.3f}  "
                  f"{int((modes == len(means)).sum()):6d}/{args.seeds}  {np.median(modes):6.1f}  {hq_b:8.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
