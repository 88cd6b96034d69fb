"""The report's section on the modern family: flow matching beside the GAN and the VAE, on the same data
and metrics, with its sampling compute (NFE) as part of the result.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from bubblelens.analysis import stats
from bubblelens.core.config import BuildConfig
from bubblelens.datasets.mixtures import MIXTURE_TITLES, mixture_spec
from bubblelens.evaluation.names import (CONVERGENCE_FLOOR, KEY_COVERAGE, KEY_FID, KEY_HIGH_QUALITY, KEY_MODES,
                                         KEY_PRECISION, KEY_RECALL)
from bubblelens.report.charts.flow import nfe_frame, nfe_to_match
from bubblelens.report.model import Paragraph, Section, Table, figure_if_drawn
from bubblelens.report.numbers import fmt

INTRO = (
    "Today's image, audio and video generators are diffusion and flow models, not GANs or VAEs. To ask whether "
    "the modern method fixes the old failures, and what the fix costs, this build trains one itself: conditional "
    "flow matching on the straight (rectified) path (Lipman et al. 2023; Liu et al. 2023). A network learns the "
    "velocity that carries Gaussian noise to data along straight lines; sampling integrates it with a fixed "
    "number of Euler steps, each one network evaluation (NFE). The number of steps is the sampling compute, so "
    "it is part of the result: every flow model is sampled at several NFE from the same noise, and each NFE's "
    "samples are scored with the same features, sample counts, seeds and metrics as the DCGAN, the VAE and the "
    "mixture GANs. The scored samples (tables elsewhere in this report) are those at the largest NFE. FLOPs per "
    "sample are counted at each NFE with torch.utils.flop_counter, not multiplied out; that they grow with the "
    "NFE is a design fact, never a finding.")
SCALE_QUOTE = (
    "For scale, not comparison (another model, sampler, feature space and budget): smalldiffusion's README "
    "reports that its Fashion-MNIST diffusion transformer, \"training on a single GPU for around 2 hours\", "
    "reaches \"a FID score of around 5-6\" in Inception features (github.com/yuanchenyang/smalldiffusion, "
    "accessed 2026-12-06). The FIDs here are in this build's domain features and are not comparable to it. The "
    "full profile trains the U-Net at the base width, batch, learning rate and length of smalldiffusion's "
    "Fashion-MNIST U-Net example (64 channels, batch 1,024, lr 7e-4, 300 epochs), on a GPU.")


LOGIT_NORMAL_TEXT = "logit-normal (Esser et al. 2024, Scaling Rectified Flow Transformers, ICML)"


def _config_text(cfg: BuildConfig) -> str:
    f, m = cfg.flow, cfg.flow_mixture
    return (f"Configurations: **images** U-Net of {f.channels} base channels (28, 14 and 7 pixels; GroupNorm, SiLU, "
            f"skips, additive time embedding), {f.epochs} epochs"
            + (f" capped at {f.max_steps:,} steps" if f.max_steps else "")
            + f", batch {f.batch_size}, Adam lr {f.lr:g} decayed linearly to 0, "
            + (f"times t {LOGIT_NORMAL_TEXT}" if f.time_sampling == "logit_normal" else "times t uniform")
            + f", NFE {', '.join(map(str, f.nfe))}; "
            f"**mixtures** MLP of {m.layers} × {m.hidden} SiLU units on the coordinates divided by the mixture's "
            f"standard deviation, with {m.x_freqs} Fourier frequencies of the coordinates and 4 of time, "
            f"{m.steps:,} steps of {m.batch_size}, Adam lr {m.lr:g}" + (" decayed linearly to 0" if m.lr_decay else "")
            + f", NFE {', '.join(map(str, m.nfe))}, all seeds of a mixture trained as batched ensembles of "
            f"{m.ensemble_size or len(cfg.seeds_mixture)}; {', '.join(MIXTURE_TITLES.get(d, d) for d in m.datasets)}.")


def _mean_text(values: Sequence[float], pct: bool = False, support: tuple[float, float] | None = None) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    ci = stats.mean_ci(vals, support=support)
    k = 100.0 if pct else 1.0
    if ci["lo"] is None:
        return fmt(k * ci["mean"])
    return f"{fmt(k * ci['mean'])} [{fmt(k * ci['lo'])}, {fmt(k * ci['hi'])}]"


def nfe_table(sweep: pd.DataFrame) -> Table | None:
    """Per dataset and NFE: counted FLOPs per sample and the quality of the seeds' samples."""
    if sweep.empty:
        return None
    rows = []
    for (dataset, nfe), g in sweep.groupby(["dataset", "nfe"], sort=True):
        by = {m: g[g.metric == m].set_index("seed")["value"] for m in set(g.metric)}
        get = lambda m: list(by[m].values) if m in by else []   # noqa: E731
        flops = fmt(float(g.flops_per_sample.iloc[0]))
        if dataset == "fashion_mnist":
            rows.append(["Fashion-MNIST", nfe, flops, len(by.get(KEY_FID, [])), f"FID {_mean_text(get(KEY_FID))}; "
                         f"precision {_mean_text(get(KEY_PRECISION), support=(0, 1))}; recall "
                         f"{_mean_text(get(KEY_RECALL), support=(0, 1))}; coverage "
                         f"{_mean_text(get(KEY_COVERAGE), support=(0, 1))}"])
        else:
            n_modes = len(mixture_spec(dataset)[0])
            modes, hq = by.get(KEY_MODES, pd.Series(dtype=float)), by.get(KEY_HIGH_QUALITY, pd.Series(dtype=float))
            target = int(((modes >= n_modes) & (hq.reindex(modes.index) >= CONVERGENCE_FLOOR)).sum())
            rows.append([MIXTURE_TITLES.get(dataset, dataset), nfe, flops, len(modes),
                         f"modes {_mean_text(get(KEY_MODES), support=(0, n_modes))} of {n_modes}; high quality "
                         f"{_mean_text(get(KEY_HIGH_QUALITY), pct=True, support=(0, 1))} %; every mode at "
                         f"HQ ≥ {100 * CONVERGENCE_FLOOR:.0f} %: {target} of {len(modes)} seeds"])
    return Table("Flow matching: quality against sampling compute (NFE = Euler steps = network evaluations)",
                 ["Data", "NFE", "FLOP per sample", "Seeds", "Quality: mean [95 % t interval] across seeds"], rows,
                 table_id="tab-nfe",
                 note="Every NFE of a run starts from the same noise. Image metrics on the same n generated and "
                      "held-out images as the other image models (FID compared only at equal n); mixture metrics on "
                      "the same number of samples as the mixture GANs. FLOPs per sample counted with "
                      "torch.utils.flop_counter at each NFE.")


