"""Compute accounting of a training run: wall time, peak memory, energy (NVML) and MFU.

FLOPs are counted by `models.size.count_flops` (torch.utils.flop_counter); prices and hardware peaks come
from the sourced table in data/costs/ (training/costs.py).
"""
from __future__ import annotations

import logging
import resource
import time
from typing import Any, Callable

import torch

from bubblelens.core.devices import device_name
from bubblelens.models.size import count_flops

log = logging.getLogger(__name__)

PEAK_MEM_CUDA = "cuda_allocated"           # torch.cuda.max_memory_allocated over the block
PEAK_MEM_CPU = "cpu_rss_block"             # VmHWM after resetting it at the block's start: this block's own
PEAK_MEM_PROCESS = "cpu_maxrss_process"    # fallback where the reset is refused: the whole process's peak
_CLEAR_REFS, _STATUS = "/proc/self/clear_refs", "/proc/self/status"


def _reset_peak_rss() -> bool:
    """Reset this process's peak resident set size (Linux >= 4.0: writing 5 to clear_refs)."""
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int | None:
    try:
        with open(_STATUS) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class ResourceMeter:
    """Wall time, peak memory and (CUDA + pynvml) energy over a block of training.

    CPU peak memory is the process's resident high-water mark (VmHWM), reset when the block starts, so it is
    this block's own peak (kind 'cpu_rss_block'; it still counts memory the process held before the block).
    Where the reset is refused it is getrusage's ru_maxrss, the whole process's peak ('cpu_maxrss_process').
    Energy is NVML's cumulative board energy counter, so it includes anything else running on that GPU.
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
        self._rss_reset = self.device != "cuda" and _reset_peak_rss()
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
        elif self._rss_reset and (hwm := _peak_rss_bytes()) is not None:
            peak, kind = hwm, PEAK_MEM_CPU
        else:
            peak, kind = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, PEAK_MEM_PROCESS
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


class FlopLedger:
    """Training FLOPs as counted, not assumed: each distinct step shape (a full batch, an epoch's last
    partial batch) is run once under torch.utils.flop_counter, and the total is the sum over steps of the
    count of that step's shape."""

    def __init__(self, state: dict | None = None) -> None:
        state = state or {}
        self.per_shape: dict[int, int] = {int(k): int(v) for k, v in state.get("per_shape", {}).items()}
        self.steps: dict[int, int] = {int(k): int(v) for k, v in state.get("steps", {}).items()}

    def run(self, shape: int, fn: Callable[[], Any]) -> Any:
        if shape not in self.per_shape:
            self.per_shape[shape], out = count_flops(fn)
        else:
            out = fn()
        self.steps[shape] = self.steps.get(shape, 0) + 1
        return out

    @property
    def total(self) -> int:
        return sum(self.per_shape[s] * n for s, n in self.steps.items())

    def state(self) -> dict:
        return {"per_shape": dict(self.per_shape), "steps": dict(self.steps)}


FLOPS_COUNTED = ("training FLOPs counted with torch.utils.flop_counter once per distinct step shape (batch size) "
                 "and summed over the steps run; sampling FLOPs are the counted forward FLOPs per sample times "
                 "the samples generated")


def mfu(flops_per_s: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved counted FLOP/s over the peak of the device that ran them."""
    return flops_per_s / peak_flops


def compute_record(*, device: str, ledger: FlopLedger, steps: int, wall_s: float, meter: dict,
                   fwd_flops: int, n_generated: int, params: dict[str, int],
                   peak: dict | None, **extra: Any) -> dict:
    """One run's compute record: what was counted (FLOPS_COUNTED), how long it took, peak memory, energy,
    and MFU against the sourced peak of the device used (`peak`, from training/costs.py), or None with the
    reason where no peak is sourced (CPUs)."""
    full = max(ledger.per_shape, default=0)
    samples = sum(shape * n for shape, n in ledger.steps.items())    # a step's shape is its batch size
    rec = {**params, "flops_per_step": ledger.per_shape.get(full, 0),
           "flops_by_batch": {str(k): v for k, v in sorted(ledger.per_shape.items())},
           "steps_by_batch": {str(k): v for k, v in sorted(ledger.steps.items())},
           "flops_total": ledger.total, "flops_sampling": fwd_flops * n_generated,
           "flops_forward_per_sample": fwd_flops, "flops_counted": FLOPS_COUNTED, "steps": steps,
           "wall_s": wall_s, "samples_per_s": samples / wall_s if wall_s > 0 else 0.0,
           "peak_mem_bytes": meter["peak_mem_bytes"], "peak_mem_kind": meter["peak_mem_kind"],
           "energy_j": meter["energy_j"], "device": device, "device_name": device_name(device)}
    if peak is not None and wall_s > 0:
        rec |= {"mfu": mfu(ledger.total / wall_s, peak["flops"]), "mfu_peak": peak}
    else:
        rec |= {"mfu": None, "mfu_peak": None, "mfu_note": f"no sourced peak for {rec['device_name']} in data/costs"}
    return rec | extra
