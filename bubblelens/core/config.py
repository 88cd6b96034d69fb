"""Build configuration: frozen dataclasses, the three profiles, TOML overrides and a canonical dict.

A profile is a complete `BuildConfig`; a TOML file given with `--config` overrides fields by section,
e.g. `[dcgan] epochs = 5` or `seeds_image = [0, 1, 2]`. The canonical dict (sorted keys, tuples as
lists) is what goes into fingerprints, checkpoints and the manifest.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bubblelens.core.errors import UsageError

PROFILES = ("smoke", "quick", "full")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ImageDataParams:
    source: str = "shipped"       # "shipped" (data/images subset) or "full" (60k split from --images)
    n_train: int = 15000          # training images used (first n of the split)
    n_eval: int = 10000           # held-out test images used as the real reference set


@dataclass(frozen=True)
class DCGANParams:
    """The DCGAN's training parameters (length, optimiser, sampling); its architecture: models.dcgan.DCGANConfig."""

    width: float = 1.0            # channel multiplier on the reference architecture (1.0 = the article's)
    noise_dim: int = 100
    epochs: int = 50
    max_steps: int = 0            # 0 = no cap; otherwise stop after this many optimiser steps
    batch_size: int = 256
    lr: float = 1e-4              # Adam, both networks, as the TensorFlow tutorial
    adam_beta1: float = 0.9       # Keras's default; Radford et al. (2016) use 0.5
    bn_momentum: float = 0.01     # PyTorch convention: Keras's momentum 0.99 is 0.01; Radford et al. 0.1
    n_samples: int = 10000        # generated images kept for evaluation
    # Fractions of the run at which G's samples are also kept (training-length axis of the compute sweep).
    snapshot_fractions: tuple[float, ...] = ()


@dataclass(frozen=True)
class VAEParams:
    width: float = 1.0
    latent_dim: int = 16
    epochs: int = 30
    max_steps: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0             # KL weight; 1.0 is the plain ELBO
    n_samples: int = 10000


# PacGAN's public 2-D configuration (github.com/fjxmlzn/PacGAN, synthetic_data_experiments/2DGrid_GAN&PacGAN/
# config.py): 400 epochs over one draw of 100,000 samples in batches of 100 = 400,000 steps; G 4 x 400, D 3 x 200
# for every packing degree; Adam lr 1e-4, beta1 0.8. The full profile trains these sizes, optimiser and length,
# with fresh mixture samples every step instead of a fixed draw; the report says where a profile leaves it.
PACGAN_RECIPE = {"steps": 400_000, "epochs": 400, "samples": 100_000, "batch_size": 100, "lr": 1e-4,
                 "adam_beta1": 0.8, "g_hidden": 400, "d_hidden": 200}


@dataclass(frozen=True)
class MixtureParams:
    datasets: tuple[str, ...] = ("ring8", "grid25")
    variants: tuple[str, ...] = ("vanilla", "pacgan")
    pack: int = 2                 # PacGAN packing degree for the "pacgan" variant
    steps: int = PACGAN_RECIPE["steps"]
    batch_size: int = PACGAN_RECIPE["batch_size"]   # packed samples per step: 100 D inputs of `pack` samples
    lr: float = PACGAN_RECIPE["lr"]
    adam_beta1: float = PACGAN_RECIPE["adam_beta1"]
    g_hidden: int = PACGAN_RECIPE["g_hidden"]
    d_hidden: int = PACGAN_RECIPE["d_hidden"]
    # Train on data divided by the mixture's coordinate standard deviation (datasets/mixtures.py:
    # mixture_scale) and scale samples back before scoring; PacGAN trains on the raw coordinates.
    standardise: bool = False
    n_samples: int = 2500         # VEEGAN/PacGAN evaluate 2,500 samples
    # Checkpoint samples every `eval_every` steps (0: none), `eval_samples` per seed, for the training
    # compute each run needs to reach its target (evaluation/units.py: target_metrics).
    eval_every: int = 5000
    eval_samples: int = 1000
    # Seeds per training unit (0: all seeds of a group in one unit). A member's samples and metrics do not
    # depend on which seeds share its ensemble (training/mixture.py); only its 1/E shares of the ensemble's
    # wall time and energy do, so the size is part of the units' fingerprints. It balances units across workers.
    ensemble_size: int = 0


