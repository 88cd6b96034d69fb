"""Side-by-side training throughput on one device, in one run.

1. DCGAN (the article's model): our train step (data resident on the device, one host sync per
   CHECK_EVERY steps; on CUDA bf16 autocast + channels_last, optionally torch.compile) against a
   straightforward port of the article's loop (fp32, DataLoader over a TensorDataset, batch 256, eager,
   loss read back every step as the tutorial's progress printing does). Prints samples/s, the ratio and,
   on CUDA, MFU against the sourced dense bf16 peak of the GPU used (data/costs/hardware.csv).
2. 2-D mixture GANs: S seeds as one batched ensemble vs one seed at a time (same code, E=1): the build's
   trainer (`train_mixture_seeds`, ensemble=True / False), its steps timed from its progress reports
   (every few steps, after a host sync; the steps before the first report are not timed).

    python benchmarks/train_throughput.py --quick          # CPU, < 2 min
    python benchmarks/train_throughput.py --device cuda --width 1.0 --steps 200 [--compile]
    python benchmarks/train_throughput.py --smoke          # seconds: toy sizes, CPU unless --device (CI)
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from bubblelens.training import loop as T
from bubblelens.models.size import count_flops
from bubblelens.training.costs import device_peak
from bubblelens.core.devices import device_name, resolve_device
from bubblelens.core.config import MixtureParams
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split, to_unit_range
from bubblelens.models.dcgan import DCGANConfig, build
from bubblelens.training.dcgan import KERAS_ADAM, gan_step
from bubblelens.training.mixture import train_mixture_seeds


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def baseline_dcgan(images: torch.Tensor, width: float, steps: int, device: str, batch: int) -> float:
    """The article's loop ported plainly: fp32, DataLoader, two 'tapes' via autograd.grad, eager."""
    torch.manual_seed(0)
    g, d = build(DCGANConfig(width=width))
    g, d = g.to(device), d.to(device)
    og = torch.optim.Adam(g.parameters(), lr=1e-4, **KERAS_ADAM)
    od = torch.optim.Adam(d.parameters(), lr=1e-4, **KERAS_ADAM)
    loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True)
    done, t0 = 0, None
    while done < steps + 2:
        for (real,) in loader:
            if done == 2:                      # two warm-up steps
                _sync(device)
                t0 = time.perf_counter()
            real = real.to(device)
            noise = torch.randn(real.shape[0], 100, device=device)
            fake = g(noise)
            real_out, fake_out = d(real), d(fake)
            gen_loss = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
            disc_loss = (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
                         + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
            g_grads = torch.autograd.grad(gen_loss, list(g.parameters()), retain_graph=True)
            d_grads = torch.autograd.grad(disc_loss, list(d.parameters()))
            for p, gr in zip(g.parameters(), g_grads):
                p.grad = gr
            for p, gr in zip(d.parameters(), d_grads):
                p.grad = gr
            og.step()
            od.step()
            _ = gen_loss.item(), disc_loss.item()          # per-step logging, as the tutorial prints
            done += 1
            if done == steps + 2:
                break
    _sync(device)
    return steps * batch / (time.perf_counter() - t0)


def ours_dcgan(images: torch.Tensor, width: float, steps: int, device: str, batch: int,
               compile_model: bool) -> tuple[float, int]:
    torch.manual_seed(0)
    cuda = device == "cuda"
    g, d = build(DCGANConfig(width=width))
    g, d = g.to(device), d.to(device)
    data = images.to(device)
    if cuda:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        data = data.contiguous(memory_format=torch.channels_last)
    og = torch.optim.Adam(g.parameters(), lr=1e-4, **KERAS_ADAM)
    od = torch.optim.Adam(d.parameters(), lr=1e-4, **KERAS_ADAM)
    perm = T.epoch_permutation(len(data), 0, 0, device)
    gen = torch.Generator(device).manual_seed(0)

    def batch_at(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = perm[(i * batch) % (len(data) - batch):][:batch]
        return data[idx], torch.randn(batch, 100, generator=gen, device=device)

    flops, _ = count_flops(lambda: gan_step(g, d, og, od, *batch_at(0), amp=cuda))
    gr, dr = (torch.compile(g), torch.compile(d)) if compile_model else (g, d)
    for i in range(1, 3):
        gan_step(gr, dr, og, od, *batch_at(i), amp=cuda)
    _sync(device)
    t0 = time.perf_counter()
    pending = []
    for i in range(steps):
        pending.append(gan_step(gr, dr, og, od, *batch_at(i + 3), amp=cuda))
        if len(pending) == T.CHECK_EVERY:
            torch.stack(pending).cpu()
            pending.clear()
    if pending:
        torch.stack(pending).cpu()
    _sync(device)
    return steps * batch / (time.perf_counter() - t0), flops


def mixture_compare(params: MixtureParams, n_seeds: int, steps: int, device: str) -> tuple[float, float]:
    """Seconds per training step for all seeds: (ensemble, loop over seeds)."""
    p = replace(params, steps=steps, eval_every=0, n_samples=100)

    def run(ensemble: bool) -> float:
        groups: list[list[tuple[int, float]]] = []       # per group of seeds: (step, time) of each report

        def progress(step: int, total: int, values: dict) -> None:
            if not groups or step <= groups[-1][-1][0]:   # the next group started
                groups.append([])
            groups[-1].append((step, time.perf_counter()))

        train_mixture_seeds(p, "grid25", "pacgan", tuple(range(n_seeds)), device, progress=progress,
                            ensemble=ensemble)
        if not groups or any(g[-1][0] <= g[0][0] for g in groups):
            raise SystemExit(f"{steps} mixture steps give too few progress reports to time; use more")
        return sum((g[-1][1] - g[0][1]) / (g[-1][0] - g[0][0]) for g in groups)   # each group's s/step

    return run(True), run(False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="small CPU-friendly sizes (< 2 min)")
    ap.add_argument("--width", type=float, default=None, help="DCGAN width (default 1.0; 0.25 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="timed DCGAN steps (default 50; 8 with --quick)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--compile", action="store_true", help="torch.compile our models (CUDA)")
    ap.add_argument("--seeds", type=int, default=None, help="mixture seeds (default 5; 2 with --smoke)")
    ap.add_argument("--smoke", action="store_true",
                    help="toy sizes: DCGAN width 0.125, batch 32, 2 timed steps on 256 images; 2 mixture seeds "
                         "of G 16 / D 16, 50 steps; CPU unless --device says otherwise (seconds; CI)")
    args = ap.parse_args()
    if args.smoke:
        args.quick = True                 # the quick path's sizes, made smaller still below
        args.device = "cpu" if args.device == "auto" else args.device
        args.width = 0.125 if args.width is None else args.width
        args.steps = 2 if args.steps is None else args.steps
        args.batch = 32
    args.seeds = args.seeds if args.seeds is not None else (2 if args.smoke else 5)
    device = resolve_device(args.device)
    width = args.width if args.width is not None else (0.25 if args.quick else 1.0)
    steps = args.steps if args.steps is not None else (8 if args.quick else 50)
    n_img = 256 if args.smoke else 4096 if args.quick else 15000
    images = torch.from_numpy(to_unit_range(load_split(SHIPPED_IMAGES, "train", n_img).images))

    print(f"device: {device} ({device_name(device)}), torch threads {torch.get_num_threads()}")
    print(f"DCGAN width {width}, batch {args.batch}, {steps} timed steps")
    base = baseline_dcgan(images, width, steps, device, args.batch)
    ours, flops = ours_dcgan(images, width, steps, device, args.batch, args.compile)
    print(f"  baseline (article loop, fp32, DataLoader): {base:10.1f} samples/s")
    print(f"  bubblelens train step                    : {ours:10.1f} samples/s")
    print(f"  ratio ours / baseline                    : {ours / base:10.2f}x")
    print(f"  counted FLOPs per step {flops / 1e9:.3f} GFLOP ({flops / args.batch / 1e6:.1f} MFLOP per sample)")
    peak = device_peak(device_name(device), "bf16") if device == "cuda" else None
    if peak is not None:
        achieved = ours / args.batch * flops
        print(f"  MFU vs {peak['device']} dense bf16 peak ({peak['flops'] / 1e12:.0f} TFLOP/s): "
              f"{achieved / peak['flops']:.2%} ({achieved / 1e12:.2f} TFLOP/s)")

    mix = MixtureParams(g_hidden=64, d_hidden=64, batch_size=100) if args.quick or device == "cpu" else MixtureParams()
    if args.smoke:
        mix = MixtureParams(g_hidden=16, d_hidden=16, batch_size=20)
    msteps = 50 if args.smoke else 60 if args.quick else 300
    ens_s, loop_s = mixture_compare(mix, args.seeds, msteps, device)
    print(f"2-D mixture GAN (grid25, pacgan, G {mix.g_hidden} / D {mix.d_hidden}, batch {mix.batch_size}), "
          f"{args.seeds} seeds, {msteps} steps")
    print(f"  ensemble (one batched model): {ens_s * 1e3:8.2f} ms per step for all seeds")
    print(f"  loop (one seed at a time)   : {loop_s * 1e3:8.2f} ms per step for all seeds")
    print(f"  ensemble speed-up           : {loop_s / ens_s:8.2f}x")


if __name__ == "__main__":
    main()
