"""Schema of the curated market data: allowed columns, units, grades, and per-file checks.

Why a separate module: `market/load.py` does the cross-file work (sources cited, metadata present, staleness)
and builds the public objects; this module holds everything that can be judged from one file alone, so an
analyst-facing rule ("what is a valid date?") lives in exactly one place. Field rules are pydantic models
whose validators raise `PydanticCustomError` with the exact sentence an analyst reads; `pydantic_issues`
(core/curated_files.py, shared with data/external) turns them into `Issue`s that name file, line and column.
"""
from __future__ import annotations

import dataclasses
import math
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, create_model, field_validator
from pydantic_core import PydanticCustomError

# The `Issue` type and the file readers are shared with data/external (core/curated_files.py); they are
# re-exported here, where the callers of this module have always found them.
from bubblelens.core.curated_files import (Issue, decode_csv_bytes, parse_toml, pydantic_issues,  # noqa: F401
                                           read_csv_records)
from bubblelens.core.provenance import Source

SERIES_COLUMNS = ("date", "value", "unit", "source_id", "note")
OPTIONAL_SERIES_COLUMNS = ("label", "bound")
SOURCE_COLUMNS = tuple(f.name for f in dataclasses.fields(Source))

UNITS = ("USD_billion", "USD", "percent", "count", "million_users", "x_per_year",
         "USD_per_million_tokens", "category", "ratio", "minutes", "days")
CATEGORY_UNIT = "category"                       # values are labels (a Hype Cycle phase), not numbers
RELIABILITY_GRADES = ("high", "medium-high", "medium", "low-medium", "low", "mixed")
FREQUENCIES = ("annual", "quarterly", "monthly", "irregular")
# How old a series' newest value may be before `data check` calls it stale, by its `frequency`: one period
# plus the usual publication lag (a month's figure appears within about two months; a quarter's within
# about three and a half, as 10-Qs are due 40-45 days after fiscal quarters that may end a month after the
# calendar's; a year's within about six, as annual reports and surveys come out in spring); irregular
# series get a year.
STALE_AFTER_DAYS = {"monthly": 92, "quarterly": 200, "annual": 550, "irregular": 365}
DIRECTIONS = ("up", "down")
# error_rate: analyse 100 - value (a bounded score's complement); odds: analyse value / (100 - value), so a
# log-linear fit is linear in the logit of a percentage score and respects its ceiling (saturation)
TRANSFORMS = ("", "error_rate", "odds")
BOUNDS = ("", "<", ">")
URL_NOT_RECORDED = "not recorded"                # the passage was read but its address was not kept

MARKET_SUBDIR = "market"                         # the folder under the curated-data directory
SOURCES_FILE = "sources.csv"
SERIES_META_FILE = "series.toml"
CATEGORIES_FILE = "categories.toml"

_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})-(\d{2}))?$")
_QUARTER_RE = re.compile(r"^\d{4}-?Q[1-4]$", re.IGNORECASE)


def parse_iso_date(text: str) -> date | None:
    """`YYYY` -> the calendar year placed mid-year (YYYY-07-01); `YYYY-MM-DD` -> that day; else None."""
    m = _DATE_RE.match(text)
    if m is None:
        return None
    year = int(m.group(1))
    if m.group(2) is None:
        return date(year, 7, 1)
    try:
        return date(year, int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def period_bounds(text: str) -> tuple[date, date]:
    """First and last day a valid date text covers (a whole year for `YYYY`, one day otherwise)."""
    if len(text) == 4:
        return date(int(text), 1, 1), date(int(text), 12, 31)
    d = date.fromisoformat(text)
    return d, d


def field_error(kind: str, message: str) -> PydanticCustomError:
    """A field error whose text is exactly `message` (no context is passed, so nothing is substituted)."""
    return PydanticCustomError(kind, message, {})


def check_id(value: str, *, kind: str = "id") -> str:
    """Ids (source ids, series ids) are single tokens: no whitespace anywhere, a small alphabet."""
    if value == "":
        raise field_error("empty", "is empty")
    if value != value.strip() or any(ch.isspace() for ch in value):
        raise field_error("whitespace", f"{value!r} has stray whitespace ({kind}s may not contain spaces, tabs "
                   "or line breaks)")
    if not _ID_RE.match(value):
        raise field_error("bad_id", f"{value!r} is not a valid {kind} (use letters, digits, '_', '-' and '.')")
    return value


def check_date(value: str, today: date | None) -> str:
    """ISO date as the README defines it, and not after `today` (the earliest day it covers)."""
    if parse_iso_date(value) is None:
        hint = ""
        if _QUARTER_RE.match(value.strip()):
            hint = "; write a quarter as its end date, e.g. 2024-09-30"
        raise field_error("iso_date", f"{value!r} is not an ISO date (YYYY or YYYY-MM-DD){hint}")
    if today is not None and period_bounds(value)[0] > today:
        raise field_error("future", f"{value!r} is in the future (today is {today.isoformat()})")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RowModel(_Strict):
    """One series row. Field order matters: `value` is judged with the already-checked `unit`."""

    date: str
    unit: str
    value: str
    source_id: str
    note: str = ""
    label: str = ""
    bound: str = ""

    @field_validator("date")
    @classmethod
    def _date(cls, v: str, info: ValidationInfo) -> str:
        return check_date(v, (info.context or {}).get("today"))

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if v != v.strip():
            raise field_error("whitespace", f"{v!r} has stray whitespace")
        if v not in UNITS:
            raise field_error("unit", f"unknown unit {v!r} (allowed: {', '.join(UNITS)})")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: str, info: ValidationInfo) -> str:
        if v.strip() == "":
            raise field_error("empty", "is empty")
        if v != v.strip():
            raise field_error("whitespace", f"{v!r} has leading or trailing whitespace")
        unit = info.data.get("unit")
        if unit is None or unit == CATEGORY_UNIT:
            return v
        try:
            number = float(v)
        except ValueError:
            raise field_error("number", f"{v!r} is not a number (unit {unit!r} is numeric)") from None
        if not math.isfinite(number):
            raise field_error("finite", f"{v!r} is not a finite number")
        return v

    @field_validator("source_id")
    @classmethod
    def _source_id(cls, v: str) -> str:
        return check_id(v, kind="source id")

    @field_validator("label")
    @classmethod
    def _label(cls, v: str) -> str:
        if v != v.strip():
            raise field_error("whitespace", f"{v!r} has leading or trailing whitespace")
        return v

    @field_validator("bound")
    @classmethod
    def _bound(cls, v: str) -> str:
        if v not in BOUNDS:
            raise field_error("bound", f"{v!r} is not a bound (leave it empty, or write '<' for an upper "
                       "bound, '>' for a lower bound)")
        return v


