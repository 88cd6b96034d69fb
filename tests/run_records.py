"""What every training run's record must hold, on any device: shared by the CPU tests
(tests/unit/training/test_run_records.py) and the CUDA tests (tests/gpu/test_gpu_training.py), so the GPU
path is checked against the keys the code writes, and the CPU tests keep those checks honest where CI runs.

Imported as `run_records` (tests/ is on sys.path beside its conftest.py, as tests/unit/external's helpers are).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from bubblelens.core.devices import device_name
from bubblelens.evaluation.names import KEY_FLOPS_PER_STEP, KEY_FLOPS_TOTAL, KEY_WALL_S
from bubblelens.training import loop as T
from bubblelens.training.compute import FLOPS_COUNTED, PEAK_MEM_CPU, PEAK_MEM_CUDA, PEAK_MEM_PROCESS
from bubblelens.training.costs import device_peak

# The keys training/compute.py's compute_record writes for every run (the trainers add their own extras).
COMPUTE_KEYS = frozenset({
    KEY_FLOPS_PER_STEP, "flops_by_batch", "steps_by_batch", KEY_FLOPS_TOTAL, "flops_sampling",
    "flops_forward_per_sample", "flops_counted", "steps", KEY_WALL_S, "samples_per_s", "peak_mem_bytes",
    "peak_mem_kind", "energy_j", "device", "device_name", "mfu", "mfu_peak",
})
MFU_NOTE = "mfu_note"          # written instead of an MFU where the device has no sourced peak (any CPU)
# Peak memory kinds per device: on a CPU the block's own high-water mark, or where the kernel refuses its
# reset the whole process's peak (training/compute.py, ResourceMeter).
PEAK_MEM_KINDS = {"cuda": {PEAK_MEM_CUDA}, "cpu": {PEAK_MEM_CPU, PEAK_MEM_PROCESS}}

# What each trainer adds to its compute record: parameter counts (a GAN's per network too) and extras.
GAN_PARAMS = frozenset({"params", "params_g", "params_d"})
DCGAN_EXTRAS = GAN_PARAMS | {"epochs"}
VAE_EXTRAS = frozenset({"params", "epochs"})
MIXTURE_EXTRAS = GAN_PARAMS | {"epochs", "ensemble_size", "ensemble_note"}


def check_compute_record(c: dict, device: str, *, peak_dtype: str, extras: frozenset[str]) -> None:
    """A run's compute record: exactly the keys written, device-side values, counted FLOPs that add up, and
    an MFU exactly where data/costs has a peak for this device at `peak_dtype` ('bf16' | 'fp32')."""
    peak = device_peak(device_name(device), peak_dtype) if device == "cuda" else None
    expected = COMPUTE_KEYS | extras | (set() if peak else {MFU_NOTE})
    assert set(c) == expected, f"missing {sorted(expected - set(c))}, unexpected {sorted(set(c) - expected)}"
    assert c["device"] == device and c["device_name"] == device_name(device)
    assert c["peak_mem_kind"] in PEAK_MEM_KINDS[device] and c["peak_mem_bytes"] > 0
    if device == "cuda":
        assert c["energy_j"] is None or c["energy_j"] > 0              # None where NVML is not there
    else:
        assert c["energy_j"] is None
    if peak is not None:
        assert c["mfu_peak"] == peak and 0 < c["mfu"] < 1
        assert c["mfu"] == pytest.approx(c[KEY_FLOPS_TOTAL] / c[KEY_WALL_S] / peak["flops"], rel=1e-12)
    else:
        assert c["mfu"] is None and c["mfu_peak"] is None and "no sourced peak" in c[MFU_NOTE]
    per_shape = {int(k): v for k, v in c["flops_by_batch"].items()}
    steps = {int(k): v for k, v in c["steps_by_batch"].items()}
    assert set(steps) <= set(per_shape) and c["steps"] == sum(steps.values()) > 0
    assert c[KEY_FLOPS_TOTAL] == sum(per_shape[s] * n for s, n in steps.items()) > 0
    assert c[KEY_FLOPS_PER_STEP] == per_shape[max(per_shape)] > 0
    assert c[KEY_WALL_S] > 0 and c["samples_per_s"] > 0 and c["flops_counted"] == FLOPS_COUNTED
    assert c["flops_forward_per_sample"] > 0 and c["flops_sampling"] % c["flops_forward_per_sample"] == 0
    if "params_g" in c:
        assert c["params"] == c["params_g"] + c["params_d"] and c["params_g"] > 0 and c["params_d"] > 0
    else:
        assert c["params"] > 0


def check_run_record(r: T.RunResult, device: str, *, peak_dtype: str, extras: frozenset[str],
                     n_samples: int) -> None:
    """A healthy run's whole record: finite losses at increasing steps, no failure events, its samples, the
    compute record above, and JSON that reads back to the same record."""
    steps = r.history[T.KEY_STEP]
    assert steps and all(a < b for a, b in zip(steps, steps[1:])) and steps[-1] == r.compute["steps"]
    for key, values in r.history.items():
        assert len(values) == len(steps) and np.isfinite(values).all(), key
    assert r.failure_events == []
    assert len(r.samples) == n_samples and np.isfinite(r.samples).all()
    check_compute_record(r.compute, device, peak_dtype=peak_dtype, extras=extras)
    back = T.RunResult.from_parts(json.loads(json.dumps(r.to_json(), allow_nan=False)), {"samples": r.samples})
    assert back.compute == r.compute and back.history == r.history and back.config == r.config
