"""Steps to target: how long the quick-profile image models must train to reach the quality targets.

    python benchmarks/steps_to_target.py dcgan --steps 3000 --every 500 [--seeds 0 1] [--set lr=2e-4 ...]
    python benchmarks/steps_to_target.py vae --epochs 10 15 20 [--seeds 0]
    python benchmarks/steps_to_target.py flow --steps 1200 --every 300 [--set channels=16 lr=1e-3]
    python benchmarks/steps_to_target.py --smoke     # seconds: both models at the smoke profile's sizes (CI)

Trains on the shipped subset with the quick profile's settings (overridden by --set key=value; the smoke
profile's with --smoke), measures FID and recall in the profile's domain features (n as the build uses) at
each snapshot (DCGAN; flow matching, sampled at the profile's snapshot NFE, then at every NFE of its sweep at
the end) or each training length (VAE), and prints one row per point with the wall time spent
so far. The issue's targets: DCGAN FID <= 80 and recall >= 0.10, VAE FID <= 60 and recall >= 0.35, on every
seed.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from bubblelens.core.config import profile_config
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.evaluation import quality, units
from bubblelens.training.dcgan import train_dcgan
from bubblelens.training.flow import train_flow_images
from bubblelens.training.names import BATCH_STATS_SAMPLES, SNAPSHOT_PREFIX, nfe_array
from bubblelens.training.vae import train_vae


def parse_set(items: list[str], params):
    changes = {}
    for item in items:
        key, value = item.split("=", 1)
        current = getattr(params, key)
        changes[key] = type(current)(value)
    return replace(params, **changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["dcgan", "vae", "flow"], nargs="?", help="required without --smoke")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--epochs", type=int, nargs="*", default=[10, 15, 20])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--smoke", action="store_true",
                    help="the smoke profile's data, classifier and models (not the quick profile's); DCGAN 4 steps "
                         "with a snapshot at 2, VAE 1 epoch, flow 4 steps; every model unless one is named (seconds; CI)")
    args = ap.parse_args()
    if args.model is None and not args.smoke:
        ap.error("choose a model: dcgan, vae or flow")
    if args.smoke:
        args.steps, args.every, args.epochs = 4, 2, [1]
    models = [args.model] if args.model else ["dcgan", "vae", "flow"]
    torch.set_num_threads(args.threads)
    cfg = profile_config("smoke" if args.smoke else "quick")
    train = load_split(SHIPPED_IMAGES, "train", cfg.images.n_train)
    test = load_split(SHIPPED_IMAGES, "test", cfg.images.n_eval)
    n = min(cfg.eval.n_fid, len(test.images))
    info, state = units.feature_unit(cfg.features, train.images, train.labels, test.images, test.labels, "cpu")
    ext = units.extractor(cfg.features, state, "cpu")
    real = ext.features(test.images[:n])
    print(f"features: test accuracy {info['test_accuracy']:.3f}; n = {n}")

    def score(samples) -> tuple[float, float]:
        fake = ext.features(samples[:n])
        return quality.fid(real, fake), quality.prdc(real, fake, k=cfg.eval.prdc_k)["recall"]

    print("model  seed  steps  wall_s   FID    recall   FID(batch-stat sampling)")
    for seed, model in ((seed, model) for model in models for seed in args.seeds):
        if model in ("dcgan", "flow"):
            train_fn, p0, note = ((train_dcgan, cfg.dcgan, "") if model == "dcgan" else
                                  (train_flow_images, cfg.flow, f"   (NFE {cfg.flow.snapshot_nfe})"))
            steps = list(range(args.every, args.steps, args.every))
            p = replace(parse_set(args.set, p0), epochs=10_000, max_steps=args.steps,
                        snapshot_fractions=tuple(s / args.steps for s in steps))
            t0 = time.perf_counter()
            run = train_fn(p, train.images, seed, "cpu")
            wall = time.perf_counter() - t0
            per_step = run.compute["wall_s"] / args.steps
            for s in steps:
                fid, rec = score(run.extras[f"{SNAPSHOT_PREFIX}{s}"])
                print(f"{model:6s} {seed:4d}  {s:5d}  {per_step * s:6.0f}  {fid:6.1f}  {rec:6.3f}{note}")
            if model == "dcgan":
                fid, rec = score(run.samples)
                fid_b, _ = score(run.extras[BATCH_STATS_SAMPLES])
                print(f"dcgan  {seed:4d}  {args.steps:5d}  {wall:6.0f}  {fid:6.1f}  {rec:6.3f}   {fid_b:6.1f}")
            for nfe in (p.nfe if model == "flow" else ()):
                fid, rec = score(run.extras[nfe_array(nfe)])
                print(f"flow   {seed:4d}  {args.steps:5d}  {wall:6.0f}  {fid:6.1f}  {rec:6.3f}   (NFE {nfe})")
        else:
            for epochs in args.epochs:
                p = replace(parse_set(args.set, cfg.vae), epochs=epochs)
                t0 = time.perf_counter()
                run = train_vae(p, train.images, test.images, seed, "cpu")
                fid, rec = score(run.samples)
                print(f"vae    {seed:4d}  {run.compute['steps']:5d}  {time.perf_counter() - t0:6.0f}  {fid:6.1f}  "
                      f"{rec:6.3f}   (epochs {epochs})")


if __name__ == "__main__":
    main()
