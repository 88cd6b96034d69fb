"""The claims registry: `data/claims.toml` -> validated `ClaimSpec`s (claims/engine.py gives verdicts).

Why a registry: every claim the report makes is written down with its evidence, its statistic and its
decision rule, and the verdict follows mechanically from the evidence — change a CSV row or a training
result and the verdict follows; nothing is decided by hand. The claim kinds a claim may name are handed
in (`load_registry(path, kinds)`), so this module does not depend on which kinds exist; a claim's
`[claim.params]` are validated against its kind's `Params` model (claims/kinds.py).

Each claim also carries its history: the date it was `declared`, the `revisions` of its rule (date, what
changed, why) and `known_when_declared`, a plain sentence saying which data were already known when the
rule was written (claims/history.py keeps the lock of rule fingerprints that holds the history honest).

An invalid registry (a missing field, an unknown statistic, a series id that does not exist) is a
`DataError` naming the file, the claim and the field. See docs/claims.md.
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Kind
from bubblelens.core.errors import DataError
from bubblelens.core.resources import curated
from bubblelens.evaluation.names import KNOWN_METRICS

READING_KEYS = {SUPPORTED: "supported", NOT_SUPPORTED: "not_supported", INCONCLUSIVE: "inconclusive"}
CATEGORIES = ("models", "compute", "market")
INDICATIVE_CATEGORIES = ("models", "compute")     # model behaviour: short training outside 'full'
_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_FIELDS = {"id": str, "statement": str, "category": str, "statistic": str, "decision_rule": str,
           "reading": dict, "metrics": list, "series": list, "params": dict, "references": list,
           "declared": object, "revisions": list, "known_when_declared": str}    # declared: date or str
_REQUIRED_FIELDS = ("id", "statement", "category", "statistic", "decision_rule", "reading", "declared",
                    "revisions", "known_when_declared")
_REVISION_KEYS = ("date", "what", "why")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
    declared: str = ""                                  # ISO date the claim was first written down
    revisions: tuple[Mapping[str, str], ...] = ()       # {date, what, why}, oldest first
    known_when_declared: str = ""                       # which data were known when the rule was written

    @property
    def evidence(self) -> list[str]:
        return [*self.metrics, *self.series]

    @property
    def last_revision(self) -> Mapping[str, str] | None:
        return self.revisions[-1] if self.revisions else None


def iso_date(value: Any) -> str | None:
    """A TOML date or a 'YYYY-MM-DD' string -> 'YYYY-MM-DD'; None for anything else (a datetime too)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def _history(raw: dict, fail) -> tuple[str, tuple[dict[str, str], ...], str]:
    """The validated `declared`, `revisions` and `known_when_declared` of one claim."""
    declared = iso_date(raw["declared"])
    if declared is None:
        raise fail("declared", f"must be a date (YYYY-MM-DD), got {raw['declared']!r}")
    revisions, last = [], declared
    for i, rev in enumerate(raw["revisions"], 1):
        fld = f"revisions[{i}]"
        if not isinstance(rev, dict):
            raise fail(fld, f"must be a table {{ date, what, why }}, got {type(rev).__name__}")
        missing = [k for k in _REVISION_KEYS if k not in rev]
        unknown = sorted(set(rev) - set(_REVISION_KEYS))
        if missing or unknown:
            raise fail(fld, f"needs exactly {', '.join(_REVISION_KEYS)}"
                            + (f"; lacks {', '.join(missing)}" if missing else "")
                            + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        date = iso_date(rev["date"])
        if date is None:
            raise fail(f"{fld}.date", f"must be a date (YYYY-MM-DD), got {rev['date']!r}")
        if date < last:
            raise fail(f"{fld}.date", f"{date} is earlier than {last} (declared date or the revision before)")
        for key in ("what", "why"):
            if not isinstance(rev[key], str) or not rev[key].strip():
                raise fail(f"{fld}.{key}", "must be a non-empty string")
        revisions.append({"date": date, "what": " ".join(rev["what"].split()), "why": " ".join(rev["why"].split())})
        last = date
    return declared, tuple(revisions), " ".join(raw["known_when_declared"].split())


def market_series_ids(data_dir: Path) -> set[str] | None:
    """Series ids available in `data_dir/market` (CSV stems) plus the views of the external data sets
    when `data_dir/external` exists, or None when there is no market folder."""
    from bubblelens.external.views import VIEW_IDS

    market = curated(data_dir, "market")
    if not market.is_dir():
        return None
    views = set(VIEW_IDS) if curated(data_dir, "external").is_dir() else set()
    return {p.stem for p in market.glob("*.csv") if p.name != "sources.csv"} | views


# pydantic's type errors -> the type a parameter must have, in the registry's words
_TYPE_ERRORS = {"float_type": "float", "int_type": "int", "string_type": "str", "bool_type": "bool",
                "list_type": "list", "dict_type": "dict"}


def _param_error(kind: Kind, error: Mapping[str, Any]) -> tuple[str, str]:
    """(field, message) of the first thing wrong with a claim's parameters (a pydantic error)."""
    loc = error["loc"]
    field = f"params.{loc[0]}" if loc else "params"
    at = "".join(f"entry {i + 1}: " if isinstance(i, int) else f"{i}: " for i in loc[1:])
    if error["type"] == "missing":
        return field, f"missing; statistic '{kind.name}' requires it"
    if error["type"] == "extra_forbidden":
        return field, f"unknown parameter of '{kind.name}'; valid: {', '.join(kind.params.model_fields)}"
    if error["type"] in _TYPE_ERRORS:
        return field, f"{at}must be {_TYPE_ERRORS[error['type']]}, got {error['input']!r}"
    return field, at + error["msg"]


def _spec(raw: Any, where: str, kinds: Mapping[str, Kind], series_ids: set[str] | None) -> ClaimSpec:
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
    try:       # types, defaults, required and unknown names, table keys, metrics and series declared
        params = kind.validate(raw.get("params", {}), {"metrics": metrics, "series": series})
    except ValidationError as exc:
        raise fail(*_param_error(kind, exc.errors()[0])) from None
    try:
        rule = raw["decision_rule"].format_map(params)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise fail("decision_rule", f"placeholder cannot be filled from params ({exc!r})") from None
    reading = raw["reading"]
    texts = {}
    for key in READING_KEYS.values():
        if not isinstance(reading.get(key), str) or not reading[key].strip():
            raise fail(f"reading.{key}", "missing or empty: each verdict needs a plain-language reading")
        try:       # thresholds in a reading come from the params too, so the words follow the rule
            texts[key] = " ".join(reading[key].format_map(params).split())
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise fail(f"reading.{key}", f"placeholder cannot be filled from params ({exc!r})") from None
    declared_on, revisions, known = _history(raw, fail)
    return ClaimSpec(raw["id"], raw["statement"].strip(), raw["category"], raw["statistic"], params,
                     " ".join(rule.split()), {v: texts[k] for v, k in READING_KEYS.items()},
                     tuple(metrics), tuple(series), tuple(raw.get("references", [])),
                     declared_on, revisions, known)


def load_registry(path: Path, kinds: Mapping[str, Kind],
                  series_ids: Iterable[str] | None = None) -> list[ClaimSpec]:
    """Read and validate the registry against the claim `kinds` a claim may name. Series ids default
    to the CSVs in `<path's folder>/market`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: claims registry not found") from None
    return loads_registry(text, path, kinds, series_ids)


def loads_registry(text: str, path: Path, kinds: Mapping[str, Kind],
                   series_ids: Iterable[str] | None = None) -> list[ClaimSpec]:
    """`load_registry` of registry text that is (or is about to be) the content of `path`."""
    path = Path(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None
    ids = set(series_ids) if series_ids is not None else market_series_ids(path.parent)
    unknown = sorted(set(doc) - {"schema", "claim", "question"})      # questions: claims/questions.py
    if unknown:
        raise DataError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; claims go in [[claim]] tables")
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise DataError(f"{path}: no [[claim]] tables")
    specs, seen = [], set()
    for i, raw in enumerate(claims, 1):
        cid = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
        spec = _spec(raw, f"{path}: claim '{cid}'", kinds, ids)
        if spec.id in seen:
            raise DataError(f"{path}: claim '{cid}': field 'id': duplicate id")
        seen.add(spec.id)
        specs.append(spec)
    return specs
