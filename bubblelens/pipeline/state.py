"""What each stage hands the next: frozen, typed results, each with the fingerprint of what made it.

```
data ─> Images ─┬─> features ─> Features ─┐
                └─> train ─> [TrainedRun] ─┴─> evaluate ─> Evaluated ─┐
market ─> MarketData ─────────────────────────────────────────────────┴─> claims ─> Verdicts
                                                                        ─> charts ─> Charts ─> render
```
BuildState collects them as the build runs; a stage reads fields of its inputs, never string keys. A cached
unit carries its role (FeatureExtractor, ReferenceRun, SweepPoint, EnsembleChunk, ...), so a stage knows what
a result is from the unit it came back with, not from its position or a key written into the record.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

from bubblelens.datasets.images import ImageSplit
from bubblelens.evaluation.names import KEY_DIVERGED, KEY_FLOPS_TOTAL, KEY_N_FAILURE_EVENTS, KEY_WALL_S
from bubblelens.training.run_result import EVENT_DIVERGENCE, EVENT_NON_FINITE, RunResult
from bubblelens.training.names import SAMPLES

if TYPE_CHECKING:   # types only: the model stages must run without the market and report layers
    from bubblelens.claims.engine import ClaimResult
    from bubblelens.market.load import Market
    from bubblelens.report.model import ChartSpec, ReportMeta


def run_id(model: str, dataset: str, variant: str, seed: int) -> str:
    return f"{model}-{dataset}-{variant}-s{seed}"


# Roles: what a cached unit's result is to the stage that asked for it (CachedUnit.role), and what a trained
# run is to the evaluation (TrainedRun.role). Frozen and hashable: a run's role is its identity in the build
# (a sweep point may be the very same training as a reference run, with the same run id and fingerprint).

@dataclass(frozen=True)
class FeatureExtractor:
    """The domain classifier whose features every image metric uses."""


@dataclass(frozen=True)
class ReferenceRun:
    """An image model of the profile at its reference configuration, one seed."""

    model: str
    seed: int


@dataclass(frozen=True)
class SweepPoint:
    """One (width, epochs) point of the compute sweep (seed 0); not one of the reported runs."""

    model: str
    width: int
    epochs: int


@dataclass(frozen=True)
class EnsembleChunk:
    """Seeds of one 2-D mixture (dataset, variant) trained together as one batched ensemble."""

    dataset: str
    variant: str
    seeds: tuple[int, ...]
    model: str = "mlp_gan"


@dataclass(frozen=True)
class EnsembleMember:
    """One seed of an ensemble chunk, as a run of its own."""

    dataset: str
    variant: str
    seed: int
    model: str = "mlp_gan"


@dataclass(frozen=True)
class RealReference:
    """What the metrics measure on real images (FID floor, class shares)."""


@dataclass(frozen=True)
class RunEvaluation:
    """The image metrics of the trained run whose role is `of`."""

    of: "RunRole"


@dataclass(frozen=True)
class MixtureEvaluations:
    """The mode metrics of every mixture run, and the true mixtures' check (one unit)."""


RunRole = Union[ReferenceRun, SweepPoint, EnsembleMember]


@dataclass(frozen=True)
class Images:
    train: ImageSplit
    test: ImageSplit
    fingerprint: str          # of the files and of how many images of them are used
    directory: str
    digest: str = ""          # of the files alone (the manifest's input hash)


@dataclass(frozen=True)
class Features:
    """The domain classifier: its weights as arrays, what was measured of it, and its fingerprint."""

    state: dict[str, np.ndarray]
    info: dict
    fingerprint: str


@dataclass(frozen=True)
class TrainedRun:
    """One training run rebuilt from its cache entry, what it is in the build, and its cache fingerprint."""

    result: RunResult
    role: RunRole
    fingerprint: str

    @property
    def run_id(self) -> str:
        r = self.result
        return run_id(r.model, r.dataset, r.variant, r.seed)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return {SAMPLES: self.result.samples, **self.result.extras}

    @property
    def is_image(self) -> bool:
        return self.result.dataset == "fashion_mnist"


