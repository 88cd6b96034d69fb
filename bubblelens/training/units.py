"""Training work units: top-level functions of plain, picklable inputs, returning (record, arrays).

The pipeline caches each unit's return value under a fingerprint; an executor may run a unit in another
process or on another machine, so a unit never sees the build context: it gets params dataclasses, numpy
arrays, seeds, a device name and (for resumable runs) a scratch directory, and returns JSON-ready data and
named arrays. These functions are also the entry points of the training stage's code version
(pipeline/code_graph.py): everything they import, transitively, is the code whose edits retrain.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bubblelens.core.config import DCGANParams, FlowImageParams, FlowMixtureParams, MixtureParams, VAEParams
from bubblelens.training.dcgan import train_dcgan
from bubblelens.training.flow import train_flow_images, train_flow_mixture_seeds
from bubblelens.training.loop import Progress
from bubblelens.training.mixture import train_mixture_seeds
from bubblelens.training.names import SAMPLES, mixture_array
from bubblelens.training.vae import train_vae

IMAGE_MODELS = ("dcgan", "vae", "flow")


def train_image_unit(model: str, params: DCGANParams | VAEParams | FlowImageParams, train_images: np.ndarray,
                     test_images: np.ndarray, seed: int, device: str, ckpt_dir: Path | None = None,
                     progress: Progress | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """One image-model run: (RunResult JSON, {'samples', *extras}). test_images feed the VAE's
    reconstruction grid only; the DCGAN never sees them."""
    if model == "dcgan":
        run = train_dcgan(params, train_images, seed, device, ckpt_dir=ckpt_dir, progress=progress)
    elif model == "vae":
        run = train_vae(params, train_images, test_images, seed, device, ckpt_dir=ckpt_dir, progress=progress)
    elif model == "flow":
        run = train_flow_images(params, train_images, seed, device, ckpt_dir=ckpt_dir, progress=progress)
    else:
        raise ValueError(f"unknown image model {model!r}; choose one of {IMAGE_MODELS}")
    return run.to_json(), {SAMPLES: run.samples, **run.extras}


def train_mixture_unit(params: MixtureParams, dataset: str, variant: str, seeds: tuple[int, ...], device: str,
                       ckpt_dir: Path | None = None,
                       progress: Progress | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The given seeds of one (mixture, variant) as one batched ensemble (the pipeline passes a chunk of
    `ensemble_size` seeds, or all): ({'runs': [...]}, {'s<seed>': samples,
    's<seed>__<extra>': each extra array, e.g. the checkpoint samples}). With `ckpt_dir` the ensemble
    checkpoints itself and a rerun resumes where the last one stopped."""
    results = train_mixture_seeds(params, dataset, variant, tuple(seeds), device, progress=progress,
                                  ckpt_dir=ckpt_dir)
    return ensemble_output(results)


def train_flow_mixture_unit(params: FlowMixtureParams, dataset: str, seeds: tuple[int, ...], device: str,
                            progress: Progress | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The given seeds of flow matching on one mixture as one ensemble, in the mixture GANs' unit form.
    Short enough (minutes) to need no resumable checkpoints."""
    return ensemble_output(train_flow_mixture_seeds(params, dataset, tuple(seeds), device, progress=progress))


def ensemble_output(results: list) -> tuple[dict, dict[str, np.ndarray]]:
    """An ensemble's runs as a unit's return value: ({'runs': [...]}, arrays named per seed)."""
    arrays = {mixture_array(r.seed): r.samples for r in results}
    arrays |= {mixture_array(r.seed, name): a for r in results for name, a in r.extras.items()}
    return {"runs": [r.to_json() for r in results]}, arrays


