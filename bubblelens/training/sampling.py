"""The U-Net as flow matching's sampler evaluates it: compiled with torch.compile for a long sweep on a CPU.

Sampling is most of a flow image run's cost after training: the quick profile draws 5,000 images at NFE
1, 2, 4, 8 and 16, 155,000 network evaluations a seed. At 16 channels the U-Net's GroupNorm, SiLU and additions
cost as much as its convolutions on a CPU, and Inductor fuses them: one thread, 1,000 images evaluated
at once, 1.12 s against 2.25 s eager (2.02x; benchmarks/compile_speed.py). Evaluated 100 at a time, as
`generate` now does on a CPU (flow.CPU_EVAL_BATCH), a 1,000-image sweep at NFE 1-16 took 17.5 s compiled
against 25.7 s eager (1.47x; benchmarks/sampling_batch.py). Training stays eager: the U-Net's step
gained 1.13x and the mixture GAN's 1.23x, for up to 30 s of compilation per worker, and a GAN's training is
chaotic, so float differences over 10,000 steps could change which seeds drop a mode (benchmarks/README.md).

The compiled network's outputs differ from the eager ones by float rounding (about 1e-5 after an 8-step
sweep; tests/unit/training/test_sampling.py bounds it), so the backend is part of the run's compute record.
Compiling costs seconds (3.5 s with Inductor's on-disk cache warm, 6 s cold), so it is done only when
the sweep's counted FLOPs make eager sampling take longer than that many times over; without a C++
compiler, or wherever Inductor fails, the sweep runs eagerly.
"""
from __future__ import annotations

import logging
import shutil

import torch

from bubblelens.models.flow import Velocity

log = logging.getLogger(__name__)

EAGER, COMPILED = "eager", "inductor"
# Counted FLOPs of a sweep above which compiling pays: the quick U-Net, evaluated in batches of 100 on one core,
# ran at 35 GFLOP/s eager and 52 compiled, so 1 TFLOP is about 29 s eager, of which compiling saves about 9 s,
# against 3.5-6 s of compilation. The smoke profile's sweep (4 channels, 1,000 images) is far below, the quick
# profile's (5,000 images x 31 evaluations x 29.4 MFLOPs = 4.6 TFLOPs a seed) far above.
COMPILE_ABOVE_FLOPS = 1e12


def sampling_velocity(model: torch.nn.Module, sweep_flops: float, device: str,
                      example: torch.Tensor) -> tuple[Velocity, str]:
    """(the network to sample with, its backend name). `sweep_flops`: the counted FLOPs of every
    evaluation the sweep will make; `example`: a batch of the shape it will be called with (CPU), on which
    the compiled network is built and checked once, so a compiler failure falls back here, not mid-sweep."""
    if device != "cpu" or sweep_flops < COMPILE_ABOVE_FLOPS or shutil.which("g++") is None:
        return model, EAGER
    try:
        import torch._inductor.config as inductor_config

        # A pool worker compiles in its own process (no pool of compile subprocesses beside the build's).
        inductor_config.compile_threads = 1
        compiled = torch.compile(model, dynamic=False)
        was_training = model.training
        model.eval()                                   # as generate() calls it: no recompilation there
        try:
            with torch.no_grad():
                t = torch.full((len(example),), 0.5)
                if not torch.allclose(compiled(example, t), model(example, t), rtol=1e-3, atol=1e-4):
                    raise RuntimeError("compiled U-Net differs from the eager one")
        finally:
            model.train(was_training)
    except Exception as exc:  # noqa: BLE001 — any compiler failure: the eager network gives the same samples
        log.warning("sampling the U-Net eagerly: torch.compile failed (%s)", str(exc).splitlines()[0][:200])
        return model, EAGER
    return compiled, COMPILED
