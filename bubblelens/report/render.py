"""ReportContent -> self-contained HTML + typeset PDF (Jinja2, autoescape, StrictUndefined; WeasyPrint).

Why it is built this way:
- Autoescape everywhere (not `select_autoescape`, which keys on file extensions and would skip `.j2`):
  content comes from CSV files and claims registries that an analyst edits, so it is text, never markup.
- A locked URL fetcher: WeasyPrint would otherwise follow any `file://` or `http://` URL it meets. Ours
  serves only the templates and chart directories (and data: URIs); any other fetch stops the build.
- Atomic outputs: each file is written to a temp file beside its target and renamed (core/io.py), so a
  failed render leaves the previous report in place.
- Reproducible: nothing here reads the clock; PDF dates come from SOURCE_DATE_EPOCH or `meta.date_text`.
"""
from __future__ import annotations

import base64
import json
import logging
import mimetypes
import re
import time
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
import weasyprint
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from bubblelens.core.resources import TEMPLATES_DIR
from bubblelens.report.charts.io import PNG_DPI, source_line
from bubblelens.core.errors import StageError
from bubblelens.core.dates import source_date
from bubblelens.core.io import atomic_write, atomic_write_text
from bubblelens.report.numbers import fmt
from bubblelens.report.model import VERDICTS, Callout, Figure, Paragraph, ReportContent, Section, Table

LOGGER = logging.getLogger(__name__)

HTML_NAME = "bubblelens-report.html"
PDF_NAME = "bubblelens-report.pdf"
TEMPLATE_NAME = "report.html.j2"
CSS_NAME = "report.css"

RESULT_PAGES = "pages"
RESULT_PDF_BYTES = "pdf_bytes"
RESULT_RENDER_S = "render_s"


