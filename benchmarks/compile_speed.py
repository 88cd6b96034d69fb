"""torch.compile (Inductor, C++ on a CPU) against eager PyTorch, side by side in one process (issue 25).

    python benchmarks/compile_speed.py                 # all three, the quick profile's sizes, one thread
    python benchmarks/compile_speed.py --only sampling
    python benchmarks/compile_speed.py --smoke          # seconds: sampling only, the smoke profile's U-Net (CI)

- sampling: the flow U-Net evaluated as the NFE sweep does (quick: 16 channels, CPU batches of 100, no grad);
- unet-step: one training step of the same U-Net (the quick profile's batch, Adam);
- mixture-step: one step of a 10-member mixture GAN ensemble (quick's widths, ring-8).

Prints the mean of `--repeat` calls of each (after one warm-up call), the speed-up and the one-off
compilation time, which a pool worker pays once per process (less when Inductor's on-disk cache already
holds the graph). What the build keeps: compiled sampling (training/sampling.py); training stays eager.
"""
from __future__ import annotations

import argparse
import shutil
import time

import torch

from bubblelens.core.config import profile_config
from bubblelens.models.flow import UNet, UNetConfig, interpolate
from bubblelens.models.mlp_gan import MLPGANConfig
from bubblelens.training.flow import eval_batch
from bubblelens.training.mixture import _bce_per_member, _Ensemble


def mean_of(fn, repeat: int) -> float:
    """Mean seconds per call over `repeat` calls after one warm-up call (and compilation, for a compiled fn):
    a mean, not a minimum, because a build pays every step."""
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def timed_first_call(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sampling(repeat: int, profile: str = "quick") -> tuple[float, float, float]:
    cfg = profile_config(profile).flow
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=cfg.channels)).eval()
    n = min(cfg.n_samples, eval_batch("cpu"))
    x, t = torch.randn(n, 1, 28, 28), torch.rand(n)
    compiled = torch.compile(net, dynamic=False)
    with torch.no_grad():
        first = timed_first_call(lambda: compiled(x, t))
        return mean_of(lambda: net(x, t), repeat), mean_of(lambda: compiled(x, t), repeat), first


def unet_step(repeat: int) -> tuple[float, float, float]:
    cfg = profile_config("quick").flow
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=cfg.channels))
    compiled = torch.compile(net)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    b = cfg.batch_size
    x1, x0, t = torch.randn(b, 1, 28, 28), torch.randn(b, 1, 28, 28), torch.rand(b)

    def step(model) -> None:
        xt, target = interpolate(x0, x1, t)
        loss = ((model(xt, t) - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    first = timed_first_call(lambda: step(compiled))
    return mean_of(lambda: step(net), repeat), mean_of(lambda: step(compiled), repeat), first


def mixture_step(repeat: int) -> tuple[float, float, float]:
    p = profile_config("quick").mixture
    ens = _Ensemble(MLPGANConfig(g_hidden=p.g_hidden, d_hidden=p.d_hidden), p, "ring8", tuple(range(10)), "cpu")
    gen = torch.compile(lambda z: ens.g(z, training=True))
    d_loss = torch.compile(lambda real, fake: _bce_per_member(ens._d(real), 1.0) + _bce_per_member(ens._d(fake), 0.0))
    g_loss = torch.compile(lambda fake: _bce_per_member(ens._d(fake), 1.0))

    def compiled_step(step: int) -> None:          # Ensemble.step with its three forward passes compiled
        real, z = ens._batch(step)
        fake = gen(z)
        loss = d_loss(real, fake.detach())
        ens.opt_d.zero_grad(set_to_none=True)
        loss.sum().backward()
        ens.opt_d.step()
        loss = g_loss(fake)
        ens.opt_g.zero_grad(set_to_none=True)
        loss.sum().backward(inputs=ens.g_leaves)
        ens.opt_g.step()

    steps = iter(range(10**9))
    first = timed_first_call(lambda: compiled_step(next(steps)))
    return (mean_of(lambda: ens.step(next(steps)), repeat), mean_of(lambda: compiled_step(next(steps)), repeat),
            first)


CASES = {"sampling": sampling, "unet-step": unet_step, "mixture-step": mixture_step}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=list(CASES), nargs="*", default=list(CASES))
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the build's units use 1)")
    ap.add_argument("--smoke", action="store_true",
                    help="sampling only, the smoke profile's U-Net, one repeat (each compilation costs seconds)")
    args = ap.parse_args()
    if shutil.which("g++") is None:
        print("skipped: no C++ compiler (g++) for Inductor; the build samples eagerly here")
        return
    torch.set_num_threads(args.threads)
    print(f"{'case':14s} {'eager ms':>9s} {'compiled ms':>12s} {'speed-up':>9s} {'compile s':>10s}")
    for name in (["sampling"] if args.smoke else args.only):
        eager, compiled, first = (sampling(1, "smoke") if args.smoke else CASES[name](args.repeat))
        print(f"{name:14s} {eager * 1e3:9.1f} {compiled * 1e3:12.1f} {eager / compiled:8.2f}x {first:10.1f}",
              flush=True)


if __name__ == "__main__":
    main()
