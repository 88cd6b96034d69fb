"""How big a model is: trainable parameters and FLOPs, counted by torch.utils.flop_counter, never guessed.

FLOPs are what FlopCounterMode counts: matmul/convolution FLOPs (2 per multiply-accumulate), forward and
backward when the counted call trains; elementwise ops (activations, BatchNorm, Adam) are not counted,
which is the usual convention for MFU (nanoGPT, PaLM appendix B).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_flops(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(total FLOPs, fn's return value) of one call of fn, counted by torch.utils.flop_counter."""
    with FlopCounterMode(display=False) as counter:
        out = fn()
    return int(counter.get_total_flops()), out


def forward_flops_per_sample(module: nn.Module, example: torch.Tensor) -> int:
    """Forward FLOPs for one sample: example has batch size 1; eval mode, no grad (the model is restored)."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            flops, _ = count_flops(lambda: module(example))
    finally:
        module.train(was_training)
    return flops
