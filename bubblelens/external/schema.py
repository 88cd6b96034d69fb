"""Schema of the external data sets: their columns, per-row rules and the rules across rows.

Why a separate module (as market/schema.py is for the curated series): everything that can be judged from
one file alone lives here, so a rule an analyst reads ("what is a valid Shiller month?") has one home;
load.py does the cross-file work (datasets.toml against the files) and builds the frames. The CSV and TOML
reading, the `Issue` type and the pydantic-to-`Issue` translation are core/curated_files.py's, shared with
the market data rather than copied, so both kinds of data report faults in the same
`file:line: column 'c': message` form.

Epoch's table is copied unchanged from a public mirror; Shiller's is written by `bubblelens data import
shiller` from his workbook, every number as the workbook stores it (data/external/README.md). So these
rules describe the data as their producers publish them; they do not normalise anything. A rule that the
shipped file breaks is a wrong rule, not a file to edit.
"""
from __future__ import annotations

import math
import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# toml_key_lines lived here; it is re-exported from its shared home for the callers that import it.
from bubblelens.core.curated_files import Issue, toml_key_lines  # noqa: F401
from bubblelens.market.schema import check_date, field_error, parse_iso_date

EXTERNAL_SUBDIR = "external"
DATASETS_FILE = "datasets.toml"

# Data-set ids are the CSV stems (and the datasets.toml table names). Epoch's snapshot is named by its date;
# Shiller's workbook keeps one id, and `bubblelens data import shiller` replaces its file and table, with
# the snapshot's dates in the table's caveats and the diff in import_history.jsonl.
EPOCH_ID = "epoch_notable_ai_models_2024-12"
SHILLER_ID = "shiller_ie_data"

# Epoch: the columns the loader reads are required; the rest of the 20 kept by the mirror are allowed.
EPOCH_COLUMNS = ("Model", "Organization", "Publication date", "Domain", "Training compute (FLOP)",
                 "Training compute cost (2023 USD)", "Confidence", "Model accessibility", "Frontier model")
EPOCH_OPTIONAL = ("Organization categorization", "Country (from Organization)", "Notability criteria",
                  "Parameters", "Training dataset size (datapoints)", "Training time (hours)",
                  "Training hardware", "Hardware quantity", "Hardware utilization",
                  "Training power draw (W)", "Link")
# Epoch marks a frontier model with "True" and leaves the cell empty otherwise; the 2024-12 snapshot
# holds no other spelling, so anything else (even "False") is a sign of a different export format.
FRONTIER_VALUES = ("", "True")

# Shiller's own workbook (ie_data.xls), as `bubblelens data import shiller` writes it: one row per month,
# the workbook's P, D, E, CPI, Rate GS10 and CAPE columns, each number as the workbook stores it. An empty
# cell means "not published (yet)"; 0.0 is a value, never a placeholder (unlike the old datahub copy).
SHILLER_COLUMNS = ("date", "sp500", "dividend", "earnings", "cpi", "gs10", "cape")
SHILLER_OPTIONAL: tuple[str, ...] = ()
# Columns that may be empty only at the end (the latest months, before Shiller adds them): a gap in the
# middle would be a broken copy, and a valuation ratio built across it would silently skip months.
TRAILING_MISSING = ("dividend", "earnings", "cpi", "gs10")
# CAPE needs ten years of earnings, so its first decade (1871-1880) is empty too: a leading run is allowed.
LEADING_OR_TRAILING_MISSING = ("cape",)

_MONTH_RE = re.compile(r"^\d{4}-\d{2}-01$")


def _number(v: str, *, allow_empty: bool, minimum: float, strict: bool) -> str:
    """A finite number above (strict) or at least `minimum`; empty only where the data set leaves gaps."""
    if v == "":
        if allow_empty:
            return v
        raise field_error("empty", "is empty")
    if v != v.strip():
        raise field_error("whitespace", f"{v!r} has leading or trailing whitespace")
    try:
        x = float(v)
    except ValueError:
        raise field_error("number", f"{v!r} is not a number") from None
    if not math.isfinite(x):
        raise field_error("finite", f"{v!r} is not a finite number")
    if (strict and x <= minimum) or (not strict and x < minimum):
        raise field_error("range", f"{v!r} must be {'>' if strict else '>='} {minimum:g}")
    return v


class _Row(BaseModel):
    # Columns outside the model (the optional ones the loader does not read) are ignored, not refused:
    # read_csv_records has already judged the header against the allowed names.
    model_config = ConfigDict(extra="ignore", frozen=True)


class EpochRowModel(_Row):
    """One model of Epoch's Notable AI Models table (fields by their CSV column names)."""

    model: str = Field(alias="Model")
    organization: str = Field(alias="Organization")
    date: str = Field(alias="Publication date")
    domain: str = Field(alias="Domain")
    compute_flop: str = Field(alias="Training compute (FLOP)")
    cost_usd_2023: str = Field(alias="Training compute cost (2023 USD)")
    confidence: str = Field(alias="Confidence")
    accessibility: str = Field(alias="Model accessibility")
    frontier: str = Field(alias="Frontier model")

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v.strip() == "":
            raise field_error("empty", "is empty (every row names a model)")
        return v

    @field_validator("date")
    @classmethod
    def _date(cls, v: str, info: ValidationInfo) -> str:
        if len(v) != 10 or parse_iso_date(v) is None:       # a day: Epoch dates every publication
            raise field_error("iso_date", f"{v!r} is not an ISO date (YYYY-MM-DD)")
        return check_date(v, (info.context or {}).get("today"))

    @field_validator("compute_flop", "cost_usd_2023")
    @classmethod
    def _estimate(cls, v: str) -> str:
        return _number(v, allow_empty=True, minimum=0.0, strict=True)

    @field_validator("frontier")
    @classmethod
    def _frontier(cls, v: str) -> str:
        if v not in FRONTIER_VALUES:
            raise field_error("frontier", f"{v!r} is not 'True' or empty (Epoch writes 'True' for a frontier "
                       "model and leaves the cell empty otherwise)")
        return v


