"""Hardware peaks and prices (data/costs/): every number names a source that exists and carries a quote.

Training reads the table to put a run's throughput against the peak of the device it used, and the report
prices GPU hours from it; it lives beside training so that neither needs the market layer.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bubblelens.core.errors import DataError
from bubblelens.core.resources import DATA_DIR, curated

COSTS_DIR = curated(DATA_DIR, "costs")


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


def device_peak(torch_name: str, dtype: str, table: CostTable | None = None) -> dict | None:
    """The sourced dense peak FLOP/s of the device torch calls `torch_name` ('NVIDIA H200') at `dtype`
    ('bf16' | 'fp32'), as {'device', 'dtype', 'flops', 'source_id'}; None when the table has none (any CPU,
    an unlisted GPU, a blank cell): MFU is then not stated rather than measured against another chip."""
    table = table or load_costs()
    for name, row in table.hardware.items():
        aliases = {a.strip() for a in row.get("torch_names", "").split(";") if a.strip()} | {name}
        if torch_name in aliases and row.get(f"peak_{dtype}_flops"):
            return {"device": name, "dtype": dtype, "flops": row[f"peak_{dtype}_flops"], "source_id": row["source_id"]}
    return None


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
