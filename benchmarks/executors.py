"""Which executor the default build should use: the quick profile's training units, side by side in one run.

    python benchmarks/executors.py [--steps 300] [--mixture-steps 1000] [--no-ray] [--empty-units 200]

Runs the same units (3 DCGAN and 3 VAE seeds, the four mixture ensembles; shortened to --steps so the
comparison takes minutes) through: serial with 1 torch thread, serial with 2 threads, the local pool of 2
single-threaded worker processes, and (when Ray is installed) Ray tasks of 1 CPU each on a local runtime
of this machine's cores. Prints wall time and the speed-up over two-thread serial, the obvious alternative
on a 2-core machine, and Ray's time against the pool's. Results differ between thread counts, so whichever
wins fixes the thread count of every unit (BuildConfig.threads) — the comparison is of wall time only.

Ray's scheduling overhead per unit is measured apart: --empty-units units that do nothing, through the
same RayExecutor (task, identity check, result back to the driver), after the runtime is up; `ray.init`
is timed on its own.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from dataclasses import replace

from bubblelens.core.config import profile_config
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.pipeline.cache import code_version
from bubblelens.pipeline.executor import PoolExecutor, SerialExecutor
from bubblelens.pipeline.work import Unit
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


def empty_unit() -> int:
    return os.getpid()


def ray_rows(units: list[Unit], empty: int) -> tuple[list[tuple[str, float]], list[str]]:
    """Ray's row (runtime already up, so start-up is reported apart) and its overhead lines."""
    import ray

    from bubblelens.pipeline.ray_executor import RayExecutor

    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    init_s = time.perf_counter() - start
    try:
        executor = RayExecutor()
        warm = timed(executor, [Unit(f"warm{i}", empty_unit, {}) for i in range(4)])   # start the workers
        wall = timed(executor, units)
        code = (("bubblelens.training.units",), code_version(("bubblelens.training.units",)))
        tiny = [Unit(f"e{i}", empty_unit, {}, code=code) for i in range(empty)]
        per_unit = timed(executor, tiny) / empty
    finally:
        ray.shutdown()
    notes = [f"  ray.init (local runtime)   {init_s:7.1f} s, then {warm:.1f} s for the first 4 tasks (worker start)",
             f"  ray overhead per unit      {1000 * per_unit:7.1f} ms ({empty} empty units, identity check "
             "included)"]
    return [("ray, 1 CPU per task", wall)], notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--mixture-steps", type=int, default=1000)
    ap.add_argument("--no-ray", action="store_true", help="leave the Ray backend out")
    ap.add_argument("--empty-units", type=int, default=200, help="empty units that time Ray's per-unit overhead")
    args = ap.parse_args()
    rows = [("serial, 1 thread", timed(SerialExecutor(), quick_units(args.steps, args.mixture_steps, 1))),
            ("serial, 2 threads", timed(SerialExecutor(), quick_units(args.steps, args.mixture_steps, 2))),
            ("pool of 2, 1 thread each", timed(PoolExecutor(2), quick_units(args.steps, args.mixture_steps, 1)))]
    notes: list[str] = []
    if not args.no_ray and importlib.util.find_spec("ray") is not None:
        more, notes = ray_rows(quick_units(args.steps, args.mixture_steps, 1), args.empty_units)
        rows += more
    base, pool = rows[1][1], rows[2][1]
    print(f"quick-profile training units shortened to {args.steps} image steps, {args.mixture_steps} mixture steps")
    for name, wall in rows:
        print(f"  {name:26s} {wall:7.1f} s   {base / wall:5.2f}x vs serial, 2 threads   {wall / pool:5.2f}x the pool's time")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