class _DropSubsetterNotice(logging.Filter):
    """WeasyPrint warns on every render when libharfbuzz-subset is absent; fontTools output is correct."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "HarfBuzz-Subset" not in record.getMessage()


logging.getLogger("weasyprint").addFilter(_DropSubsetterNotice())
logging.getLogger("fontTools").setLevel(logging.WARNING)  # its INFO lines are per-table subsetting chatter

CHART_SCHEME = "bubblelens-chart:"
_CHART_FILE_RE = re.compile(r"fig-[a-z0-9]+(?:-[a-z0-9]+)*\.(?:svg|png)")
_CSS_URL_RE = re.compile(r'url\("(fonts/[A-Za-z0-9._-]+)"\)')


class LockedFetcher(URLFetcher):
    """Serves data: URIs, files under the allowed roots and `bubblelens-chart:` names; refuses the rest, fatally.

    Charts get a virtual scheme because WeasyPrint names each image after a hash of its URL: a file URL
    would make the PDF bytes depend on where the build directory happens to be.
    """

    def __init__(self, roots: list[Path], chart_dir: Path | None = None) -> None:
        super().__init__(fail_on_errors=True)
        self.roots = [Path(r).resolve() for r in roots]
        self.chart_dir = Path(chart_dir).resolve() if chart_dir is not None else None
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        path = None
        if url.startswith(CHART_SCHEME) and self.chart_dir is not None:
            name = url[len(CHART_SCHEME):]
            path = self.chart_dir / name if _CHART_FILE_RE.fullmatch(name) else None
        elif url.startswith("file:"):
            candidate = Path(URLFetcherResponse(url).path).resolve()
            path = candidate if any(candidate.is_relative_to(root) for root in self.roots) else None
        if path is not None and path.is_file():
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        self.refused.append(url)
        raise StageError(f"report renderer refused to fetch {url!r}: only templates and charts may be read")


_REF_RE = re.compile(r"\[\[((?:fig|tab)-[a-z0-9]+(?:-[a-z0-9]+)*)\]\]")
_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC_RE = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_CODE_RE = re.compile(r"`([^`]+)`")
WIDE_TABLE_COLUMNS = 7  # from this many columns a table switches to the small type size


def inline_markup(text: str, refs: dict[str, str]) -> Markup:
    """Escape `text`, then apply the few inline forms content may use: **bold**, *italic*, `code`, [[ref]]."""
    html = str(escape(text))

    def ref(match: re.Match) -> str:
        target = match.group(1)
        if target not in refs:
            raise StageError(f"cross-reference [[{target}]] names no figure or table in this report")
        return f'<a href="#{target}">{refs[target]}</a>'

    html = _CODE_RE.sub(r'<code>\1</code>', html)
    html = _REF_RE.sub(ref, html)
    html = _BOLD_RE.sub(r"<strong>\1</strong>", html)
    html = _ITALIC_RE.sub(r"<em>\1</em>", html)
    return Markup(html)


def _cell(value: Any) -> Any:
    if value is None:
        return Markup('<span class="missing">\u2014</span>')
    if isinstance(value, (int, float)):
        return fmt(value)
    text = str(value)
    if text in VERDICTS:
        return Markup(f'<span class="pill pill-{text.replace(" ", "-")}">{escape(text)}</span>')
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table_view(table: Table, number: int) -> dict[str, Any]:
    """Alignment (numbers right), proportional column widths (fixed layout never overflows), formatted cells."""
    columns = range(len(table.columns))
    align = table.col_align or [
        "right" if any(_is_number(r[i]) for r in table.rows)
        and all(_is_number(r[i]) or r[i] is None for r in table.rows) else "left" for i in columns]
    weights = []
    for i in columns:
        longest_word = max((len(w) for w in table.columns[i].split()), default=1)
        longest_cell = max((len(str(r[i])) if r[i] is not None else 1 for r in table.rows), default=1)
        chars = max(longest_word, longest_cell, 4)
        # Short tokens ("< 0.001", "13") cannot wrap gracefully and pay the same cell padding as long text,
        # so they get extra room; long text columns wrap and are capped.
        weights.append(1.5 * chars + 3 if chars <= 12 else min(chars, 40) + 3)
    widths = [round(100 * w / sum(weights), 2) for w in weights]
    return {"type": "table", "number": number, "caption": table.caption, "columns": table.columns,
            "rows": [[_cell(c) for c in row] for row in table.rows], "align": align, "widths": widths,
            "wide": len(table.columns) >= WIDE_TABLE_COLUMNS, "note": table.note, "table_id": table.table_id,
            "anchor": table.table_id or f"table-{number}"}


def _walk(sections: list[Section], prefix: str = ""):
    """Yield (number, section) in reading order: 1, 1.1, 1.2, 2, ..."""
    for i, section in enumerate(sections, start=1):
        number = f"{prefix}{i}"
        yield number, section
        yield from _walk(section.subsections, number + ".")


def _figure_view(chart, number: int) -> dict[str, Any]:
    return {"type": "figure", "number": number, "chart_id": chart.chart_id, "title": chart.title,
            "description": chart.description, "note": chart.note, "fmt": chart.fmt, "licence": chart.licence,
            "measured_by": chart.measured_by, "source_text": source_line(chart).rsplit(" \u00b7 ", 2)[0],
            "width": "", "src": ""}


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for key in sorted(value) for row in _flatten(f"{prefix}.{key}" if prefix else str(key), value[key])]
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return [(prefix, text)]


def build_view(content: ReportContent) -> dict[str, Any]:
    """Number sections, figures and tables in reading order and turn blocks into template-ready dicts."""
    refs: dict[str, str] = {}
    n_fig = n_tab = 0
    for _, section in _walk(content.sections):
        for block in section.blocks:
            key = None
            if isinstance(block, Figure):
                n_fig += 1
                key, label = block.chart.chart_id, f"Figure {n_fig}"
            elif isinstance(block, Table):
                n_tab += 1
                key, label = block.table_id, f"Table {n_tab}"
            if key and key in refs:
                raise StageError(f"id {key} is used twice in the report; chart and table ids must be unique")
            if key:
                refs[key] = label
    figures: list[dict[str, Any]] = []
    toc: list[dict[str, Any]] = []
    n_tab = 0

    def section_view(number: str, section: Section) -> dict[str, Any]:
        nonlocal n_tab
        blocks = []
        for block in section.blocks:
            if isinstance(block, Paragraph):
                blocks.append({"type": "paragraph", "html": inline_markup(block.text, refs)})
            elif isinstance(block, Callout):
                blocks.append({"type": "callout", "kind": block.kind, "title": block.title, "verdict": block.verdict,
                               "verdict_class": block.verdict.replace(" ", "-"),
                               "html": inline_markup(block.text, refs)})
            elif isinstance(block, Table):
                n_tab += 1
                blocks.append(_table_view(block, n_tab))
            elif isinstance(block, Figure):
                figures.append(_figure_view(block.chart, len(figures) + 1))
                blocks.append(figures[-1])
            else:
                raise StageError(f"section {section.section_id}: unknown block type {type(block).__name__}")
        toc.append({"level": number.count(".") + 1, "number": number, "title": section.title,
                    "anchor": section.section_id})
        return {"number": number, "title": section.title, "anchor": section.section_id, "blocks": blocks,
                "subsections": [section_view(f"{number}.{i}", sub) for i, sub in enumerate(section.subsections, 1)]}

    sections = [section_view(str(i), s) for i, s in enumerate(content.sections, start=1)]
    anchors = [entry["anchor"] for entry in toc]
    if len(set(anchors)) != len(anchors):
        raise StageError("section ids must be unique within a report")
    toc += [{"level": 1, "number": letter, "title": title, "anchor": anchor} for letter, title, anchor in (
        ("A", "Sources", "appendix-sources"), ("B", "Charts and how to cite them", "appendix-charts"),
        ("C", "Build manifest", "appendix-manifest"))]
    return {"sections": sections, "toc": toc, "figures": figures, "sources": content.sources,
            "manifest_rows": _flatten("", content.manifest)}



def css_string(text: str) -> Markup:
    """A quoted CSS string safe inside <style>: anything but plain characters becomes a CSS escape."""
    safe = "".join(c if c.isalnum() or c in " .,:;_()/+=-" else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{safe}"')


def make_environment() -> jinja2.Environment:
    """The one Jinja2 environment: autoescape on for every template, undefined names are errors."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["css_string"] = css_string
    return env