@dataclass(frozen=True)
class RunRecord:
    """One evaluated run as the report and the build's runs.json see it: the training record and its metrics.
    The report reads it by its fields, as report/inputs.py's `RunFacts`."""

    model: str
    dataset: str
    variant: str
    seed: int
    config: dict[str, Any]
    compute: dict[str, Any]
    failure_events: list[dict[str, Any]]
    history: dict[str, list[float]]
    metrics: dict[str, float | None]

    @classmethod
    def of(cls, run: RunResult, metrics: dict[str, float | None]) -> "RunRecord":
        return cls(run.model, run.dataset, run.variant, run.seed, run.config, run.compute, run.failure_events,
                   run.history, metrics)

    @classmethod
    def from_json(cls, data: dict) -> "RunRecord":
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def diverged(self) -> bool:
        return any(e["kind"] in (EVENT_NON_FINITE, EVENT_DIVERGENCE) for e in self.failure_events)


SWEEP_COLUMNS = ["model", "width", "epochs", "seed", "flops_total", "fid"]


@dataclass(frozen=True)
class SweepRow:
    """One point of the compute sweep: a sweep run's end or a reference run's snapshot."""

    model: str
    width: int
    epochs: float
    seed: int
    flops_total: float
    fid: float | None


NFE_COLUMNS = ["model", "dataset", "variant", "seed", "nfe", "flops_per_sample", "metric", "value"]


@dataclass(frozen=True)
class NfeRow:
    """One metric of a flow run's samples drawn with `nfe` Euler steps (counted FLOPs per sample)."""

    model: str
    dataset: str
    variant: str
    seed: int
    nfe: int
    flops_per_sample: float
    metric: str
    value: float | None


@dataclass(frozen=True)
class Evaluated:
    """Everything the report needs from the models: per-run records, small arrays and where they came from."""

    runs: tuple[RunRecord, ...]
    arrays: dict[str, np.ndarray]         # "<run_id>__grid", "<run_id>__samples", "<run_id>__spectrum", "real__spectrum", ...
    features_info: dict
    real: dict                            # reference values measured on real data (FID floor, true mixture coverage)
    origin: dict                          # {"kind": "build"|"bundle", ...}
    sweep: tuple[SweepRow, ...] = ()
    fingerprint: str = ""                 # of the units evaluated (a build) or of the bundle's bytes
    nfe: tuple[NfeRow, ...] = ()          # flow runs: quality against sampling compute

    def runs_long(self) -> pd.DataFrame:
        """One row per (run, metric): the evidence table claims read."""
        rows = []
        for r in self.runs:
            values = dict(r.metrics)
            values[KEY_FLOPS_TOTAL] = r.compute.get("flops_total")
            values[KEY_WALL_S] = r.compute.get("wall_s")
            values[KEY_N_FAILURE_EVENTS] = len(r.failure_events)
            values[KEY_DIVERGED] = float(r.diverged)
            # By name: a result read back from the cache has its keys sorted, a fresh one does not, and
            # metrics.csv must not depend on which it was.
            for metric, value in sorted(values.items()):
                if isinstance(value, (int, float)) and value is not None:
                    rows.append((r.model, r.dataset, r.variant, r.seed, metric, float(value)))
        return pd.DataFrame(rows, columns=["model", "dataset", "variant", "seed", "metric", "value"])

    def sweep_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.sweep], columns=SWEEP_COLUMNS)

    def nfe_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.nfe], columns=NFE_COLUMNS)


@dataclass(frozen=True)
class MarketData:
    """The curated market evidence, the date the report states (staleness is judged against it), and the
    fingerprints of the market data and of data/external (None when there is none)."""

    market: "Market"
    date_text: str
    fingerprint: str
    external: str | None


@dataclass(frozen=True)
class Verdicts:
    """The claims' results and the article's questions answered from them; `registry` is the digest of
    data/claims.toml, `fingerprint` covers it and every claim's cache fingerprint."""

    claims: list["ClaimResult"]
    answers: list[dict]
    registry: str
    fingerprint: str


@dataclass(frozen=True)
class Charts:
    """The drawn charts by id, in the directory they were drawn into (not yet in place), and the report
    metadata they cite; `fingerprint` is the render unit's key they were drawn under."""

    charts: dict[str, "ChartSpec"]
    meta: "ReportMeta"
    chart_dir: Path
    fingerprint: str


@dataclass
class BuildState:
    images: Images | None = None
    features: Features | None = None
    runs: list[TrainedRun] | None = None
    evaluated: Evaluated | None = None
    market: MarketData | None = None
    verdicts: Verdicts | None = None
    changes: dict | None = None
