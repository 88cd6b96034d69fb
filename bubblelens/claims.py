"""The claims registry: `data/claims.toml` -> validated `ClaimSpec`s -> a verdict per claim.

Why a registry: every claim the report makes is written down with its evidence, its statistic and its
decision rule *before* any data are seen, and the verdict follows mechanically from the evidence —
change a CSV row or a training result and the verdict follows; nothing is decided by hand. The
statistics themselves live in `claim_statistics` (one function per kind, registered by name here).

A claim never fails a build for want of data: too few seeds, a series too short or a missing sweep gives
"inconclusive" with the reason. An invalid registry (a missing field, an unknown statistic, a series id
that does not exist) is a `DataError` naming the file, the claim and the field. See docs/claims.md.
"""
from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import DataError

if TYPE_CHECKING:
    from .market import Market

log = logging.getLogger(__name__)

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
READING_KEYS = {SUPPORTED: "supported", NOT_SUPPORTED: "not_supported", INCONCLUSIVE: "inconclusive"}
CATEGORIES = ("models", "compute", "market")
INDICATIVE_CATEGORIES = ("models", "compute")     # model behaviour: short training outside 'full'
# Run metrics the evaluate stage emits (Evidence.runs["metric"]) and sweep columns.
KNOWN_METRICS = (
    "fid", "kid_mean", "precision", "recall", "density", "coverage", "classes_covered", "class_kl",
    "laplacian_ratio", "hf_ratio", "memorisation_ratio", "active_units", "modes", "high_quality", "mode_kl",
    "flops_total", "wall_s", "n_failure_events", "diverged",
)
_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_FIELDS = {"id": str, "statement": str, "category": str, "statistic": str, "decision_rule": str,
           "reading": dict, "metrics": list, "series": list, "params": dict, "references": list}
_REQUIRED_FIELDS = ("id", "statement", "category", "statistic", "decision_rule", "reading")
REQUIRED = object()          # marks a statistic parameter without a default


# ------------------------------------------------------------------------- statistic-kind registry
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


STATISTICS: dict[str, StatisticKind] = {}


def register(name: str, params: Mapping[str, tuple[type, Any]], metric_params: tuple[str, ...] = (),
             series_params: tuple[str, ...] = (), tables: Mapping[str, tuple[str, ...]] | None = None) -> Callable:
    """Decorator: make a statistic available to claims.toml under `name`."""
    def wrap(fn: Callable) -> Callable:
        STATISTICS[name] = StatisticKind(name, fn, dict(params), metric_params, series_params, dict(tables or {}))
        return fn
    return wrap


def statistics() -> dict[str, StatisticKind]:
    """All registered kinds (importing `claim_statistics` registers the built-in ones)."""
    from . import claim_statistics  # noqa: F401
    return STATISTICS


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


