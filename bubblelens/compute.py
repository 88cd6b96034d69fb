"""Compute accounting: parameters, FLOPs (counted by torch.utils.flop_counter, never guessed), wall time,
peak memory, energy (NVML) and dollar cost from the shipped, sourced table in data/costs/.

FLOPs are what FlopCounterMode counts: matmul/convolution FLOPs (2 per multiply-accumulate), forward and
backward, of one real training step; elementwise ops (activations, BatchNorm, Adam) are not counted, which
is the usual convention for MFU (nanoGPT, PaLM appendix B).
"""
from __future__ import annotations

import csv
import re
import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import DATA_DIR
from .errors import DataError

log = logging.getLogger(__name__)

COSTS_DIR = DATA_DIR / "costs"
# NVIDIA H200 SXM dense BF16 tensor-core peak (the sparse figure is 2x); source row h200_dense_specs in
# data/costs/sources.csv. MFU on the study's GPU is measured against this.
H200_BF16_PEAK_FLOPS = 989e12
H200_BF16_PEAK_SOURCE = "h200_dense_specs"

PEAK_MEM_CUDA, PEAK_MEM_CPU = "cuda", "cpu_maxrss"


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


# ---- describe the reference models (`bubblelens models`) ----

def describe_models(width: float = 1.0) -> list[dict]:
    """One row per model family: trainable params (G/D or total), forward FLOPs per sample, source text."""
    from . import model_dcgan, model_mlp_gan, model_vae

    g, d = model_dcgan.build(model_dcgan.DCGANConfig(width=width))
    vae = model_vae.VAE(model_vae.VAEConfig(width=width))
    mcfg = model_mlp_gan.MLPGANConfig()
    mg, md = model_mlp_gan.build(mcfg, seed=0)
    pcfg = model_mlp_gan.MLPGANConfig(pack=2)
    _, pd = model_mlp_gan.build(pcfg, seed=0)
    rows = [
        {"name": "dcgan", "width": width, "params_g": count_params(g), "params_d": count_params(d),
         "params": count_params(g) + count_params(d),
         "flops_forward_per_sample": forward_flops_per_sample(g, torch.zeros(1, 100)),
         "source": model_dcgan.ARCHITECTURE_SOURCE},
        {"name": "vae", "width": width, "params_g": None, "params_d": None, "params": count_params(vae),
         "flops_forward_per_sample": _vae_forward_flops(vae),
         "source": model_vae.ARCHITECTURE_SOURCE},
        {"name": "mlp_gan (vanilla)", "width": 1.0, "params_g": count_params(mg), "params_d": count_params(md),
         "params": count_params(mg) + count_params(md),
         "flops_forward_per_sample": forward_flops_per_sample(mg, torch.zeros(1, mcfg.noise_dim)),
         "source": model_mlp_gan.ARCHITECTURE_SOURCE},
        {"name": "mlp_gan (pacgan, pack 2)", "width": 1.0, "params_g": count_params(mg),
         "params_d": count_params(pd), "params": count_params(mg) + count_params(pd),
         "flops_forward_per_sample": forward_flops_per_sample(mg, torch.zeros(1, mcfg.noise_dim)),
         "source": model_mlp_gan.ARCHITECTURE_SOURCE},
    ]
    return rows


def _vae_forward_flops(vae: nn.Module) -> int:
    """Encoder + decoder FLOPs for one image (the reparameterised pass needs eps)."""
    return forward_flops_per_sample(VAEPass(vae), torch.zeros(1, 1, 28, 28))


class VAEPass(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae(x, torch.zeros(x.shape[0], self.vae.cfg.latent_dim))[0]


# ---- cost table (data/costs) ----

@dataclass(frozen=True)
class CostTable:
    hardware: dict[str, dict[str, Any]]     # device -> row
    prices: dict[str, dict[str, Any]]       # item -> row
    sources: dict[str, dict[str, str]]      # source_id -> row


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise DataError(f"{path}: cost table file is missing") from None


def load_costs(directory: Path = COSTS_DIR) -> CostTable:
    """Read and validate the cost table: every number must name a source that exists and carries a quote."""
    sources = {r["source_id"]: r for r in _read_csv(directory / "sources.csv")}
    for sid, row in sources.items():
        if not row.get("quote", "").strip() or not row.get("url", "").strip():
            raise DataError(f"{directory / 'sources.csv'}: source '{sid}' has no quote or url")
    hardware, prices = {}, {}
    for i, row in enumerate(_read_csv(directory / "hardware.csv"), start=2):
        _check_source(directory / "hardware.csv", i, row, sources)
        hardware[row["device"]] = {**row, **{k: _num(row[k]) for k in ("peak_bf16_flops", "peak_fp32_flops",
                                                                          "tdp_w")}}
    for i, row in enumerate(_read_csv(directory / "prices.csv"), start=2):
        _check_source(directory / "prices.csv", i, row, sources)
        prices[row["item"]] = {**row, "usd": float(row["usd"])}
    return CostTable(hardware, prices, sources)


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def _check_source(path: Path, line: int, row: dict[str, str], sources: dict) -> None:
    if row.get("source_id") not in sources:
        raise DataError(f"{path}, line {line}: source_id '{row.get('source_id')}' is not in sources.csv")


def price_item(compute_record: dict) -> str | None:
    """The priced item a run's hours are billed as ('gpu-hour H200'), or None where no price applies.

    CPU runs get None: data/costs holds no sourced CPU core-hour price, and none is invented."""
    if compute_record.get("device") != "cuda":
        return None
    match = re.search(r"\b(H100|H200|A100|B200)\b", compute_record.get("device_name") or "")
    return f"gpu-hour {match.group(1)}" if match else None


def cost_usd(item: str, quantity: float, table: CostTable | None = None) -> float | None:
    """Dollar cost of `quantity` units of a priced item (e.g. 'gpu-hour H200', hours); None when no
    sourced price exists — an unsourced price must not exist, so nothing is guessed."""
    table = table or load_costs()
    row = table.prices.get(item)
    return None if row is None else row["usd"] * quantity
