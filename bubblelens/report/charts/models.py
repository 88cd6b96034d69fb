"""Charts of the models this build trained: one function per chart id -> ChartSpec (files written).

Every function takes the `Evaluated` results and a `ChartEnv` (output dir, provenance line, published
references) and returns the saved ChartSpec, or None when the build has nothing to show for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bubblelens.report.charts.io import draw_chart
from bubblelens.datasets.mixtures import MIXTURE_TITLES, mixture_spec
from bubblelens.evaluation.names import KEY_COVERAGE, KEY_DENSITY, KEY_FLOPS_TOTAL, KEY_HIGH_QUALITY, KEY_MODES
from bubblelens.evaluation.names import KEY_PRECISION, KEY_RECALL, KEY_WALL_S
from bubblelens.report.inputs import RunFacts
from bubblelens.report.model import ChartSpec, Source
from bubblelens.report.tables import published_row
from bubblelens.training.names import FLOW_VARIANT

PACGAN_SOURCE = Source(
    "lin2018_pacgan", "PacGAN: The power of two samples in generative adversarial networks (Table 1)",
    "Lin, Khetan, Fanti, Oh — NeurIPS 2018", "https://arxiv.org/abs/1712.04086", "2018", "2026-11-29",
    "not stated (numbers quoted for comparison)",
    "Two-dimensional mixture experiments: modes captured, high-quality samples and reverse KL "
    "(transcribed in data/reference/mixture2d_results.csv).")


@dataclass
class ChartEnv:
    out_dir: object           # Path of charts/
    measured_by: str
    published: pd.DataFrame   # PacGAN / VEEGAN Table 1 rows
    meta: object = None       # ReportMeta: build id and date for each chart's citation


def _runs(ev: Any, model: str | None = None, dataset: str | None = None) -> list[RunFacts]:
    """`ev`'s runs (all of them, or those of `model` and `dataset`), read through `RunFacts`."""
    runs: list[RunFacts] = list(ev.runs)
    return [r for r in runs if (model is None or r.model == model) and (dataset is None or r.dataset == dataset)]


