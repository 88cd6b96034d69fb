"""What each stage hands the next, as typed records instead of an untyped dict.

```
data ─> Images ─┬─> features ─> Features ─┐
                └─> train ─> [TrainedRun] ─┴─> evaluate ─> Evaluated ─┐
market ─> Market ─────────────────────────────────────────────────────┴─> claims ─> [ClaimResult]
                                                                        ─> charts ─> Charts ─> render
```
BuildState collects them as the build runs; a stage reads only the fields its inputs fill.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bubblelens.datasets.images import ImageSplit
from bubblelens.evaluation.names import KEY_DIVERGED, KEY_FLOPS_TOTAL, KEY_N_FAILURE_EVENTS, KEY_WALL_S
from bubblelens.training.loop import EVENT_DIVERGENCE, EVENT_NON_FINITE

if TYPE_CHECKING:   # types only: the model stages must run without the market and report layers
    from bubblelens.claims.engine import ClaimResult
    from bubblelens.market.load import Market
    from bubblelens.report.model import ChartSpec, ReportMeta


def run_id(model: str, dataset: str, variant: str, seed: int) -> str:
    return f"{model}-{dataset}-{variant}-s{seed}"


@dataclass
class Images:
    train: ImageSplit
    test: ImageSplit
    fingerprint: str          # of the files and of how many images of them are used
    directory: str


@dataclass
class Features:
    """The domain classifier: its weights as arrays, what was measured of it, and its fingerprint."""

    state: dict[str, np.ndarray]
    info: dict
    fingerprint: str


@dataclass
class TrainedRun:
    """One training run as cached: its RunResult JSON, arrays (samples, extras), and the cache fingerprint."""

    record: dict
    arrays: dict[str, np.ndarray]
    fingerprint: str

    @property
    def run_id(self) -> str:
        r = self.record
        return run_id(r["model"], r["dataset"], r["variant"], r["seed"])


@dataclass
class Evaluated:
    """Everything the report needs from the models: per-run records, small arrays and where they came from."""

    runs: list[dict]                      # model, dataset, variant, seed, config, compute, failure_events, history, metrics
    arrays: dict[str, np.ndarray]         # "<run_id>__grid", "<run_id>__samples", "<run_id>__spectrum", "real__spectrum", ...
    features_info: dict
    real: dict                            # reference values measured on real data (FID floor, true mixture coverage)
    origin: dict                          # {"kind": "build"|"bundle", ...}
    sweep: list[dict] = field(default_factory=list)

    def runs_long(self) -> pd.DataFrame:
        """One row per (run, metric): the evidence table claims read."""
        rows = []
        for r in self.runs:
            values = dict(r["metrics"])
            values[KEY_FLOPS_TOTAL] = r["compute"].get("flops_total")
            values[KEY_WALL_S] = r["compute"].get("wall_s")
            values[KEY_N_FAILURE_EVENTS] = len(r["failure_events"])
            values[KEY_DIVERGED] = float(any(e["kind"] in (EVENT_NON_FINITE, EVENT_DIVERGENCE)
                                             for e in r["failure_events"]))
            # By name: a result read back from the cache has its keys sorted, a fresh one does not, and
            # metrics.csv must not depend on which it was.
            for metric, value in sorted(values.items()):
                if isinstance(value, (int, float)) and value is not None:
                    rows.append((r["model"], r["dataset"], r["variant"], r["seed"], metric, float(value)))
        return pd.DataFrame(rows, columns=["model", "dataset", "variant", "seed", "metric", "value"])

    def sweep_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.sweep, columns=["model", "width", "epochs", "seed", "flops_total", "fid"])


@dataclass
class Charts:
    """The drawn charts by id, and the analysis the report prints beside them."""

    charts: dict[str, "ChartSpec"]
    summary: pd.DataFrame                 # metric means and intervals per (model, dataset, variant)
    growth: pd.DataFrame                  # growth fits of the curated series
    sp500: Any                            # (radf result, critical values, episodes) of the yardstick, or None
    meta: "ReportMeta"
    chart_dir: Path
    long: dict = field(default_factory=dict)   # analysis.long_series: panels, NVIDIA regimes, Epoch trends


@dataclass
class BuildState:
    images: Images | None = None
    features: Features | None = None
    runs: list[TrainedRun] | None = None
    evaluated: Evaluated | None = None
    market: "Market | None" = None
    claims: list["ClaimResult"] | None = None
    answers: list[dict] | None = None     # the registry's questions answered (claims/questions.py)
    changes: dict | None = None
    charts: Charts | None = None
