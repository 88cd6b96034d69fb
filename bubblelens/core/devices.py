"""The one device resolution: `--device auto|cpu|cuda` to the device a build runs on, and its name."""
from __future__ import annotations

import platform

import torch

from bubblelens.core.config import DEVICES
from bubblelens.core.errors import UsageError


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when available else 'cpu'; asking for CUDA without it is a usage error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available to PyTorch; use --device cpu or auto")
        return "cuda"
    raise UsageError(f"--device: unknown device '{name}'; choose one of: {', '.join(DEVICES)}")


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return platform.processor() or platform.machine() or "cpu"