def pdf_date(date_text: str) -> str:
    """The date for PDF metadata: SOURCE_DATE_EPOCH when set, else `date_text` if it is a W3C date."""
    epoch = source_date()
    if epoch is not None:
        return epoch.strftime("%Y-%m-%dT%H:%M:%SZ")
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date_text):
        return date_text
    return ""


def _png_width_px(path: Path) -> int:
    """Pixel width from the PNG header (IHDR is always first: bytes 16-20, big-endian)."""
    with path.open("rb") as handle:
        header = handle.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise StageError(f"{path} is not a PNG file")
    return int.from_bytes(header[16:20], "big")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".otf":
        mime = "font/otf"
    elif path.suffix == ".ttf":
        mime = "font/ttf"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _css(inline_fonts: bool) -> str:
    """The stylesheet; for the standalone HTML its font URLs become data: URIs."""
    css = (TEMPLATES_DIR / CSS_NAME).read_text(encoding="utf-8")
    if inline_fonts:
        css = _CSS_URL_RE.sub(lambda m: f'url("{_data_uri(TEMPLATES_DIR / m.group(1))}")', css)
    return css


def render_html(content: ReportContent, chart_dir: Path, *, standalone: bool) -> str:
    """The report as HTML: `standalone` inlines charts and fonts; otherwise it links files for WeasyPrint."""
    chart_dir = Path(chart_dir).resolve()
    view = build_view(content)
    for fig in view["figures"]:
        path = chart_dir / f"{fig['chart_id']}.{fig['fmt']}"
        if not path.is_file():
            raise StageError(f"chart {fig['chart_id']} has no image at {path}; draw it before rendering")
        fig["src"] = _data_uri(path) if standalone else f"{CHART_SCHEME}{path.name}"
        if fig["fmt"] == "png":  # print at the resolution it was drawn at, so its type matches the SVGs'
            fig["width"] = f"{_png_width_px(path) / PNG_DPI:.3f}in"
    template = make_environment().get_template(TEMPLATE_NAME)
    return template.render(meta=content.meta, css=Markup(_css(inline_fonts=standalone)),
                           pdf_date=pdf_date(content.meta.date_text), bibtex=content.bibtex,
                           footer_line=f"bubblelens {content.meta.version} \u00b7 build {content.meta.build_id} "
                                       f"\u00b7 profile {content.meta.profile}", **view)


def write_pdf(html: str, target: Path, roots: list[Path], chart_dir: Path | None = None) -> int:
    """Typeset `html` into `target` with the locked fetcher; returns the page count."""
    fetcher = LockedFetcher(roots, chart_dir)
    try:
        document = weasyprint.HTML(string=html, base_url=TEMPLATES_DIR.as_uri() + "/",
                                   url_fetcher=fetcher).render()
        document.write_pdf(target, pdf_identifier=True)
    except FatalURLFetchingError as error:
        raise StageError(f"report render stopped: {error} ({'; '.join(fetcher.refused) or 'fetch failed'})") \
            from error
    if fetcher.refused:  # belt and braces: a refusal swallowed anywhere still fails the build
        raise StageError(f"report renderer refused to fetch: {', '.join(fetcher.refused)}")
    return len(document.pages)


def render_report(content: ReportContent, out_dir: Path, *, chart_dir: Path) -> dict[str, Any]:
    """Write `bubblelens-report.html` (self-contained) and `bubblelens-report.pdf` into `out_dir`, atomically.

    Returns {'pages', 'pdf_bytes', 'render_s'}; render_s is for logs only and never enters the outputs.
    Raises StageError when a chart image is missing, a cross-reference is unknown or a fetch is refused.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart_dir = Path(chart_dir)
    html_for_pdf = render_html(content, chart_dir, standalone=False)
    html_standalone = render_html(content, chart_dir, standalone=True)
    pages = []
    atomic_write(out_dir / PDF_NAME, lambda tmp: pages.append(write_pdf(html_for_pdf, tmp, [TEMPLATES_DIR], chart_dir)))
    atomic_write_text(out_dir / HTML_NAME, html_standalone)
    pages = pages[0]
    result = {RESULT_PAGES: pages, RESULT_PDF_BYTES: (out_dir / PDF_NAME).stat().st_size,
              RESULT_RENDER_S: round(time.perf_counter() - start, 3)}
    LOGGER.info("report rendered: %d pages, %d bytes, %.1f s", pages, result[RESULT_PDF_BYTES],
                result[RESULT_RENDER_S])
    return result
