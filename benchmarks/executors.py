"""Which executor the default build should use: the quick profile's training units, side by side in one run.

    python benchmarks/executors.py [--steps 300] [--mixture-steps 1000]

Runs the same units (3 DCGAN and 3 VAE seeds, the four mixture ensembles; shortened to --steps so the
comparison takes minutes) through: serial with 1 torch thread, serial with 2 threads, and the local pool
of 2 single-threaded worker processes. Prints wall time and the speed-up over two-thread serial, the
obvious alternative on a 2-core machine. Results differ between thread counts, so whichever wins fixes the
thread count of every unit (BuildConfig.threads) — the comparison is of wall time only.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

from bubblelens.core.config import profile_config
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.pipeline.executor import PoolExecutor, SerialExecutor, Unit
from bubblelens.training import units as train_units


def quick_units(steps: int, mixture_steps: int, threads: int) -> list[Unit]:
    cfg = profile_config("quick")
    train = load_split(SHIPPED_IMAGES, "train", cfg.images.n_train).images
    test = load_split(SHIPPED_IMAGES, "test", cfg.images.n_eval).images
    out = []
    for seed in cfg.seeds_image:
        for model, params in (("dcgan", cfg.dcgan), ("vae", cfg.vae)):
            p = replace(params, max_steps=steps, snapshot_fractions=()) if model == "dcgan" else \
                replace(params, max_steps=steps)
            out.append(Unit(f"{model}-s{seed}", train_units.train_image_unit,
                            {"model": model, "params": p, "train_images": train, "test_images": test,
                             "seed": seed, "device": "cpu"}, threads))
    mix = replace(cfg.mixture, steps=mixture_steps)
    for dataset in mix.datasets:
        for variant in mix.variants:
            out.append(Unit(f"mlp_gan-{dataset}-{variant}", train_units.train_mixture_unit,
                            {"params": mix, "dataset": dataset, "variant": variant,
                             "seeds": tuple(cfg.seeds_mixture), "device": "cpu"}, threads))
    return out


def timed(executor, units: list[Unit]) -> float:
    start = time.perf_counter()
    executor.run(units, lambda outcome: None)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--mixture-steps", type=int, default=1000)
    args = ap.parse_args()
    rows = [("serial, 1 thread", timed(SerialExecutor(), quick_units(args.steps, args.mixture_steps, 1))),
            ("serial, 2 threads", timed(SerialExecutor(), quick_units(args.steps, args.mixture_steps, 2))),
            ("pool of 2, 1 thread each", timed(PoolExecutor(2), quick_units(args.steps, args.mixture_steps, 1)))]
    base = rows[1][1]
    print(f"quick-profile training units shortened to {args.steps} image steps, {args.mixture_steps} mixture steps")
    for name, wall in rows:
        print(f"  {name:26s} {wall:7.1f} s   {base / wall:5.2f}x vs serial, 2 threads")


if __name__ == "__main__":
    main()
