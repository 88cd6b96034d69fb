"""What every claim statistic shares: verdict names, the outcome record, the evidence a statistic reads,
and the registry of statistic kinds by name (`register`).

A statistic kind is a pure function of the evidence and a claim's declared parameters (claims/statistics.py
defines the built-in ones). Missing or too little evidence raises `Insufficient` with the reader-facing
reason ("too few seeds (n=1 < 3)"), which the engine reports as "inconclusive".
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from bubblelens.market.load import Market

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
REQUIRED = object()          # marks a statistic parameter without a default


class Insufficient(Exception):
    """Too little evidence to apply the declared rule; the message is the reader-facing reason."""

    def __init__(self, reason: str, details: dict | None = None) -> None:
        super().__init__(reason)
        self.details = details or {}


@dataclass
class Outcome:
    """What a statistic found; `evaluate_claims` adds the claim's text around it."""

    verdict: str
    reason: str
    effect: float | None = None
    effect_label: str = ""
    ci: tuple[float, float] | None = None
    ci_level: float = 0.95
    p_value: float | None = None
    n: int | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatisticKind:
    name: str
    fn: Callable[["Evidence", Mapping[str, Any]], Outcome]
    params: Mapping[str, tuple[type, Any]]     # name -> (type, default or REQUIRED)
    metric_params: tuple[str, ...] = ()        # params whose values name run metrics
    series_params: tuple[str, ...] = ()        # params whose values name market series
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # list-of-table param -> keys
    # Params that add context to the details (a yardstick) but never enter the verdict: reachability
    # leaves them at their defaults, so probes do not pay for them.
    context_params: tuple[str, ...] = ()


def registrar(table: dict[str, StatisticKind]) -> Callable:
    """A `register(name, params, ...)` decorator factory that adds kinds to `table` (one table per module
    of statistics, handed explicitly to the registry loader)."""
    def register(name: str, params: Mapping[str, tuple[type, Any]], metric_params: tuple[str, ...] = (),
                 series_params: tuple[str, ...] = (), tables: Mapping[str, tuple[str, ...]] | None = None,
                 context_params: tuple[str, ...] = ()) -> Callable:
        def wrap(fn: Callable) -> Callable:
            table[name] = StatisticKind(name, fn, dict(params), metric_params, series_params, dict(tables or {}),
                                        context_params)
            return fn
        return wrap
    return register


def interval_verdict(lo: float | None, hi: float | None, threshold: float) -> str:
    """Supported when the whole interval lies above `threshold`, not supported when below, else inconclusive."""
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return INCONCLUSIVE
    return SUPPORTED if lo > threshold else NOT_SUPPORTED if hi < threshold else INCONCLUSIVE


def fnum(x: Any) -> float | None:
    """A JSON-able float: None for missing / NaN / infinite."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def jsonable(x: Any) -> Any:
    """Details -> plain JSON (numpy scalars, timestamps, NaN -> None)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return fnum(x)
    if isinstance(x, pd.Timestamp):
        return str(x.date())
    return x if x is None or isinstance(x, str) else str(x)


@dataclass
class Evidence:
    """Everything a claim may look at; the pipeline builds it from evaluated runs and the market data."""

    runs: pd.DataFrame        # long: model, dataset, variant, seed, metric, value
    sweep: pd.DataFrame       # model, width, epochs, seed, flops_total, fid (empty outside 'full')
    market: "Market | None"
    profile: str              # 'smoke' | 'quick' | 'full'
    published: pd.DataFrame = field(default_factory=pd.DataFrame)   # PacGAN/VEEGAN Table 1 rows
