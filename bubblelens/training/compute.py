"""Compute accounting of a training run: wall time, peak memory, energy (NVML) and MFU.

FLOPs are counted by `models.size.count_flops` (torch.utils.flop_counter); prices and hardware peaks come
from the sourced table in data/costs/ (training/costs.py).
"""
from __future__ import annotations

import logging
import resource
import time
from typing import Any

import torch

log = logging.getLogger(__name__)

# NVIDIA H200 SXM dense BF16 tensor-core peak (the sparse figure is 2x); source row h200_dense_specs in
# data/costs/sources.csv. MFU on the study's GPU is measured against this.
H200_BF16_PEAK_FLOPS = 989e12
H200_BF16_PEAK_SOURCE = "h200_dense_specs"

PEAK_MEM_CUDA, PEAK_MEM_CPU = "cuda", "cpu_maxrss"


class ResourceMeter:
    """Wall time, peak memory and (CUDA + pynvml) energy over a block of training.

    CPU peak memory is getrusage's ru_maxrss: the whole process's high-water mark since it started, not this
    run's alone, hence peak_mem_kind 'cpu_maxrss'. Energy is NVML's cumulative board energy counter, so it
    includes anything else running on that GPU.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self._nvml = None
        self._e0: float | None = None
        self.wall_s = 0.0

    def __enter__(self) -> "ResourceMeter":
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._nvml = _nvml_handle()
            self._e0 = _nvml_energy_j(self._nvml)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
        self.wall_s = time.perf_counter() - self._t0
        self._e1 = _nvml_energy_j(self._nvml) if self._nvml is not None else None

    def elapsed(self) -> float:
        """Seconds since the block started (no device sync: for checkpoint bookkeeping only)."""
        return time.perf_counter() - self._t0

    def summary(self) -> dict[str, Any]:
        if self.device == "cuda":
            peak, kind = int(torch.cuda.max_memory_allocated()), PEAK_MEM_CUDA
        else:
            peak, kind = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, PEAK_MEM_CPU
        energy = None
        if self._e0 is not None and self._e1 is not None:
            energy = float(self._e1 - self._e0)
        return {"wall_s": self.wall_s, "peak_mem_bytes": peak, "peak_mem_kind": kind, "energy_j": energy}


def _nvml_handle() -> Any:
    try:
        import pynvml
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    except Exception:  # pynvml missing, no driver, or counter unsupported: energy is simply not measured
        return None


def _nvml_energy_j(handle: Any) -> float | None:
    if handle is None:
        return None
    try:
        import pynvml
        return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0   # mJ -> J
    except Exception:
        return None


def mfu(flops_per_s: float, peak_flops: float = H200_BF16_PEAK_FLOPS) -> float:
    """Model FLOPs utilisation: achieved counted FLOP/s over the hardware peak."""
    return flops_per_s / peak_flops


