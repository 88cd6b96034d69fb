"""Names of the arrays a training run returns beside its samples: the contract with evaluation.

A module of its own so that evaluation can read them without importing (and fingerprinting) a trainer.
"""
from __future__ import annotations

SAMPLES = "samples"                          # scored samples: eval-mode BatchNorm, the tutorial's training=False
BATCH_STATS_SAMPLES = "samples_batch_stats"  # DCGAN samples with BatchNorm batch statistics (measured, not scored)
SNAPSHOT_PREFIX = "snap_"                    # "snap_<step>": DCGAN samples at a fraction of the run
LATENT_MU = "latent_mu"                      # VAE posterior means of held-out images (active units)
RECON = "recon"                              # VAE reconstructions of held-out images (report grid)
CHECKPOINT_SAMPLES = "checkpoint_samples"    # mixture runs: (checkpoints, n, 2) samples every eval_every steps
FLOW_VARIANT = "rectified"                   # flow matching's variant name: the straight (rectified) path
NFE_PREFIX = "nfe_"                          # flow runs: "nfe_<k>" samples drawn with k Euler steps


def nfe_array(nfe: int) -> str:
    """Name of a flow run's samples drawn with `nfe` network evaluations."""
    return f"{NFE_PREFIX}{nfe}"


def mixture_array(seed: int, extra: str = "") -> str:
    """Name of one seed's samples (or of one of its extra arrays) in a mixture unit's arrays."""
    return f"s{seed}" + (f"__{extra}" if extra else "")
