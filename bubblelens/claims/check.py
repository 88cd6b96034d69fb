"""`bubblelens claims check`: for every claim, which verdicts its rule can reach at a profile's sizes.

The sizes come from the evidence a build would hand the claims: a finished build's results (its
`results/metrics.csv` and `sweep.csv`: the real groups, seeds and sweep points, and the FLOPs its
configuration fixed) when `--out` holds one of that profile, else a skeleton made from the profile's
configuration (groups and seeds only; design metrics such as FLOPs are then unknown, so a rule that a
configuration settles is caught only against a build). Market claims always use the curated data as
they are. Claims with an unreachable verdict fail the check in `quick` and `full`; in `smoke` (one image
seed) they are labelled "cannot be decided at smoke size" instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bubblelens.claims.kinds import Evidence
from bubblelens.claims.reachability import RUN_COLS, Reachability, reachable
from bubblelens.claims.registry import ClaimSpec
from bubblelens.claims.statistics import KINDS
from bubblelens.core.config import BuildConfig
from bubblelens.evaluation.names import KEY_FID, KEY_FLOPS_TOTAL
from bubblelens.training.names import FLOW_VARIANT

SMOKE = "smoke"
CHECKED_PROFILES = ("quick", "full")     # where an unreachable verdict fails the check
SMOKE_LABEL = "cannot be decided at smoke size"
SETTLED_LABEL = "settled by its design at these sizes"


@dataclass(frozen=True)
class ClaimCheck:
    claim_id: str
    reach: Reachability
    profile: str

    @property
    def status(self) -> str:
        if self.reach.decidable:
            return "decidable"
        return SMOKE_LABEL if self.profile == SMOKE else SETTLED_LABEL

    @property
    def fails(self) -> bool:
        return not self.reach.decidable and self.profile in CHECKED_PROFILES

    def to_json(self) -> dict:
        return {"claim": self.claim_id, "profile": self.profile, "status": self.status, **self.reach.to_json()}


def check_claims(specs: list[ClaimSpec], evidence: Evidence) -> list[ClaimCheck]:
    return [ClaimCheck(s.id, reachable(KINDS[s.statistic], s.params, evidence), evidence.profile) for s in specs]


def skeleton_evidence(cfg: BuildConfig, market, published: pd.DataFrame | None = None) -> Evidence:
    """Evidence with the profile's groups and seeds and no measured values (sizes only)."""
    rows = [(m, "fashion_mnist", "reference", s, "seed", float("nan"))
            for s in cfg.seeds_image for m in ("dcgan", "vae")]
    rows += [("flow", "fashion_mnist", "reference", s, "seed", float("nan")) for s in cfg.seeds_image]
    rows += [("mlp_gan", d, v, s, "seed", float("nan"))
             for d in cfg.mixture.datasets for v in cfg.mixture.variants for s in cfg.seeds_mixture]
    rows += [("flow", d, FLOW_VARIANT, s, "seed", float("nan")) for d in cfg.flow_mixture.datasets for s in cfg.seeds_mixture]
    # Sweep compute levels only need their spread: conv FLOPs grow with width squared and with epochs;
    # snapshots of the reference runs (model_stages.snapshot_sweep) add one series per image seed.
    d = cfg.dcgan
    sweep = [("dcgan", w, e, 0, w * w * e, float("nan")) for w in cfg.sweep.widths for e in cfg.sweep.epochs]
    if d.snapshot_fractions:
        sweep += [("dcgan", d.width, d.epochs * f, s, d.width ** 2 * d.epochs * f, float("nan"))
                  for s in cfg.seeds_image for f in (*d.snapshot_fractions, 1.0)]
    return Evidence(runs=pd.DataFrame(rows, columns=RUN_COLS),
                    sweep=pd.DataFrame(sweep, columns=["model", "width", "epochs", "seed", KEY_FLOPS_TOTAL, KEY_FID]),
                    market=market, profile=cfg.profile,
                    published=published if published is not None else pd.DataFrame())


def build_evidence(out_dir: Path, profile: str, market, published: pd.DataFrame | None = None) -> Evidence | None:
    """The evidence of the build in `out_dir` when it is one of `profile`, else None."""
    results, manifest = Path(out_dir) / "results", Path(out_dir) / "manifest.json"
    try:
        if json.loads(manifest.read_text(encoding="utf-8")).get("profile") != profile:
            return None
        runs = pd.read_csv(results / "metrics.csv")
        sweep = pd.read_csv(results / "sweep.csv") if (results / "sweep.csv").is_file() else pd.DataFrame()
    except (OSError, ValueError):
        return None
    return Evidence(runs=runs, sweep=sweep, market=market, profile=profile,
                    published=published if published is not None else pd.DataFrame())
