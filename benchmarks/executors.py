"""Which executor the default build should use: the quick profile's training units, side by side in one run.

    python benchmarks/executors.py [--steps 300] [--mixture-steps 1000] [--no-ray] [--empty-units 200]
    python benchmarks/executors.py --smoke [--ray]   # seconds: two smoke-profile units at 2 steps, no Ray

Runs the training stage of a quick build (3 DCGAN and 3 VAE seeds, the mixture ensembles; shortened to --steps
so the comparison takes minutes) exactly as a build does: the units come from the pipeline's own
`model_stages.train_models` (its cache keys, scratch checkpoint folders, progress events and stage code
versions included), each row with an empty cache of its own, and the executors from `make_executor`. Rows:
serial with 1 torch thread, serial with 2 threads, the local pool of 2 single-threaded worker processes, and
(when Ray is installed) Ray tasks of 1 CPU each on a local runtime of this machine's cores. Prints wall
time and the speed-up over two-thread serial, the obvious alternative on a 2-core machine, and Ray's time
against the pool's. Results differ between thread counts, so whichever wins fixes the thread count of every
unit (BuildConfig.threads) — the comparison is of wall time only. Loading the images is not timed.

Ray's scheduling overhead per unit is measured apart: --empty-units units that do nothing, through the
same RayExecutor (task, identity check, result back to the driver), after the runtime is up; starting the
runtime (`ray_executor.connect`, as a build does) is timed on its own.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bubblelens.core.config import BuildConfig, profile_config
from bubblelens.pipeline.cache import Cache
from bubblelens.pipeline.context import BuildContext, BuildOptions
from bubblelens.pipeline.executor import make_executor
from bubblelens.pipeline.model_stages import TRAIN_CODE, load_images, train_models
from bubblelens.pipeline.progress import Reporter
from bubblelens.pipeline.work import Unit


def quick_config(steps: int, mixture_steps: int, threads: int, smoke: bool = False) -> BuildConfig:
    """The quick profile with every image run capped at `steps` and every mixture run at `mixture_steps`.
    Smoke: the smoke profile's sizes, one image seed and no mixtures: two units (DCGAN, VAE), so that the
    pool starts its two workers once."""
    cfg = profile_config("smoke" if smoke else "quick")
    if smoke:
        cfg = replace(cfg, seeds_image=cfg.seeds_image[:1], mixture=replace(cfg.mixture, datasets=()))
    return replace(cfg, threads=threads, dcgan=replace(cfg.dcgan, max_steps=steps),
                   vae=replace(cfg.vae, max_steps=steps), mixture=replace(cfg.mixture, steps=mixture_steps))


def context(cfg: BuildConfig, executor, cache: Path) -> BuildContext:
    """A build's context around `executor`, with an empty cache at `cache` (so every unit computes)."""
    reporter = Reporter(quiet=True)
    opts = BuildOptions(config=cfg, device="cpu", quiet=True, executor=executor.name)
    return BuildContext(opts, Cache(cache), reporter, "cpu", executor=executor, threads=cfg.threads)


def timed_training(cfg: BuildConfig, executor) -> float:
    """Wall time of the build's training stage (all units computed, stored in a fresh cache) on `executor`."""
    with tempfile.TemporaryDirectory(prefix="bubblelens-executors-") as tmp:
        ctx = context(cfg, executor, Path(tmp) / "cache")
        images = load_images(ctx)
        start = time.perf_counter()
        _, runs = train_models(ctx, images, features=False)
        wall = time.perf_counter() - start
    if not runs:
        raise SystemExit("the training stage returned no runs")
    return wall


def timed(executor, units: list[Unit]) -> float:
    start = time.perf_counter()
    executor.run(units, lambda outcome: None)
    return time.perf_counter() - start


def empty_unit() -> int:
    return os.getpid()


def ray_rows(cfg: BuildConfig, empty: int, jobs: int) -> tuple[list[tuple[str, float]], list[str]]:
    """Ray's row (runtime already up, so start-up is reported apart) and its overhead lines."""
    import ray

    from bubblelens.pipeline.ray_executor import connect

    start = time.perf_counter()
    connect(None)                       # a fresh local runtime, as `--executor ray` without an address
    init_s = time.perf_counter() - start
    try:
        executor = make_executor("ray", jobs, device="cpu")   # joins the runtime started above
        warm = timed(executor, [Unit(f"warm{i}", empty_unit, {}) for i in range(4)])   # start the workers
        wall = timed_training(cfg, executor)
        code = (TRAIN_CODE.entries, TRAIN_CODE.version())
        tiny = [Unit(f"e{i}", empty_unit, {}, code=code) for i in range(empty)]
        per_unit = timed(executor, tiny) / empty
        executor.close()
    finally:
        ray.shutdown()
    notes = [f"  ray.init (local runtime)   {init_s:7.1f} s, then {warm:.1f} s for the first 4 tasks (worker start)",
             f"  ray overhead per unit      {1000 * per_unit:7.1f} ms ({empty} empty units, identity check "
             "included)"]
    return [("ray, 1 CPU per task", wall)], notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="image steps per unit (default 300; 2 with --smoke)")
    ap.add_argument("--mixture-steps", type=int, default=None,
                    help="mixture steps per unit (default 1000; 25 with --smoke)")
    ap.add_argument("--no-ray", action="store_true", help="leave the Ray backend out")
    ap.add_argument("--ray", action="store_true",
                    help="with --smoke: include the Ray row too (left out by default: starting a Ray runtime "
                         "takes longer than the rest of the smoke run)")
    ap.add_argument("--empty-units", type=int, default=None,
                    help="empty units that time Ray's per-unit overhead (default 200; 2 with --smoke)")
    ap.add_argument("--smoke", action="store_true",
                    help="the same rows for two smoke-profile units (DCGAN, VAE) at a few steps, Ray only with "
                         "--ray (seconds; CI)")
    args = ap.parse_args()
    steps = args.steps if args.steps is not None else (2 if args.smoke else 300)
    mixture_steps = args.mixture_steps if args.mixture_steps is not None else (25 if args.smoke else 1000)
    empty = args.empty_units if args.empty_units is not None else (2 if args.smoke else 200)

    def config(threads: int) -> BuildConfig:
        return quick_config(steps, mixture_steps, threads, smoke=args.smoke)

    def row(name: str, backend: str, jobs: int, threads: int) -> tuple[str, float]:
        executor = make_executor(backend, jobs)
        try:
            return name, timed_training(config(threads), executor)
        finally:
            executor.close()

    rows = [row("serial, 1 thread", "serial", 1, 1), row("serial, 2 threads", "serial", 1, 2),
            row("pool of 2, 1 thread each", "pool", 2, 1)]
    notes: list[str] = []
    with_ray = not args.no_ray and (args.ray or not args.smoke)
    if with_ray and importlib.util.find_spec("ray") is not None:
        more, notes = ray_rows(config(1), empty, 2)
        rows += more
    base, pool = rows[1][1], rows[2][1]
    profile = "smoke" if args.smoke else "quick"
    mixtures = f"{mixture_steps} mixture steps" if config(1).mixture.datasets else "no mixtures"
    print(f"{profile}-profile training units shortened to {steps} image steps, {mixtures}")
    for name, wall in rows:
        print(f"  {name:26s} {wall:7.1f} s   {base / wall:5.2f}x vs serial, 2 threads   {wall / pool:5.2f}x the pool's time")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