# Flow matching's sampling sweep: Euler steps (network evaluations) per sample. The largest is the scored one.
NFE_SWEEP = (1, 2, 4, 8, 16, 32, 64)
# How flow matching draws a training batch's times t: uniform on (0, 1), or logit-normal (the sigmoid of a
# standard normal), which trains more on the middle of the path (Esser et al. 2024).
TIME_SAMPLINGS = ("uniform", "logit_normal")


@dataclass(frozen=True)
class FlowMixtureParams:
    """Flow matching on the 2-D mixtures (training/flow.py): an MLP velocity field, seeds as one ensemble."""

    datasets: tuple[str, ...] = ("ring8", "grid25")
    hidden: int = 256
    layers: int = 3
    x_freqs: int = 3              # Fourier features of the (standardised) coordinates fed to the MLP
    steps: int = 20_000
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay: bool = True         # linearly to 0 over the run (training/flow.py: decay_lr)
    nfe: tuple[int, ...] = NFE_SWEEP
    n_samples: int = 2500         # as the mixture GANs
    eval_every: int = 1000        # checkpoint samples (at the largest NFE) for the training compute to target
    eval_samples: int = 1000
    ensemble_size: int = 0        # seeds per training unit (0: all seeds of a mixture in one unit)


@dataclass(frozen=True)
class FlowImageParams:
    """Flow matching on Fashion-MNIST (training/flow.py): a U-Net velocity field, one run per seed."""

    channels: int = 32            # at 28 x 28 (models/flow.py: UNetConfig)
    epochs: int = 50
    max_steps: int = 0
    batch_size: int = 128
    lr: float = 2e-4
    nfe: tuple[int, ...] = NFE_SWEEP
    n_samples: int = 10000
    snapshot_fractions: tuple[float, ...] = ()
    snapshot_nfe: int = 16        # Euler steps of the snapshots' samples (training-compute axis)
    time_sampling: str = "uniform"   # t of a training batch: one of TIME_SAMPLINGS (training/flow.py: draw_times)

    def __post_init__(self) -> None:
        if self.time_sampling not in TIME_SAMPLINGS:
            raise UsageError(f"[flow] time_sampling: '{self.time_sampling}' is not one of {', '.join(TIME_SAMPLINGS)}")


@dataclass(frozen=True)
class FeatureParams:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    width: int = 32               # channels of the first conv layer of the domain classifier


@dataclass(frozen=True)
class EvalParams:
    n_fid: int = 10000            # samples per side for FID/KID/PRDC (FID is compared only at equal n)
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prdc_k: int = 5
    bootstrap: int = 1000