class _SourceChecks(_Strict):
    """The checks of a sources.csv row; its fields are those of `core.provenance.Source` (SourceModel)."""

    @field_validator("source_id", check_fields=False)
    @classmethod
    def _sid(cls, v: str) -> str:
        return check_id(v, kind="source id")

    @field_validator("title", "publisher", "published", "licence", check_fields=False)
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if v.strip() == "":
            raise field_error("empty", "is empty (write 'unknown' or 'not stated' when the page gives none)")
        return v

    @field_validator("url", check_fields=False)
    @classmethod
    def _url(cls, v: str, info: ValidationInfo) -> str:
        sid = info.data.get("source_id", "?")
        if v.strip() == "":
            raise field_error("no_url", f"source {sid!r} has no URL")
        if v == URL_NOT_RECORDED:      # an honest gap (load warns); never a made-up address
            return v
        if not (v.startswith("https://") or v.startswith("http://")) or v != v.strip():
            raise field_error("bad_url", f"{v!r} is not an http(s) URL (write '{URL_NOT_RECORDED}' if the address "
                       f"of the copy read was not kept)")
        return v

    @field_validator("accessed", check_fields=False)
    @classmethod
    def _accessed(cls, v: str, info: ValidationInfo) -> str:
        sid = info.data.get("source_id", "?")
        if v.strip() == "":
            raise field_error("no_accessed", f"source {sid!r} has no access date")
        if len(v) != 10 or parse_iso_date(v) is None:    # a day is needed: when was the page read?
            raise field_error("iso_date", f"{v!r} is not an ISO date (YYYY-MM-DD)")
        return check_date(v, (info.context or {}).get("today"))

    @field_validator("quote", check_fields=False)
    @classmethod
    def _quote(cls, v: str, info: ValidationInfo) -> str:
        if v.strip() == "":
            raise field_error("no_quote", f"source {info.data.get('source_id', '?')!r} has no quote")
        return v


# One row of sources.csv: every value needs an address, the day it was read and the exact passage. The
# fields are declared once, on the Source dataclass the report carries; this model adds the checks.
SourceModel = create_model("SourceModel", __base__=_SourceChecks,
                           **{f.name: (str, ...) for f in dataclasses.fields(Source)})


class SeriesMetaModel(_Strict):
    """One `[series_id]` table of series.toml (the owid/etl "origin"-style description of a series)."""

    title: str
    description: str
    unit: str
    frequency: Literal["annual", "quarterly", "monthly", "irregular"]
    category: str
    reliability: Literal["high", "medium-high", "medium", "low-medium", "low", "mixed"]
    reliability_note: str = ""
    direction: Literal["up", "down"]
    transform: Literal["", "error_rate", "odds"] = ""
    classification_note: str

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if v not in UNITS:
            raise field_error("unit", f"unknown unit {v!r} (allowed: {', '.join(UNITS)})")
        return v

    @field_validator("title", "description", "category", "classification_note")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if v.strip() == "":
            raise field_error("empty", "is empty")
        return v


def bounded_score_issues(rows: list, transform: str, file: str) -> list[Issue]:
    """A score analysed as its error rate or its odds must lie strictly inside (0, 100): at 0 or 100 the
    log of 100 - v or of v / (100 - v) is infinite and the series would silently drop out of a fit."""
    if transform not in ("error_rate", "odds"):
        return []
    return [Issue("error", file, line, "value", f"{row.value} is not strictly between 0 and 100, which a score "
                  f"analysed with transform = {transform!r} must be") for line, row in rows
            if row.value not in ("", None) and not 0.0 < float(row.value) < 100.0]
