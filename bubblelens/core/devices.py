"""The one device resolution: `--device auto|cpu|cuda` to the device a build runs on, and its name.

torch is imported only where its answer is needed: a CPU build of torch (its version ends in "+cpu", as
the wheel this project installs does) has no CUDA, so `auto` is the CPU without the 1-2 s import, which
a rebuild after one edited CSV (no training, no evaluation) would otherwise spend on this question alone.
"""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from bubblelens.core.config import DEVICES
from bubblelens.core.errors import UsageError


def is_cpu_build(torch_version: str) -> bool:
    """Whether a torch version names a CPU build (no CUDA whatever the machine has)."""
    return torch_version.endswith("+cpu")


def cpu_only_torch() -> bool:
    """Whether the installed torch is a CPU build, read from its distribution's version without importing
    it. False when unsure: the caller then asks torch."""
    try:
        return is_cpu_build(version("torch"))
    except PackageNotFoundError:
        return False


def cuda_available() -> bool:
    if cpu_only_torch():
        return False
    import torch

    return torch.cuda.is_available()


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when available else 'cpu'; asking for CUDA without it is a usage error."""
    if name == "auto":
        return "cuda" if cuda_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        if not cuda_available():
            raise UsageError("--device cuda: no CUDA device is available to PyTorch; use --device cpu or auto")
        return "cuda"
    raise UsageError(f"--device: unknown device '{name}'; choose one of: {', '.join(DEVICES)}")


def device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    return platform.processor() or platform.machine() or "cpu"