@dataclass(frozen=True)
class SweepParams:
    """Compute sweep for the diminishing-returns claim: DCGAN widths x training lengths (one seed each)."""
    widths: tuple[float, ...] = ()
    epochs: tuple[int, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    profile: str = "full"
    # torch threads of every work unit, whichever executor runs it: results differ between thread counts,
    # so this is part of every unit's fingerprint (pipeline/context.py) and never chosen per machine.
    threads: int = 1
    seeds_image: tuple[int, ...] = (0, 1, 2, 3, 4)
    seeds_mixture: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    images: ImageDataParams = field(default_factory=ImageDataParams)
    dcgan: DCGANParams = field(default_factory=DCGANParams)
    vae: VAEParams = field(default_factory=VAEParams)
    mixture: MixtureParams = field(default_factory=MixtureParams)
    flow: FlowImageParams = field(default_factory=FlowImageParams)
    flow_mixture: FlowMixtureParams = field(default_factory=FlowMixtureParams)
    features: FeatureParams = field(default_factory=FeatureParams)
    eval: EvalParams = field(default_factory=EvalParams)
    sweep: SweepParams = field(default_factory=SweepParams)


def _smoke() -> BuildConfig:
    return BuildConfig(
        profile="smoke",
        seeds_image=(0,),
        seeds_mixture=(0, 1),
        images=ImageDataParams(source="shipped", n_train=2048, n_eval=1000),
        dcgan=DCGANParams(width=0.125, epochs=1, max_steps=20, batch_size=64, lr=2e-4, n_samples=1000),
        vae=VAEParams(width=0.25, epochs=1, max_steps=30, batch_size=64, n_samples=1000),
        mixture=MixtureParams(steps=200, batch_size=100, lr=1e-3, g_hidden=32, d_hidden=32, n_samples=1000,
                              eval_every=50, eval_samples=500),
        flow=FlowImageParams(channels=4, epochs=1, max_steps=20, batch_size=64, lr=1e-3, nfe=(1, 2),
                             n_samples=1000, snapshot_nfe=1),
        flow_mixture=FlowMixtureParams(hidden=32, x_freqs=3, steps=200, batch_size=256, lr=2e-3, nfe=(1, 4, 16),
                                       n_samples=1000, eval_every=50, eval_samples=500),
        features=FeatureParams(epochs=1, batch_size=128, width=8),
        eval=EvalParams(n_fid=1000, kid_subsets=10, kid_subset_size=500, bootstrap=200),
    )


def _quick() -> BuildConfig:
    return BuildConfig(
        profile="quick",
        seeds_image=(0, 1, 2),
        # 20 ring-8 seeds per variant: `gan-mode-dropping` needs 17 or more counted runs (converged ring-8
        # vanilla runs plus the DCGAN seeds) for 0 failures to bound the share below 20 %, and vanilla runs may
        # stay below the convergence floor (3 of 20 did in the 2026-12-02 quick build); ensembles of 10, two
        # units per variant, so that the pool's two workers share the mixtures evenly.
        seeds_mixture=tuple(range(20)),
        images=ImageDataParams(source="shipped", n_train=15000, n_eval=5000),
        # Radford et al.'s DCGAN optimiser (Adam 2e-4, beta1 0.5, BatchNorm momentum 0.1) instead of the
        # tutorial's: measured steps to target (benchmarks/steps_to_target.py) made it the only way to train
        # this width within the CPU budget. The report says so; the full profile keeps the article's.
        # Snapshots at 1/16 ... 1/2 of training: the compute sweep of `compute-diminishing-returns` (5 levels
        # spanning 16x, 3 seeds), each point one evaluation instead of one training run.
        dcgan=DCGANParams(width=0.25, epochs=12, batch_size=64, lr=2e-4, adam_beta1=0.5, bn_momentum=0.1,
                          n_samples=5000, snapshot_fractions=(1 / 16, 1 / 8, 1 / 4, 1 / 2)),
        vae=VAEParams(width=0.5, epochs=25, batch_size=128, n_samples=5000),
        # PacGAN's recipe (Adam 1e-4, beta1 0.8, BatchNorm G, maxout D, raw coordinates) at a reduced width and
        # length, ring-8 only. Measured with benchmarks/mixture_convergence.py (seeds 0-9, 2026-12-02): ring-8
        # median high-quality share at 8k / 12k / 16k steps 0.72 / 0.77 / 0.80 (vanilla), 0.79 / 0.88 / 0.89
        # (PacGAN). The 20-seed quick build's checkpoints: 3 of 20 vanilla runs below the 0.5 floor at 10k and
        # at 12k alike, PacGAN median 0.83 at 10k; 10k rather than 12k keeps the build within 15 minutes
        # (12k measured 840-933 s cold here, 2026-12-02). Grid-25 at PacGAN's lr: median under 0.03 after
        # 8k steps (2026-12-01 build), and even lr 1e-3 on standardised data reaches only 0.44 (vanilla, 20k) /
        # 0.20 (PacGAN, 16k), about 6-7 min per 10-seed ensemble here, so grid-25 is left to the full profile.
        # D 32 costs half of D 64 per step and converged as fast.
        mixture=MixtureParams(datasets=("ring8",), steps=10000, batch_size=100, g_hidden=64, d_hidden=32,
                              n_samples=2500, eval_every=500, ensemble_size=10),
        # Flow matching, sized by benchmarks/flow_spike.py (2026-12-06, 10 seeds, both cores busy). Mixtures: with
        # Fourier features of x (3 frequencies) and the learning rate decayed linearly to 0, a 64-unit MLP reached
        # every mode on ring-8 and grid-25 in every seed after 3,000 steps of 512 (high-quality share at NFE 64:
        # min 0.80 / 0.80); without the x features grid-25 stayed at 0.03 even at 128 units, and at a constant lr
        # ring-8's median was 0.13 (training/flow.py: decay_lr). About 45 s per ensemble of 10 on one core.
        # Images, 2026-12-06: benchmarks/steps_to_target.py flow (seed 0, FID at NFE 8 in the quick domain features):
        # 16 base channels reached FID 113 / 103 / 95 after 250 / 500 / 750 of 1,000 steps of 128; 8 channels needed
        # 2,000 steps for 112. 2026-12-07, benchmarks/flow_image_spike.py (seed 0, n 2,000, the same training FLOPs:
        # 4 epochs, about 180 s on one core): at batch 128 the run is short of updates, not of samples. FID at NFE
        # 8 / 16: batch 128, uniform t 103.9 / 94.8; logit-normal t 94.0 / 85.9; batch 64 (lr 2e-3) 91.0 / 71.8;
        # batch 32 69.3 at NFE 16; batch 16 (lr 1e-3) 77.2 / 60.7, whose samples read as garments. The sweep
        # stops at 16: sampled by the compiled U-Net (training/sampling.py), a seed's unit spent about 195 s beyond
        # training on 5,000 images at NFE 1-16 (2026-12-07 quick build), against about 175 s for NFE 1-8 eagerly;
        # integrated 100 images at a time since (training/flow.py: CPU_EVAL_BATCH): the same images, 1.42x faster
        # alone, 1.11x inside a build (2026-12-07 night: 128 s beyond training against 144 s, benchmarks/README.md);
        # the first evaluation shared by every NFE since (training/flow.py: generate_sweep, the same images): a seed's
        # unit 188 / 194 / 204 s against 235 / 252 / 237 s in a quick build side by side (2026-12-07 late).
        flow=FlowImageParams(channels=16, epochs=4, batch_size=16, lr=1e-3, nfe=(1, 2, 4, 8, 16), n_samples=5000,
                             snapshot_nfe=8, time_sampling="logit_normal"),
        flow_mixture=FlowMixtureParams(hidden=64, x_freqs=3, steps=3000, batch_size=512, lr=2e-3, n_samples=2500,
                                       eval_every=250, eval_samples=1000, ensemble_size=10),
        features=FeatureParams(epochs=4, batch_size=128, width=16),
        eval=EvalParams(n_fid=5000, kid_subsets=50, kid_subset_size=1000, bootstrap=1000),
    )


def _full() -> BuildConfig:
    return BuildConfig(
        profile="full",
        images=ImageDataParams(source="full", n_train=60000, n_eval=10000),
        sweep=SweepParams(widths=(0.25, 0.5, 1.0), epochs=(5, 10, 25, 50)),
        # Not yet run (it needs the GPU). The U-Net takes smalldiffusion's Fashion-MNIST U-Net example's base width,
        # batch, learning rate and length (github.com/yuanchenyang/smalldiffusion, examples/fashion_mnist_unet.py: ch
        # 64, batch 1024, lr 7e-4, 300 epochs; its channel multipliers (1, 1, 2), attention at 14 px and EMA are not
        # copied: ours are (1, 2, 2), no attention, no EMA), with the NFE sweep 1-64. For scale, not comparison:
        # smalldiffusion's README reports an FID "of around 5-6" (Inception features) for its DiT example after
        # "around 2 hours" on one GPU.
        flow=FlowImageParams(channels=64, epochs=300, batch_size=1024, lr=7e-4,
                             snapshot_fractions=(1 / 16, 1 / 8, 1 / 4, 1 / 2)),
        flow_mixture=FlowMixtureParams(hidden=256, x_freqs=3, steps=20_000, batch_size=512, lr=1e-3),
    )


_PROFILE_FACTORIES = {"smoke": _smoke, "quick": _quick, "full": _full}


def profile_config(name: str) -> BuildConfig:
    if name not in _PROFILE_FACTORIES:
        raise UsageError(f"unknown profile '{name}'; choose one of: {', '.join(PROFILES)}")
    return _PROFILE_FACTORIES[name]()


def _override(obj: Any, values: dict, where: str) -> Any:
    """Return a copy of dataclass `obj` with `values` applied; nested tables recurse."""
    known = {f.name: f for f in fields(obj)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            raise UsageError(f"{where}: unknown setting '{key}'; valid: {', '.join(sorted(known))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UsageError(f"{where}: '{key}' must be a table")
            changes[key] = _override(current, value, f"{where} [{key}]")
        elif isinstance(current, tuple):
            if not isinstance(value, list):
                raise UsageError(f"{where}: '{key}' must be a list")
            changes[key] = tuple(value)
        else:
            if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not type(current):
                raise UsageError(f"{where}: '{key}' must be {type(current).__name__}, got {value!r}")
            changes[key] = value
    return replace(obj, **changes)


def load_config(profile: str, config_file: Path | None = None) -> BuildConfig:
    """The profile's config, with overrides from a TOML file when given."""
    cfg = profile_config(profile)
    if config_file is None:
        return cfg
    try:
        values = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config: file '{config_file}' does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--config: '{config_file}' is not valid TOML ({exc})") from None
    values.pop("profile", None)  # the profile comes from --profile only
    return _override(cfg, values, str(config_file))


def canonical(obj: Any) -> Any:
    """Plain, JSON-ready data with sorted keys: the form hashed into fingerprints and saved in checkpoints."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj
