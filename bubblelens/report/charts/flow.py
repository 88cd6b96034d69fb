"""Charts of the modern family beside the old ones: quality against sampling compute (flow matching's NFE
sweep) and quality against training compute for every family, each from this build's counted FLOPs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from bubblelens.datasets.mixtures import MIXTURE_TITLES
from bubblelens.evaluation.names import KEY_FID, KEY_FLOPS_TOTAL, KEY_HIGH_QUALITY
from bubblelens.report.charts.io import draw_chart
from bubblelens.report.charts.models import ChartEnv, _runs
from bubblelens.report.model import ChartSpec

FAMILY_LABELS = {"dcgan": "DCGAN", "vae": "VAE", "flow": "flow matching", "mlp_gan": "MLP GAN"}
FAMILY_COLOURS = {"dcgan": "C0", "vae": "C1", "flow": "C2", "mlp_gan vanilla": "C3", "mlp_gan pacgan": "C4"}


def _finish(a, xlabel: str, mixtures: bool) -> None:
    """A panel's axes: log x labelled at the decades only (minor labels overlap on short ranges), and on a
    mixture panel the high-quality share's range and title."""
    if mixtures:
        a.set_ylim(0, 1)
        a.set_ylabel("high-quality share")
        a.set_title("2-D mixtures", fontsize=9)
    a.set_xscale("log")
    a.xaxis.set_minor_formatter(NullFormatter())
    a.set_xlabel(xlabel)
    a.legend(fontsize=6)


def nfe_frame(ev) -> pd.DataFrame:
    """The NFE sweep as a frame (pipeline/state.py: NfeRow), empty when the build trained no flow model."""
    rows = [(r.model, r.dataset, r.variant, r.seed, r.nfe, r.flops_per_sample, r.metric, r.value)
            for r in getattr(ev, "nfe", ())]
    return pd.DataFrame(rows, columns=["model", "dataset", "variant", "seed", "nfe", "flops_per_sample", "metric",
                                       "value"])


def _reference_points(ev, dataset: str, metric: str, models: tuple[str, ...]) -> pd.DataFrame:
    """One-pass generators at their counted forward FLOPs per sample: one row per run."""
    rows = [(r.model, r.variant, r.seed, r.compute.get("flops_forward_per_sample"), r.metrics.get(metric))
            for m in models for r in _runs(ev, m, dataset)]
    return pd.DataFrame([x for x in rows if x[3] and x[4] is not None],
                        columns=["model", "variant", "seed", "flops_per_sample", "value"])


def nfe_quality(ev, env: ChartEnv) -> ChartSpec | None:
    """Flow matching's quality against its sampling FLOPs per sample, the one-pass generators as points."""
    sweep = nfe_frame(ev)
    img = sweep[(sweep.dataset == "fashion_mnist") & (sweep.metric == KEY_FID)]
    mix = sweep[(sweep.dataset != "fashion_mnist") & (sweep.metric == KEY_HIGH_QUALITY)]
    if img.empty and mix.empty:
        return None
    ref_img = _reference_points(ev, "fashion_mnist", KEY_FID, ("dcgan", "vae"))
    ref_mix = pd.concat([_reference_points(ev, ds, KEY_HIGH_QUALITY, ("mlp_gan",)).assign(dataset=ds)
                         for ds in sorted(set(mix.dataset))] or [pd.DataFrame()], ignore_index=True)
    data = pd.concat([img.assign(kind="flow NFE sweep"), mix.assign(kind="flow NFE sweep"),
                      ref_img.assign(dataset="fashion_mnist", metric=KEY_FID, kind="one pass"),
                      ref_mix.assign(metric=KEY_HIGH_QUALITY, kind="one pass")], ignore_index=True)
    spec = ChartSpec("fig-nfe-quality", "Quality against sampling compute",
                     "Flow matching sampled with 1, 2, 4, … Euler steps (one network evaluation each): FLOPs per "
                     "sample counted with torch.utils.flop_counter at each number of steps; thin lines are seeds, "
                     "thick lines their mean. Crosses: the one-pass generators (DCGAN, VAE, MLP GAN) at their counted "
                     "forward FLOPs per sample (the VAE's count includes its encoder, which sampling does not run). "
                     "Left: FID in the domain features (lower is better); right: share of samples within 3 standard "
                     "deviations of a mode.", "FID / high-quality share against FLOP per "
                     "sample (log scale)", data, [], env.measured_by)

    def draw(fig, ax):
        ax.remove()
        panels = [p for p in ("img", "mix") if not (img if p == "img" else mix).empty]
        for i, panel in enumerate(panels):
            a = fig.add_subplot(1, len(panels), i + 1)
            if panel == "img":
                for seed, g in img.groupby("seed"):
                    a.plot(g.flops_per_sample, g.value, lw=0.6, c="C2", alpha=0.5)
                mean = img.groupby("flops_per_sample")["value"].mean()
                a.plot(mean.index, mean.values, lw=2, c="C2", marker="o", ms=3, label="flow matching")
                for m, g in ref_img.groupby("model"):
                    a.scatter(g.flops_per_sample, g.value, marker="x", c=FAMILY_COLOURS[m],
                              label=FAMILY_LABELS.get(m, m))
                a.set_ylabel("FID (domain features)")
                a.set_title("Fashion-MNIST", fontsize=9)
            else:
                for j, (ds, g) in enumerate(mix.groupby("dataset")):
                    for _, s in g.groupby("seed"):
                        a.plot(s.flops_per_sample, s.value, lw=0.4, c=f"C{j + 3}", alpha=0.3)
                    mean = g.groupby("flops_per_sample")["value"].mean()
                    a.plot(mean.index, mean.values, lw=2, c=f"C{j + 3}", marker="o", ms=3,
                           label=f"flow, {MIXTURE_TITLES.get(ds, ds)}")
                for j, (key, g) in enumerate(ref_mix.groupby(["dataset", "variant"]) if not ref_mix.empty else []):
                    a.scatter(g.flops_per_sample, g.value, marker="x", c=f"C{j + 5}",
                              label=f"GAN {key[1]}, {MIXTURE_TITLES.get(key[0], key[0])}")
            _finish(a, "FLOP per sample", mixtures=panel == "mix")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def training_compute_quality(ev, env: ChartEnv) -> ChartSpec | None:
    """Every family's quality against its counted training FLOPs: the DCGAN's (and flow matching's, where
    the profile takes snapshots) part-way points from the compute sweep, every run's end."""
    rows = [("sweep", s.model, s.seed, s.flops_total, s.fid) for s in getattr(ev, "sweep", ()) if s.fid is not None]
    rows += [("run end", r.model, r.seed, r.compute.get(KEY_FLOPS_TOTAL), r.metrics.get(KEY_FID))
             for r in _runs(ev, dataset="fashion_mnist")]
    img = pd.DataFrame([x for x in rows if x[3] and x[4] is not None],
                       columns=["kind", "model", "seed", KEY_FLOPS_TOTAL, "value"]).assign(dataset="fashion_mnist",
                                                                                        metric=KEY_FID)
    mix_rows = [("run end", r.model if r.model == "flow" else f"{r.model} {r.variant}", r.seed,
                 r.compute.get(KEY_FLOPS_TOTAL), r.metrics.get(KEY_HIGH_QUALITY), r.dataset)
                for r in _runs(ev) if r.dataset != "fashion_mnist"]
    mix = pd.DataFrame([x for x in mix_rows if x[3] and x[4] is not None],
                       columns=["kind", "model", "seed", KEY_FLOPS_TOTAL, "value", "dataset"]
                       ).assign(metric=KEY_HIGH_QUALITY)
    if img.empty and mix.empty:
        return None
    data = pd.concat([img, mix], ignore_index=True)
    spec = ChartSpec("fig-training-compute-quality", "Quality against training compute, every family",
                     "Training FLOPs counted with torch.utils.flop_counter (forward and backward of every step). Left: "
                     "FID on Fashion-MNIST at the end of each run (markers) and, joined by lines per seed, at the "
                     "snapshots of the compute sweep; flow matching scored at its largest NFE. Right: high-quality "
                     "share of each 2-D mixture run at its end.", "FID / high-quality share against training FLOP "
                     "(log scale)", data, [], env.measured_by)

    def draw(fig, ax):
        ax.remove()
        panels = [p for p, d in (("img", img), ("mix", mix)) if not d.empty]
        for i, panel in enumerate(panels):
            a = fig.add_subplot(1, len(panels), i + 1)
            if panel == "img":
                for m, g in img.groupby("model"):
                    colour = FAMILY_COLOURS.get(m, "C7")
                    for _, s in g[g.kind == "sweep"].groupby("seed"):
                        s = s.sort_values(KEY_FLOPS_TOTAL)
                        a.plot(s[KEY_FLOPS_TOTAL], s.value, lw=0.7, c=colour, alpha=0.6)
                    end = g[g.kind == "run end"]
                    a.scatter(end[KEY_FLOPS_TOTAL], end.value, c=colour, s=16, label=FAMILY_LABELS.get(m, m))
                a.set_ylabel("FID (domain features)")
                a.set_title("Fashion-MNIST", fontsize=9)
            else:
                markers = {ds: mk for ds, mk in zip(sorted(set(mix.dataset)), "os^")}
                for m, g in mix.groupby("model"):
                    for ds, s in g.groupby("dataset"):
                        a.scatter(s[KEY_FLOPS_TOTAL], s.value, c=FAMILY_COLOURS.get(m, "C7"), marker=markers[ds],
                                  s=10, alpha=0.7, label=f"{m}, {MIXTURE_TITLES.get(ds, ds)}")
            _finish(a, "training FLOP", mixtures=panel == "mix")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def nfe_to_match(ev) -> dict | None:
    """The smallest NFE at which flow matching's mean FID is at or below the DCGAN's mean FID, with the FLOPs
    per sample on both sides (both counted); None without both families' FIDs."""
    sweep = nfe_frame(ev)
    img = sweep[(sweep.dataset == "fashion_mnist") & (sweep.metric == KEY_FID)]
    dc = [r for r in _runs(ev, "dcgan", "fashion_mnist") if r.metrics.get(KEY_FID) is not None]
    if img.empty or not dc:
        return None
    target = float(np.mean([r.metrics[KEY_FID] for r in dc]))
    by_nfe = img.groupby("nfe").agg(fid=("value", "mean"), flops=("flops_per_sample", "first")).sort_index()
    hit = by_nfe[by_nfe.fid <= target]
    return {"dcgan_fid": target, "dcgan_flops": float(np.mean([r.compute["flops_forward_per_sample"] for r in dc])),
            "nfe": int(hit.index[0]) if len(hit) else None, "flow_fid": float(hit.fid.iloc[0]) if len(hit) else None,
            "flow_flops": float(hit.flops.iloc[0]) if len(hit) else None, "largest_nfe": int(by_nfe.index[-1]),
            "largest_fid": float(by_nfe.fid.iloc[-1])}


def all_flow_charts(ev, env: ChartEnv) -> list[ChartSpec]:
    return [c for c in (nfe_quality(ev, env), training_compute_quality(ev, env)) if c is not None]