class ShillerRowModel(_Row):
    """One month of Shiller's workbook; an empty cell (other than the date and the price) means missing."""

    date: str
    sp500: str
    dividend: str
    earnings: str
    cpi: str
    gs10: str
    cape: str

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        # No "future" rule here, unlike Epoch's: a month is a label of a finished snapshot, and the month
        # sequence already catches a stray or shifted date.
        if not _MONTH_RE.match(v) or parse_iso_date(v) is None:
            raise field_error("month", f"{v!r} is not the first day of a month (YYYY-MM-01)")
        return v

    @field_validator("sp500")
    @classmethod
    def _price(cls, v: str) -> str:
        return _number(v, allow_empty=False, minimum=0.0, strict=True)

    @field_validator("dividend", "earnings", "cpi", "gs10")
    @classmethod
    def _maybe_missing(cls, v: str) -> str:
        return _number(v, allow_empty=True, minimum=0.0, strict=False)

    @field_validator("cape")
    @classmethod
    def _cape(cls, v: str) -> str:
        return _number(v, allow_empty=True, minimum=0.0, strict=True)


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_sequence_issues(months: list[tuple[int, str | None]], file: str, column: str = "Date"
                          ) -> list[Issue]:
    """Months (line, 'YYYY-MM-01') must rise by exactly one month each row: name every gap or repeat.

    A monthly series with a hole is not a monthly series: the explosive-root tests read lags by row, so
    a missing month would silently pair values a month further apart than they claim. A None month (a
    date already reported as invalid) restarts the sequence, so one bad cell is reported once.
    """
    issues: list[Issue] = []
    prev: tuple[int, date] | None = None
    for line, text in months:
        if text is None:
            prev = None
            continue
        d = date.fromisoformat(text)
        if prev is not None:
            pline, pd_ = prev
            step = _month_index(d) - _month_index(pd_)
            if step == 0:
                issues.append(Issue("error", file, line, column, f"{text!r} repeats the month on line {pline}"))
                continue
            if step < 0:
                issues.append(Issue("error", file, line, column, f"{text!r} comes before {pd_.isoformat()!r} "
                                    f"on line {pline} (months must increase)"))
                continue
            if step > 1:
                first = _month_index(pd_) + 1
                gap = f"{first // 12:04d}-{first % 12 + 1:02d}"
                more = f" and {step - 2} more" if step > 2 else ""
                issues.append(Issue("error", file, line, column, f"{text!r} follows {pd_.isoformat()!r} on "
                                    f"line {pline}: month {gap}{more} missing (one row per month, no gaps)"))
        prev = (line, d)
    return issues


def missing_run_issues(present: list[tuple[int, bool | None]], file: str, column: str, *,
                       leading: bool = False) -> list[Issue]:
    """Missing (empty) cells may only end a column, or also start it when `leading`: name each other run.

    Once the producer stops publishing a column it stays unpublished, and a column that starts late (CAPE
    needs ten years of earnings) starts once; a gap with values on both sides is a damaged copy, and a
    valuation ratio would silently skip it. Entries are (line, has a value); None (a cell already reported
    as invalid) is skipped. Each bad run is reported once, on its first line.
    """
    issues: list[Issue] = []
    run_start: int | None = None          # line of the first empty cell of the current run
    seen_value = False
    allowed = "a leading or a trailing run" if leading else "a trailing run"
    for line, has_value in present:
        if has_value is None:
            continue
        if not has_value:
            if run_start is None:
                run_start = line
            continue
        if run_start is not None and (seen_value or not leading):
            issues.append(Issue("error", file, run_start, column, f"empty (missing) is followed by a value "
                                f"on line {line}; missing values may only form {allowed}"))
        run_start, seen_value = None, True
    return issues


class DatasetModel(BaseModel):
    """One `[dataset_id]` table of datasets.toml: who made the data, where this copy came from, and what
    to keep in mind when using it. Unknown keys are refused so a misspelt key ("license") is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    producer: str
    citation: str
    url: str
    mirror: str
    mirror_commit: str
    accessed: str
    licence: str
    rows: int = Field(strict=True)
    caveats: str

    @field_validator("accessed", mode="before")
    @classmethod
    def _accessed(cls, v: object) -> object:
        # `accessed = 2026-12-01` is a TOML date; a quoted "2026-12-01" is accepted too.
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str) and v.strip() and (len(v) != 10 or parse_iso_date(v) is None):
            raise field_error("iso_date", f"{v!r} is not an ISO date (YYYY-MM-DD)")
        return v

    @field_validator("title", "producer", "citation", "url", "mirror", "mirror_commit", "accessed",
                     "licence", "caveats")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if v.strip() == "":
            raise field_error("empty", "is empty")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not (v.startswith("https://") or v.startswith("http://")) or v != v.strip():
            raise field_error("bad_url", f"{v!r} is not an http(s) URL")
        return v

    @field_validator("rows")
    @classmethod
    def _rows(cls, v: int) -> int:
        if v <= 0:
            raise field_error("rows", f"{v} is not a positive row count")
        return v
