"""Compute accounting: FLOP counts against closed forms, the sourced cost table, resource meter."""
from __future__ import annotations

import shutil

import pytest
import torch

from bubblelens.models import catalogue, size
from bubblelens.training import compute, costs
from bubblelens.models import dcgan as model_dcgan
from bubblelens.core.errors import DataError
from bubblelens.training.dcgan import gan_step


def test_count_flops_linear_closed_form():
    lin = torch.nn.Linear(7, 5)
    flops, out = size.count_flops(lambda: lin(torch.zeros(3, 7)))
    assert flops == 2 * 3 * 7 * 5 and out.shape == (3, 5)


def test_reference_train_step_flops_per_sample():
    """One tutorial train step of the width-1.0 model (G fwd+bwd, D on real and fake) against its closed form."""
    torch.manual_seed(0)
    g, d = model_dcgan.build(model_dcgan.DCGANConfig())
    og, od = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    b = 2
    flops, _ = size.count_flops(lambda: gan_step(g, d, og, od, torch.zeros(b, 1, 28, 28), torch.randn(b, 100), False))
    # Closed form in MACs (x2 FLOPs). Backward = weight grads (= forward MACs) + input grads for every layer
    # whose input needs a gradient (not G's first layer; not D's first layer for D's own loss).
    g_macs, g_first = 51_744_000, 100 * 12544
    d_macs, d_first = 196 * 64 * 25 + 49 * 64 * 128 * 25 + 6272, 196 * 64 * 25
    g_fwd_bwd = g_macs + g_macs + (g_macs - g_first)
    d_real = d_macs + d_macs + (d_macs - d_first)                 # D(real): fwd, weight grads, input grads
    d_fake = d_macs + d_macs + (d_macs - d_first) + d_macs        # + g_loss's input grads through all of D
    expected = 2 * (g_fwd_bwd + d_real + d_fake)
    assert flops / b == expected                                  # 451.7 MFLOP per sample
    assert expected == pytest.approx(0.45e9, rel=0.01)


def test_describe_models_reference_rows():
    rows = {r["name"]: r for r in catalogue.describe_models()}
    assert rows["dcgan"]["params_g"] == 2_305_472 and rows["dcgan"]["params_d"] == 212_865
    assert rows["dcgan"]["flops_forward_per_sample"] == 103_488_000
    assert all(r["source"] and r["params"] > 0 and r["flops_forward_per_sample"] > 0 for r in rows.values())


def test_cost_table_every_number_sourced():
    table = costs.load_costs()
    assert table.hardware and table.prices
    for row in list(table.hardware.values()) + list(table.prices.values()):
        assert table.sources[row["source_id"]]["quote"]
    assert table.hardware["NVIDIA H200 SXM"]["peak_bf16_flops"] == 989e12    # the quoted ~989 TFLOPS dense


def test_cost_usd_none_without_source():
    table = costs.load_costs()
    assert costs.cost_usd("kWh", 10.0, table) is None
    assert costs.cost_usd("cpu core-hour", 1.0, table) is None
    assert costs.cost_usd("gpu-hour H200", 2.0, table) == pytest.approx(2 * table.prices["gpu-hour H200"]["usd"])


def test_unsourced_row_is_rejected(tmp_path):
    shutil.copytree(costs.COSTS_DIR, tmp_path / "costs")
    with (tmp_path / "costs" / "prices.csv").open("a") as fh:
        fh.write("kWh,0.1,USD per kWh,made_up\n")
    with pytest.raises(DataError, match="made_up"):
        costs.load_costs(tmp_path / "costs")


def test_resource_meter_cpu():
    with compute.ResourceMeter("cpu") as meter:
        sum(range(1000))
    s = meter.summary()
    assert s["peak_mem_kind"] == compute.PEAK_MEM_CPU and s["peak_mem_bytes"] > 0
    assert s["energy_j"] is None and s["wall_s"] >= 0


def test_device_peak_found_by_the_name_torch_reports():
    """MFU is measured against the peak of the device used: torch says 'NVIDIA H200', the table 'H200 SXM'."""
    table = costs.load_costs()
    h200 = costs.device_peak("NVIDIA H200", "bf16", table)
    assert h200 == {"device": "NVIDIA H200 SXM", "dtype": "bf16", "flops": 989e12, "source_id": "h200_dense_specs"}
    assert costs.device_peak("NVIDIA H100 80GB HBM3", "bf16", table)["device"] == "NVIDIA H100 SXM"
    assert costs.device_peak("NVIDIA H200", "fp32", table) is None        # blank in the source: no peak
    assert costs.device_peak("x86_64", "fp32", table) is None             # no sourced CPU peak
    assert compute.mfu(h200["flops"] / 4, h200["flops"]) == 0.25