def referenced_ids(value: Any, key: str) -> list[str]:
    """Ids named by a parameter value: a string, a list of strings, or tables carrying `key`."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [i for v in value for i in (referenced_ids(v.get(key, ""), key) if isinstance(v, dict)
                                           else referenced_ids(v, key))]
    return []


# ---------------------------------------------------------------------------------- data contracts
@dataclass
class Evidence:
    """Everything a claim may look at; the pipeline builds it from evaluated runs and the market data."""

    runs: pd.DataFrame        # long: model, dataset, variant, seed, metric, value
    sweep: pd.DataFrame       # model, width, epochs, seed, flops_total, fid (empty outside 'full')
    market: "Market | None"
    profile: str              # 'smoke' | 'quick' | 'full'
    published: pd.DataFrame = field(default_factory=pd.DataFrame)   # PacGAN/VEEGAN Table 1 rows


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    statement: str
    category: str
    statistic: str
    params: Mapping[str, Any]     # declared values merged over the kind's defaults
    decision_rule: str            # with {param} placeholders filled in
    readings: Mapping[str, str]   # verdict -> plain-language reading
    metrics: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    @property
    def evidence(self) -> list[str]:
        return [*self.metrics, *self.series]


@dataclass
class ClaimResult:
    claim_id: str
    statement: str
    category: str
    verdict: str
    reason: str
    reading: str
    effect: float | None
    effect_label: str
    ci: tuple[float, float] | None
    ci_level: float
    p_value: float | None
    n: int | None
    evidence: list[str]
    decision_rule: str
    indicative: bool
    details: dict

    def to_json(self) -> dict:
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


# ------------------------------------------------------------------------------------ validation
def market_series_ids(data_dir: Path) -> set[str] | None:
    """Series ids available in `data_dir/market` (CSV stems), or None when there is no such folder."""
    market = Path(data_dir) / "market"
    if not market.is_dir():
        return None
    return {p.stem for p in market.glob("*.csv") if p.name != "sources.csv"}


def _check_type(value: Any, typ: type) -> bool:
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typ)


def _spec(raw: Any, where: str, kinds: Mapping[str, StatisticKind], series_ids: set[str] | None) -> ClaimSpec:
    """One validated claim; every error names `where` (file + claim id) and the field."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: each [[claim]] must be a table")

    def fail(fld: str, msg: str) -> DataError:
        return DataError(f"{where}: field '{fld}': {msg}")

    for fld in _REQUIRED_FIELDS:
        if fld not in raw:
            raise fail(fld, "missing (required: " + ", ".join(_REQUIRED_FIELDS) + ")")
    for fld, value in raw.items():
        if fld not in _FIELDS:
            raise fail(fld, f"unknown field; valid fields: {', '.join(sorted(_FIELDS))}")
        if not isinstance(value, _FIELDS[fld]):
            raise fail(fld, f"must be a {_FIELDS[fld].__name__}, got {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise fail(fld, "must not be empty")
    if not _ID_RE.match(raw["id"]):
        raise fail("id", f"'{raw['id']}' is not a lower-case slug like 'gan-mode-dropping'")
    if raw["category"] not in CATEGORIES:
        raise fail("category", f"'{raw['category']}' is not one of {', '.join(CATEGORIES)}")
    kind = kinds.get(raw["statistic"])
    if kind is None:
        raise fail("statistic", f"unknown statistic '{raw['statistic']}'; registered: {', '.join(sorted(kinds))}")
    metrics, series = raw.get("metrics", []), raw.get("series", [])
    if not metrics and not series:
        raise fail("metrics", "a claim must name its evidence in 'metrics' and/or 'series'")
    for m in metrics:
        if m not in KNOWN_METRICS:
            raise fail("metrics", f"unknown metric '{m}'; known: {', '.join(KNOWN_METRICS)}")
    if series_ids is not None:
        for s in series:
            if s not in series_ids:
                raise fail("series", f"unknown series id '{s}' (no market/{s}.csv in the data directory)")
    declared = raw.get("params", {})
    params = {}
    for name, (typ, default) in kind.params.items():
        if name not in declared:
            if default is REQUIRED:
                raise fail(f"params.{name}", f"missing; statistic '{kind.name}' requires it")
            params[name] = default
        elif not _check_type(declared[name], typ):
            raise fail(f"params.{name}", f"must be {typ.__name__}, got {declared[name]!r}")
        else:
            params[name] = float(declared[name]) if typ is float else declared[name]
    for name in declared:
        if name not in kind.params:
            raise fail(f"params.{name}", f"unknown parameter of '{kind.name}'; valid: {', '.join(kind.params)}")
    for name, keys in kind.tables.items():
        for i, row in enumerate(params[name], 1):
            missing = [k for k in keys if not isinstance(row, dict) or k not in row]
            if missing:
                raise fail(f"params.{name}", f"entry {i} lacks {', '.join(missing)} (each needs {', '.join(keys)})")
    for names, key, allowed, fld in ((kind.metric_params, "metric", metrics, "metrics"),
                                     (kind.series_params, "series", series, "series")):
        for name in names:
            for ident in referenced_ids(params[name], key):
                if ident not in allowed:
                    raise fail(f"params.{name}", f"'{ident}' is not declared in the claim's '{fld}' list")
    try:
        rule = raw["decision_rule"].format_map(params)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise fail("decision_rule", f"placeholder cannot be filled from params ({exc!r})") from None
    reading = raw["reading"]
    for key in READING_KEYS.values():
        if not isinstance(reading.get(key), str) or not reading[key].strip():
            raise fail(f"reading.{key}", "missing or empty: each verdict needs a plain-language reading")
    return ClaimSpec(raw["id"], raw["statement"].strip(), raw["category"], raw["statistic"], params,
                     " ".join(rule.split()), {v: " ".join(reading[k].split()) for v, k in READING_KEYS.items()},
                     tuple(metrics), tuple(series), tuple(raw.get("references", [])))


def load_registry(path: Path, series_ids: Iterable[str] | None = None) -> list[ClaimSpec]:
    """Read and validate the registry. Series ids default to the CSVs in `<path's folder>/market`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: claims registry not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None
    ids = set(series_ids) if series_ids is not None else market_series_ids(path.parent)
    unknown = sorted(set(doc) - {"schema", "claim"})
    if unknown:
        raise DataError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; claims go in [[claim]] tables")
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise DataError(f"{path}: no [[claim]] tables")
    kinds = statistics()
    specs, seen = [], set()
    for i, raw in enumerate(claims, 1):
        cid = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
        spec = _spec(raw, f"{path}: claim '{cid}'", kinds, ids)
        if spec.id in seen:
            raise DataError(f"{path}: claim '{cid}': field 'id': duplicate id")
        seen.add(spec.id)
        specs.append(spec)
    return specs


# ------------------------------------------------------------------------------------ evaluation
def evaluate_claim(spec: ClaimSpec, evidence: Evidence, strict: bool = False) -> ClaimResult:
    """Apply one claim's declared statistic; data problems give 'inconclusive' with the reason."""
    try:
        out = statistics()[spec.statistic].fn(evidence, spec.params)
    except Insufficient as exc:
        out = Outcome(INCONCLUSIVE, str(exc), details=exc.details)
    except Exception as exc:  # a bug or malformed evidence must not sink the whole report
        if strict:
            raise
        log.warning("claim %s could not be evaluated: %s: %s", spec.id, type(exc).__name__, exc)
        out = Outcome(INCONCLUSIVE, f"could not be evaluated ({type(exc).__name__}: {exc})")
    if out.verdict not in VERDICTS:
        raise ValueError(f"statistic {spec.statistic} returned verdict {out.verdict!r}")
    details = {**out.details, "statistic": spec.statistic, "params": dict(spec.params)}
    if spec.references:
        details["references"] = list(spec.references)
    ci = None if out.ci is None or None in out.ci else (float(out.ci[0]), float(out.ci[1]))
    return ClaimResult(
        claim_id=spec.id, statement=spec.statement, category=spec.category, verdict=out.verdict,
        reason=out.reason, reading=spec.readings[out.verdict], effect=fnum(out.effect),
        effect_label=out.effect_label, ci=ci, ci_level=out.ci_level, p_value=fnum(out.p_value), n=out.n,
        evidence=spec.evidence, decision_rule=spec.decision_rule,
        indicative=spec.category in INDICATIVE_CATEGORIES and evidence.profile != "full",
        details=jsonable(details))


def evaluate_claims(path: Path, evidence: Evidence, series_ids: Iterable[str] | None = None,
                    strict: bool = False) -> list[ClaimResult]:
    """Every claim of the registry at `path`, in file order. Raises only for an invalid registry."""
    results = [evaluate_claim(s, evidence, strict) for s in load_registry(path, series_ids)]
    log.info("claims: %s", ", ".join(f"{r.claim_id}={r.verdict}" for r in results))
    return results


def results_frame(results: Iterable[ClaimResult]) -> pd.DataFrame:
    """One row per claim for tables and results/claims.csv."""
    cols = ["claim_id", "category", "verdict", "effect", "effect_label", "ci", "ci_level", "p_value", "n",
            "indicative", "reason"]
    return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in results], columns=cols)
