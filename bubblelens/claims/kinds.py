"""What every claim kind shares: verdict names, the outcome record, the evidence a statistic reads, and
the claim kind itself (`Kind`: its parameters, statistic, reachability probe and alternatives), registered
by name with one call to `register_kind`.

A statistic is a pure function of the evidence and a claim's validated parameters (claims/statistics.py
lists the modules that define the built-in kinds). Missing or too little evidence raises `Insufficient`
with the reader-facing reason ("too few seeds (n=1 < 3)"), which the engine reports as "inconclusive".
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationInfo
from pydantic_core import PydanticCustomError, core_schema

if TYPE_CHECKING:
    from bubblelens.market.load import Market

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
REQUIRED = object()          # the default of a parameter that has none (Kind.defaults)


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


# ------------------------------------------------------------------------------------ a claim kind
class Params(BaseModel):
    """A kind's parameters as a claim declares them in `[claim.params]`: one field per parameter with its
    type and default (a field without a default is required). Strict, since TOML is typed: an integer is
    accepted for a float (and becomes one), nothing else converts (`"1"` is no number, `true` no integer),
    and an unknown name is an error. Defaults are validated too. A field's annotation may add `Table` (a
    list of tables with required keys), `Names` (the value names run metrics or market series, which the
    claim must declare) and `Context` (context only: never in the verdict)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, validate_default=True)


class Table:
    """A list of tables each of which has (at least) `keys`: `Annotated[list, Table("faster", "slower")]`."""

    def __init__(self, *keys: str) -> None:
        self.keys = keys

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, rows: list) -> list:
        for i, row in enumerate(rows, 1):
            missing = [k for k in self.keys if not isinstance(row, dict) or k not in row]
            if missing:
                raise PydanticCustomError("table_entry", "entry {i} lacks {missing} (each needs {keys})",
                                          {"i": i, "missing": ", ".join(missing), "keys": ", ".join(self.keys)})
        return rows


class Names:
    """The value names run metrics (`Names("metrics")`) or market series (`Names("series")`): a string, a
    list of strings or, in a list of tables, the values at `keys`. Each must be listed in the claim's own
    `metrics` / `series` field, which the registry hands the validation as its context (without a context,
    as in tests that build parameters directly, nothing is checked)."""

    def __init__(self, field: str, keys: tuple[str, ...] = ()) -> None:
        self.field, self.keys = field, keys

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def ids(self, value: Any) -> list[str]:
        """The non-empty ids `value` names."""
        if isinstance(value, str):
            return [value] if value else []
        if isinstance(value, list):
            return [i for v in value
                    for i in ([x for k in self.keys for x in self.ids(v.get(k, ""))] if isinstance(v, dict)
                              else self.ids(v))]
        return []

    def _check(self, value: Any, info: ValidationInfo) -> Any:
        declared = (info.context or {}).get(self.field)
        for ident in self.ids(value) if declared is not None else ():
            if ident not in declared:
                raise PydanticCustomError("undeclared", "'{ident}' is not declared in the claim's '{field}' list",
                                          {"ident": ident, "field": self.field})
        return value


class Context:
    """The parameter adds context to the details (a yardstick) and never enters the verdict: reachability
    probes leave it at its default, so they do not pay for it."""


Statistic = Callable[["Evidence", Mapping[str, Any]], Outcome]
Probe = Callable[["Evidence", Mapping[str, Any]], Iterator["Evidence"]]
Fit = Callable[["Evidence", Mapping[str, Any]], Any]          # -> operating.Alternatives (which imports this module)


@dataclass(frozen=True)
class Kind:
    """A claim kind, all of it, registered in one call (`register_kind`) in the module that defines it.

    - `params`: its parameters (a `Params` model): what the registry validates a claim's `[claim.params]`
      against, and the defaults it fills in;
    - `statistic`: (evidence, params) -> `Outcome`; raises `Insufficient` when the evidence is too thin;
    - `probe`: (evidence, params) -> evidence sets at the same sizes with values pushed each way, whose
      verdicts show which verdicts the rule can reach at all (claims/reachability.py);
    - `alternatives`: (evidence, params) -> `Alternatives`, data-generating models fitted to the evidence,
      whose simulated verdicts give each verdict's probability (claims/operating.py); None when the kind
      has none (its claims then say so).
    """

    name: str
    params: type[Params]
    statistic: Statistic
    probe: Probe
    alternatives: Fit | None

    def validate(self, declared: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter's value, declared or default, in the order the model lists them. `context`:
        the claim's {"metrics": [...], "series": [...]} that `Names` checks against. Raises
        pydantic.ValidationError."""
        model = self.params.model_validate(dict(declared), context=context)
        return {name: getattr(model, name) for name in self.params.model_fields}

    @property
    def defaults(self) -> dict[str, Any]:
        """name -> default, `REQUIRED` for a parameter without one."""
        return {name: REQUIRED if f.is_required() else f.get_default(call_default_factory=True)
                for name, f in self.params.model_fields.items()}

    @property
    def context_params(self) -> tuple[str, ...]:
        return tuple(name for name, f in self.params.model_fields.items()
                     if any(isinstance(m, Context) for m in f.metadata))


# Every registered kind by name. The modules that define kinds (claims/statistics.py imports them all)
# fill it at import; use claims/statistics.py's KINDS, which is this table once they are imported.
KINDS: dict[str, Kind] = {}


def register_kind(name: str, params: type[Params], statistic: Statistic, *, probe: Probe,
                  alternatives: Fit | None) -> Kind:
    """Register a claim kind: the one place the engine, the registry's validation, `claims check` and the
    verdict simulation read it from."""
    if name in KINDS:
        raise ValueError(f"claim kind '{name}' is registered twice")
    if not (isinstance(params, type) and issubclass(params, Params)):
        raise TypeError(f"claim kind '{name}': params must be a Params model, got {params!r}")
    KINDS[name] = kind = Kind(name, params, statistic, probe, alternatives)
    return kind


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
