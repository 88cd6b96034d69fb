"""The content of a report, as plain dataclasses, independent of how it is typeset.

The lead assembles a `ReportContent` in Python (sections of paragraphs, tables, figures, callouts) and
`bubblelens.report.render.render_report` turns it into HTML and PDF. Keeping content and typesetting apart lets
the analysis code be tested without WeasyPrint, and lets the renderer be tested on synthetic content.
Figure and table numbers are never stored here: the renderer assigns them in reading order, while the
stable ids (`fig-…`, `tab-…`) are what analysts cite and what `[[fig-…]]` cross-references name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

import pandas as pd

from bubblelens.claims.kinds import VERDICTS   # each maps to a colour in templates/report.css
from bubblelens.core.provenance import Source

CHART_ID_RE = re.compile(r"^fig-[a-z0-9]+(?:-[a-z0-9]+)*$")
TABLE_ID_RE = re.compile(r"^tab-[a-z0-9]+(?:-[a-z0-9]+)*$")
SECTION_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")

CALLOUT_KINDS = ("verdict", "warning", "info")


@dataclass
class ChartSpec:
    """A chart and everything needed to cite it on its own: data, units, sources, measuring build."""

    chart_id: str
    title: str
    description: str
    units: str
    data: pd.DataFrame
    sources: list[Source]
    measured_by: str
    licence: str = "CC BY 4.0"
    fmt: str = "svg"
    note: str = ""

    def __post_init__(self) -> None:
        if not CHART_ID_RE.match(self.chart_id):
            raise ValueError(f"chart id {self.chart_id!r} is not a slug like 'fig-ring8-mode-coverage'")
        if self.fmt not in ("svg", "png"):
            raise ValueError(f"chart {self.chart_id}: fmt must be 'svg' or 'png', not {self.fmt!r}")


@dataclass
class Paragraph:
    """Plain text, autoescaped. `**bold**`, `*italic*` and `[[fig-…]]` / `[[tab-…]]` references are allowed."""

    text: str


@dataclass
class Table:
    """A data table; cells may be numbers (formatted by the renderer) or preformatted strings."""

    caption: str
    columns: list[str]
    rows: list[list[Union[str, float, int, None]]]
    table_id: str = ""
    note: str = ""
    col_align: list[str] | None = None

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError(f"table {self.caption!r} has no columns")
        if self.table_id and not TABLE_ID_RE.match(self.table_id):
            raise ValueError(f"table id {self.table_id!r} is not a slug like 'tab-claims'")
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.caption!r}: row {i} has {len(row)} cells, not {len(self.columns)}")
        if self.col_align is not None and len(self.col_align) != len(self.columns):
            raise ValueError(f"table {self.caption!r}: col_align needs one entry per column")


@dataclass
class Figure:
    """A chart placed in the text; its number ("Figure 3") is assigned by the renderer."""

    chart: ChartSpec


def figure_if_drawn(charts: dict[str, ChartSpec], chart_id: str) -> list[Figure]:
    """[Figure] for a chart this build drew, [] for one it skipped (no data): sections splice it in."""
    return [Figure(charts[chart_id])] if chart_id in charts else []


@dataclass
class Callout:
    """A boxed statement. `verdict` ('supported' | 'not supported' | 'inconclusive') colours verdict boxes."""

    kind: str
    title: str
    text: str
    verdict: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CALLOUT_KINDS:
            raise ValueError(f"callout kind {self.kind!r} is not one of {CALLOUT_KINDS}")
        if self.verdict and self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


Block = Union[Paragraph, Table, Figure, Callout]


@dataclass
class Section:
    """A numbered section; top-level sections start a new page and become PDF bookmarks (level 1)."""

    section_id: str
    title: str
    blocks: list[Block]
    subsections: list["Section"] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not SECTION_ID_RE.match(self.section_id):
            raise ValueError(f"section id {self.section_id!r} must be a lowercase slug")


@dataclass
class ReportMeta:
    """What the cover page and the PDF metadata say about this build."""

    title: str
    subtitle: str
    build_id: str
    date_text: str              # SOURCE_DATE_EPOCH, else the newest access date of the curated sources
    profile: str
    hardware: str
    seeds: str
    results_origin: str
    version: str
    author: str = "bubblelens"
    keywords: list[str] = field(default_factory=list)
    licence_text: str = "Text and charts: CC BY 4.0. Code: MIT."
    evidence_through: str = ""  # the newest market evidence the answers rest on (YYYY-MM-DD), "" when none


@dataclass
class ReportContent:
    """A whole report: metadata, body sections, report-level BibTeX, source appendix, build manifest."""

    meta: ReportMeta
    sections: list[Section]
    bibtex: str
    sources: list[Source]
    manifest: dict
