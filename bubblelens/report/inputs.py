"""What the report is made from, as the report package states it: `assemble` takes a `ReportInputs`, and
whoever builds a report (pipeline/report_stages.py) fills one in. Nothing here reads files or the build's
state; the pipeline's own types satisfy these by their fields (`RunFacts` is a structural protocol).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

import pandas as pd

if TYPE_CHECKING:
    from bubblelens.analysis.critical_values import CriticalValues
    from bubblelens.analysis.timeseries import Episode, RadfResult
    from bubblelens.claims.engine import ClaimResult
    from bubblelens.market.load import Market
    from bubblelens.report.model import ChartSpec


class NfeFacts(Protocol):
    """One metric of a flow run at one number of sampling steps (pipeline/state.py: NfeRow)."""

    model: str
    dataset: str
    variant: str
    seed: int
    nfe: int
    flops_per_sample: float
    metric: str
    value: float | None


class RunFacts(Protocol):
    """One evaluated training run, as the report reads it (pipeline/state.py: RunRecord)."""

    model: str
    dataset: str
    variant: str
    seed: int
    config: dict[str, Any]
    compute: dict[str, Any]
    failure_events: list[dict[str, Any]]
    history: dict[str, list[float]]
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class Analysis:
    """What the report prints beside the charts, computed from the evidence before anything is drawn."""

    summary: pd.DataFrame                 # metric means and intervals per (model, dataset, variant)
    growth: pd.DataFrame                  # growth fits of the curated series
    sp500: tuple["RadfResult", "CriticalValues", list["Episode"]] | None   # the PSY yardstick, if curated
    long: Mapping[str, Any]               # analysis.long_series: panels, NVIDIA regimes, Epoch trends, spending


@dataclass(frozen=True)
class ReportInputs:
    """Everything `content.assemble` prints from: the models' results, the market, the verdicts, the
    charts drawn and the analysis beside them, and what changed since the previous build."""

    runs: Sequence[RunFacts]
    features_info: Mapping[str, Any]      # the domain classifier's accuracy and test size
    real: Mapping[str, Any]               # reference values measured on real data
    origin: Mapping[str, Any]             # {"kind": "build"|"bundle", ...}
    market: "Market"
    claims: Sequence["ClaimResult"]
    answers: Sequence[Mapping[str, Any]]
    changes: Mapping[str, Any] | None
    charts: Mapping[str, "ChartSpec"]
    analysis: Analysis
    nfe: Sequence[NfeFacts] = ()          # flow matching's quality at each number of sampling steps