def _grid(images: np.ndarray, cols: int = 8) -> np.ndarray:
    n = min(len(images), cols * cols)
    rows = int(np.ceil(n / cols))
    canvas = np.ones((rows * 29 + 1, cols * 29 + 1), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[1 + r * 29: 1 + r * 29 + 28, 1 + c * 29: 1 + c * 29 + 28] = images[i] / 255.0
    return canvas


def sample_grids(ev, env: ChartEnv) -> ChartSpec | None:
    panels = [("Real (held-out)", "real__grid")]
    for model, label in (("dcgan", "DCGAN"), ("vae", "VAE"), ("flow", "Flow matching")):
        runs = _runs(ev, model, "fashion_mnist")
        if runs:
            r = runs[0]
            panels.append((f"{label} (seed {r.seed})", f"{model}-fashion_mnist-reference-s{r.seed}__grid"))
    panels = [(t, k) for t, k in panels if k in ev.arrays]
    if len(panels) < 2:
        return None
    data = pd.DataFrame({"panel": [t for t, _ in panels], "array": [k for _, k in panels],
                         "images": [len(ev.arrays[k]) for _, k in panels]})
    spec = ChartSpec("fig-sample-grids", "Samples: real images against the trained generators",
                     "64 images per panel: held-out Fashion-MNIST test images and samples of the first seed of each "
                     "generative model (flow matching at its largest number of sampling steps), without selection.", "pixels (28 × 28 grayscale)", data, [],
                     env.measured_by, fmt="png")
    images = {key: ev.arrays[key] for _, key in panels}      # `draw` closes over these, not all of `ev`

    def draw(fig, ax):
        ax.remove()
        for i, (title, key) in enumerate(panels):
            a = fig.add_subplot(1, len(panels), i + 1)
            a.imshow(_grid(images[key]), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            a.set_title(title, fontsize=9)
            a.axis("off")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def training_losses(ev, env: ChartEnv) -> ChartSpec | None:
    rows = []
    for r in _runs(ev):
        if r.dataset != "fashion_mnist":
            continue
        h = r.history
        keys = ("d_loss", "g_loss") if r.model == "dcgan" else ("loss",)
        for k in keys:
            for step, v in zip(h["step"], h.get(k, [])):
                rows.append((r.model, r.seed, k, step, v))
    if not rows:
        return None
    data = pd.DataFrame(rows, columns=["model", "seed", "series", "step", "value"])
    spec = ChartSpec("fig-training-losses", "Training losses per seed",
                     "DCGAN discriminator and generator losses (binary cross-entropy on logits), the VAE's negative "
                     "ELBO per image and flow matching's velocity regression error (mean squared error per pixel), "
                     "against optimiser steps; one line per seed.", "loss (nats; flow: squared error)", data, [],
                     env.measured_by)

    def draw(fig, ax):
        ax.remove()
        titles = {"dcgan": "DCGAN (D solid, G dashed)", "vae": "VAE negative ELBO", "flow": "Flow matching MSE"}
        models = [m for m in titles if m in set(data.model)]
        axes = {m: fig.add_subplot(1, len(models), i + 1) for i, m in enumerate(models)}
        for (model, seed, series), g in data.groupby(["model", "seed", "series"]):
            style = "-" if series in ("d_loss", "loss") else "--"
            axes[model].plot(g["step"], g["value"], style, lw=1, label=f"{series} s{seed}")
        for m, a in axes.items():
            a.set_title(titles[m], fontsize=9)
            a.set_xlabel("step")
        a1 = next(iter(axes.values()))
        a1.set_ylabel("loss")
        a1.legend(fontsize=6, ncol=2)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


MIXTURE_PANELS = (("mlp_gan", "vanilla", "GAN (vanilla)"), ("mlp_gan", "pacgan", "PacGAN"),
                  ("flow", FLOW_VARIANT, "flow matching"))


def mixture_samples(ev, env: ChartEnv, dataset: str) -> ChartSpec | None:
    runs = _runs(ev, dataset=dataset)
    panels = [(m, v, label) for m, v, label in MIXTURE_PANELS if any(r.model == m and r.variant == v for r in runs)]
    if not panels:
        return None
    seed = min(r.seed for r in runs)
    means, _ = mixture_spec(dataset)
    rows = []
    for m, v, label in panels:
        s = ev.arrays.get(f"{m}-{dataset}-{v}-s{seed}__samples")
        rows += [(label, seed, float(x), float(y)) for x, y in (s[:1000] if s is not None else [])]
    data = pd.DataFrame(rows, columns=["variant", "seed", "x", "y"])
    variants = list(dict.fromkeys(data.variant))
    spec = ChartSpec(f"fig-{dataset}-samples",
                     f"{'Ring of 8' if dataset == 'ring8' else 'Grid of 25'} Gaussians: generated samples",
                     f"1,000 samples of seed {seed} per family (dots; flow matching at its largest number of sampling "
                     f"steps) against the {len(means)} true modes (crosses).",
                     "2-D coordinates", data, [], env.measured_by, fmt="png")

    def draw(fig, ax):
        ax.remove()
        for i, v in enumerate(variants):
            a = fig.add_subplot(1, len(variants), i + 1)
            g = data[data.variant == v]
            a.scatter(g.x, g.y, s=2, alpha=0.5)
            a.scatter(means[:, 0], means[:, 1], marker="x", c="black", s=20)
            a.set_title(v, fontsize=9)
            a.set_aspect("equal")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def mode_coverage(ev, env: ChartEnv) -> ChartSpec | None:
    rows = [(r.dataset, "flow" if r.model == "flow" else r.variant, r.seed, r.metrics[KEY_MODES],
             r.metrics[KEY_HIGH_QUALITY]) for r in _runs(ev) if r.dataset != "fashion_mnist"]
    if not rows:
        return None
    data = pd.DataFrame(rows, columns=["dataset", "variant", "seed", KEY_MODES, KEY_HIGH_QUALITY])
    pub = env.published
    spec = ChartSpec("fig-mode-coverage", "Modes captured on 2-D mixtures: vanilla GAN, PacGAN and flow matching",
                     "Each dot is one seed of this build; diamonds are the means PacGAN's Table 1 reports for its "
                     "(longer) training. Dashed lines mark all modes.", "modes captured (count)", data,
                     [PACGAN_SOURCE] if len(pub) else [], env.measured_by)

    def draw(fig, ax):
        ax.remove()
        datasets = list(dict.fromkeys(data.dataset))
        for i, ds in enumerate(datasets):
            a = fig.add_subplot(1, len(datasets), i + 1)
            g = data[data.dataset == ds]
            variants = list(dict.fromkeys(g.variant))
            for j, v in enumerate(variants):
                vals = g[g.variant == v][KEY_MODES].to_numpy()
                jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else np.zeros(1)
                a.scatter(np.full(len(vals), j) + jitter, vals, s=18, label="this build" if j == 0 else None)
                published = _published_modes(pub, ds, v)
                if published is not None:
                    a.scatter([j + 0.3], [published], marker="D", c="black", s=22,
                              label="PacGAN Table 1" if j == 0 else None)
            n_modes = len(mixture_spec(ds)[0])
            a.axhline(n_modes, ls="--", c="grey", lw=0.8)
            a.set_xticks(range(len(variants)), variants)
            a.set_title(MIXTURE_TITLES.get(ds, ds), fontsize=9)
            a.set_ylim(0, n_modes + 1)
            a.set_ylabel("modes captured")
        fig.axes[0].legend(fontsize=7, loc="lower right")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def _published_modes(pub: pd.DataFrame, dataset: str, variant: str) -> float | None:
    row = published_row(pub, dataset, variant)
    return None if row is None else float(row.modes_captured)


def quality_metrics(ev, env: ChartEnv, summary: pd.DataFrame) -> ChartSpec | None:
    """`summary`: model, metric, mean, lo, hi, n (from report/tables.metric_summary)."""
    keep = summary[summary.metric.isin([KEY_PRECISION, KEY_RECALL, KEY_DENSITY, KEY_COVERAGE])]
    if keep.empty:
        return None
    spec = ChartSpec("fig-quality-metrics", "Precision, recall, density and coverage per model",
                     "Mean across seeds with a 95 % t interval (none when a single seed), measured in the domain "
                     "classifier's feature space against held-out real images.", "fraction (0–1; density may exceed 1)",
                     keep.reset_index(drop=True), [], env.measured_by)

    def draw(fig, ax):
        metrics_ = list(dict.fromkeys(keep.metric))
        models = list(dict.fromkeys(keep.model))
        width = 0.8 / max(len(models), 1)
        for j, m in enumerate(models):
            g = keep[keep.model == m].set_index("metric").reindex(metrics_)
            x = np.arange(len(metrics_)) + j * width
            err = None
            if g["lo"].notna().all():
                err = np.vstack([g["mean"] - g["lo"], g["hi"] - g["mean"]])
            ax.bar(x, g["mean"], width, yerr=err, capsize=3, label=m.upper())
        ax.set_xticks(np.arange(len(metrics_)) + width * (len(models) - 1) / 2, metrics_)
        ax.axhline(1.0, ls="--", c="grey", lw=0.8)
        ax.legend(fontsize=8)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def blur_spectra(ev, env: ChartEnv) -> ChartSpec | None:
    curves = {"real": ev.arrays.get("real__spectrum")}
    for model in ("dcgan", "vae", "flow"):
        runs = _runs(ev, model, "fashion_mnist")
        if runs:
            curves[model] = np.mean([ev.arrays[f"{model}-fashion_mnist-reference-s{r.seed}__spectrum"]
                                     for r in runs], axis=0)
    curves = {k: v for k, v in curves.items() if v is not None}
    if len(curves) < 2:
        return None
    rows = [(k, i, float(p)) for k, v in curves.items() for i, p in enumerate(v)]
    data = pd.DataFrame(rows, columns=["images", "frequency_bin", "power"])
    spec = ChartSpec("fig-blur-spectra", "Azimuthally averaged power spectra",
                     "Mean power per spatial-frequency bin (Durall et al. 2020); a generator that blurs loses power "
                     "at high frequencies. Model curves average their seeds.", "relative power (log scale)", data, [],
                     env.measured_by)

    def draw(fig, ax):
        for k, g in data.groupby("images", sort=False):
            ax.plot(g.frequency_bin, g.power, label=k.upper() if k != "real" else "real", lw=1.4)
        ax.set_yscale("log")
        ax.set_xlabel("spatial frequency (bin)")
        ax.set_ylabel("power")
        ax.legend(fontsize=8)

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def compute_per_run(ev, env: ChartEnv) -> ChartSpec | None:
    rows = [(f"{r.model}/{r.dataset}/{r.variant}", r.seed, r.compute.get(KEY_FLOPS_TOTAL) or 0.0,
             r.compute.get(KEY_WALL_S) or 0.0) for r in _runs(ev)]
    if not rows:
        return None
    data = pd.DataFrame(rows, columns=["configuration", "seed", KEY_FLOPS_TOTAL, KEY_WALL_S])
    agg = data.groupby("configuration", sort=False).agg(flops=(KEY_FLOPS_TOTAL, "mean"), wall=(KEY_WALL_S, "mean"))
    spec = ChartSpec("fig-compute-per-run", "Training compute per run",
                     "Floating-point operations counted with torch.utils.flop_counter (forward and backward of every "
                     "optimiser step) and wall time, mean over seeds.", "FLOP and seconds (log scales)", data, [],
                     env.measured_by)

    def draw(fig, ax):
        ax.remove()
        a1, a2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        y = np.arange(len(agg))
        a1.barh(y, agg.flops)
        a1.set_xscale("log")
        a1.set_yticks(y, agg.index, fontsize=7)
        a1.set_xlabel("FLOP per run")
        a2.barh(y, agg.wall, color="C1")
        a2.set_xscale("log")
        a2.set_yticks(y, [""] * len(y))
        a2.set_xlabel("wall time per run (s)")

    return draw_chart(spec, draw, env.out_dir, meta=env.meta)


def all_model_charts(ev, env: ChartEnv, summary: pd.DataFrame) -> list[ChartSpec]:
    charts = [sample_grids(ev, env), training_losses(ev, env), quality_metrics(ev, env, summary),
              blur_spectra(ev, env), mode_coverage(ev, env)]
    charts += [mixture_samples(ev, env, ds) for ds in ("ring8", "grid25")]
    charts.append(compute_per_run(ev, env))
    return [c for c in charts if c is not None]