# Why the NFE-to-match is an answer about Euler's steps (benchmarks/README.md: the midpoint rule, two evaluations a
# step, reached a lower FID than Euler at every NFE tried at the quick sizes).
SOLVER_CAVEAT = ("Euler's rule is the simplest solver: in a benchmark at the quick profile's sizes "
                 "(benchmarks/flow_image_spike.py) the midpoint rule reached a lower FID at the same NFE, so this "
                 "is the sampling compute Euler needs, not the least any solver needs.")


def _match_text(ev) -> str:
    m = nfe_to_match(ev)
    if m is None:
        return ""
    if m["nfe"] is None:
        return (f"At none of its NFE did flow matching's mean FID reach the DCGAN's mean FID of {fmt(m['dcgan_fid'])}: "
                f"at its largest NFE ({m['largest_nfe']}) it was {fmt(m['largest_fid'])}. The DCGAN draws a sample "
                f"with one generator pass of {fmt(m['dcgan_flops'])} FLOPs. {SOLVER_CAVEAT}")
    return (f"Flow matching's mean FID over seeds (no interval: a point comparison) first reached the DCGAN's mean "
            f"FID ({fmt(m['dcgan_fid'])}) at NFE {m['nfe']} "
            f"(FID {fmt(m['flow_fid'])}), at {fmt(m['flow_flops'])} FLOPs per sample against the DCGAN's "
            f"{fmt(m['dcgan_flops'])}: {fmt(m['flow_flops'] / m['dcgan_flops'])} times the sampling compute, "
            f"measured at this build's sizes. {SOLVER_CAVEAT}")


def flow_section(ev, charts: Mapping, cfg: BuildConfig) -> Section | None:
    """The section, or None when the build trained no flow model (an imported bundle from before it)."""
    sweep = nfe_frame(ev)
    if sweep.empty:
        return None
    table, match = nfe_table(sweep), _match_text(ev)
    blocks = [Paragraph(INTRO), Paragraph(_config_text(cfg)) if ev.origin.get("kind") != "bundle" else None,
              table, Paragraph(match) if match else None,
              *figure_if_drawn(charts, "fig-nfe-quality"), *figure_if_drawn(charts, "fig-training-compute-quality"),
              Paragraph(SCALE_QUOTE)]
    return Section("flow-matching", "The modern family: flow matching", [b for b in blocks if b is not None])
