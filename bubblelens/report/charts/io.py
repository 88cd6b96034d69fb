"""One chart style and one way to save a chart: image + exact data + citable metadata, byte-reproducible.

Every chart function in `bubblelens.report.charts` draws onto a matplotlib (fig, ax) and hands it to `draw_chart`,
which owns everything around the drawing: the house style (Inter from templates/fonts, Okabe-Ito palette,
sized for an A4 text column), the title/units header and the source footer burned into the image (so a
chart copied out of the report still says where it came from), and the three files analysts cite:
`<id>.svg|png`, `<id>.csv` (the numbers plotted) and `<id>.json` (sources, quotes, licence, citation).
SVG text is kept as <text> in the house font (see STYLE), so chart ids and labels are searchable in the PDF.
Saving is deterministic: no dates or versions in the files, a fixed SVG hash salt, atomic replaces. SVGs
are written without matplotlib's no-op groups and rotations (svg_slim.py), which cost WeasyPrint time.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import textwrap
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from bubblelens.core.io import atomic_write
from bubblelens.core.resources import TEMPLATES_DIR
from bubblelens import __version__  # noqa: E402
from bubblelens.report.model import ChartSpec, ReportMeta  # noqa: E402
from bubblelens.report.charts.reuse import draw_or_reuse  # noqa: E402
from bubblelens.report.charts.svg_slim import slim_svg  # noqa: E402

LOGGER = logging.getLogger(__name__)

FONT_DIR = TEMPLATES_DIR / "fonts"
FONT_FAMILY = "Inter"
# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9dee3"
# A4 (210 mm) minus 2 x 20 mm margins = 170 mm = 6.69 in: charts are drawn at the size they are printed.
COLUMN_WIDTH_IN = 6.69
DEFAULT_HEIGHT_IN = 3.6
PNG_DPI = 200
SVG_HASHSALT = "bubblelens"
SVG_METADATA = {"Date": None, "Creator": "bubblelens"}
PNG_METADATA = {"Software": None}
CSV_FLOAT_FORMAT = "%.10g"  # enough digits to round-trip what was plotted, no platform-dependent repr
FOOTER_CHARS = 190           # characters of the source footer per line (6.5 pt across a 6.7 in column)

STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT_FAMILY, "DejaVu Sans"],
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "axes.labelcolor": INK,
    "axes.edgecolor": MUTED,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "grid.color": GRID,
    "grid.linewidth": 0.6,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "text.color": INK,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    # Text stays text: searchable and selectable in the PDF, 3x smaller SVGs and ~3x faster to typeset than
    # glyph paths (WeasyPrint draws each glyph path separately). In the PDF it is set in the embedded Inter;
    # a viewer without Inter falls back to DejaVu Sans / sans-serif.
    "svg.fonttype": "none",
    "svg.hashsalt": SVG_HASHSALT,
    "path.simplify": True,
}

_fonts_registered = False


def register_fonts() -> None:
    """Make the shipped fonts known to matplotlib once (never a system font lookup for the house face)."""
    global _fonts_registered
    if _fonts_registered:
        return
    for path in sorted(FONT_DIR.glob("*.[ot]tf")):
        font_manager.fontManager.addfont(str(path))
    _fonts_registered = True


SOURCE_LINE_NAMES = 3   # more publishers than this are summarised; the full list is in charts/<id>.json


def source_line(spec: ChartSpec) -> str:
    """The footer printed in the image and under the figure: who measured or published the numbers.

    Long lists are cut to the first few publishers plus a count, so the footer never widens the image
    (the chart's JSON and the report's source appendix carry every source with its quote)."""
    names = list(dict.fromkeys(s.publisher or s.title for s in spec.sources))
    if len(names) > SOURCE_LINE_NAMES:
        names = names[:SOURCE_LINE_NAMES] + [f"and {len(names) - SOURCE_LINE_NAMES} more (see {spec.chart_id}.json)"]
    if spec.measured_by:
        names.append("bubblelens measurements")
    origin = "; ".join(names) if names else "bubblelens"
    return f"Source: {origin} \u2014 processed by bubblelens \u00b7 {spec.licence} \u00b7 {spec.chart_id}"


def citation(spec: ChartSpec, meta: ReportMeta | None) -> str:
    """A one-line human citation for a chart (what `bubblelens cite CHART_ID` prints)."""
    build = f", build {meta.build_id}" if meta and meta.build_id else ""
    date = f" ({meta.date_text})" if meta and meta.date_text else ""
    version = meta.version if meta else __version__
    return (f"bubblelens{date}. \u201c{spec.title}\u201d [chart {spec.chart_id}]. bubblelens {version}"
            f"{build}. Licence: {spec.licence}.")


def _bibtex_escape(text: str) -> str:
    for char in "\\{}&%$#_":
        text = text.replace(char, "\\" + char)
    return text


def bibtex(spec: ChartSpec, meta: ReportMeta | None) -> str:
    """A BibTeX @misc entry whose key is the chart id, so citing is copy-paste."""
    fields = {
        "title": spec.title,
        "author": meta.author if meta else "bubblelens",
        "howpublished": f"bubblelens {meta.version if meta else __version__}, chart {spec.chart_id}",
        "note": "; ".join(x for x in (
            f"build {meta.build_id}" if meta and meta.build_id else "",
            spec.units, f"licence {spec.licence}") if x),
    }
    if meta and meta.date_text[:4].isdigit():
        fields["year"] = meta.date_text[:4]
    body = ",\n".join(f"  {key} = {{{_bibtex_escape(value)}}}" for key, value in fields.items())
    return f"@misc{{{spec.chart_id},\n{body}\n}}\n"


def chart_metadata(spec: ChartSpec, meta: ReportMeta | None) -> dict[str, Any]:
    """Everything `<id>.json` holds; the order of keys is fixed so the file is reproducible."""
    return {
        "chart_id": spec.chart_id,
        "title": spec.title,
        "description": spec.description,
        "units": spec.units,
        "format": spec.fmt,
        "licence": spec.licence,
        "build_id": meta.build_id if meta else "",
        "measured_by": spec.measured_by,
        "note": spec.note,
        "columns": [str(c) for c in spec.data.columns],
        "sources": [vars(s).copy() for s in spec.sources],
        "source_line": source_line(spec),
        "citation": citation(spec, meta),
        "bibtex": bibtex(spec, meta),
    }


def _decorate(fig: plt.Figure, spec: ChartSpec) -> None:
    """Title and units above everything drawn, source line below it: a chart copied alone stays citable.

    Positions come from the drawn extent of all axes (tick labels, legends, equal-aspect images), so the
    bands hug the plot whatever `draw_fn` did; `bbox_inches="tight"` then crops to the decorated figure.
    """
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    boxes = [b for b in boxes if b is not None and b.width > 0 and b.height > 0]
    union = Bbox.union(boxes).transformed(fig.transFigure.inverted()) if boxes else Bbox([[0, 0], [1, 1]])
    height = fig.get_figheight()
    left = min(union.x0, 0.0)
    header_top = union.y1 + (0.40 if spec.units else 0.26) / height
    fig.text(left, header_top, spec.title, ha="left", va="top", fontsize=10, fontweight=600, color=INK)
    if spec.units:
        fig.text(left, header_top - 0.19 / height, spec.units, ha="left", va="top", fontsize=8, color=MUTED)
    # Wrapped at about the plot's width in 6.5 pt type, so a long source list never widens the image.
    fig.text(left, union.y0 - 0.08 / height, textwrap.fill(source_line(spec), FOOTER_CHARS), ha="left", va="top",
             fontsize=6.5, color=MUTED)


def drawing_settings() -> str:
    """The digest of every matplotlib setting a chart is drawn with: the house style over what a
    matplotlibrc, the environment or other code set (part of a reused image's key, charts/reuse.py)."""
    with plt.rc_context(STYLE):
        items = sorted((key, repr(value)) for key, value in matplotlib.rcParams.items())
    return hashlib.sha256(repr(items).encode()).hexdigest()


def _draw_image(spec: ChartSpec, draw_fn: Callable[[plt.Figure, plt.Axes], None], figsize: tuple[float, float],
                image: Path) -> None:
    """Draw the figure in the house style, decorate it and save it atomically to `image`."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=figsize)
        try:
            draw_fn(fig, ax)
            _decorate(fig, spec)
            if spec.fmt == "svg":
                buffer = io.BytesIO()
                fig.savefig(buffer, format="svg", metadata=SVG_METADATA, bbox_inches="tight", pad_inches=0.06)
                svg = slim_svg(buffer.getvalue())
                atomic_write(image, lambda p: p.write_bytes(svg))
            else:
                atomic_write(image, lambda p: fig.savefig(p, format="png", dpi=PNG_DPI, metadata=PNG_METADATA,
                                                           bbox_inches="tight", pad_inches=0.06))
        finally:
            plt.close(fig)


def draw_chart(spec: ChartSpec, draw_fn: Callable[[plt.Figure, plt.Axes], None], out_dir: Path, *,
               meta: ReportMeta | None = None, figsize: tuple[float, float] | None = None) -> ChartSpec:
    """Draw `spec` with `draw_fn(fig, ax)` and write `<id>.svg|png`, `<id>.csv`, `<id>.json` into `out_dir`.

    `out_dir` is the chart directory itself (a build's `reports/charts/`). Returns `spec` unchanged so
    chart functions can `return draw_chart(...)`. Two calls with equal inputs write byte-identical files;
    inside `reuse.reusing_drawings` an image drawn before from the same drawing is copied, not drawn.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    register_fonts()
    figsize = figsize or (COLUMN_WIDTH_IN, DEFAULT_HEIGHT_IN)
    image = out_dir / f"{spec.chart_id}.{spec.fmt}"
    draw_or_reuse(spec, draw_fn, figsize, image, lambda: _draw_image(spec, draw_fn, figsize, image),
                  drawing_settings)
    atomic_write(out_dir / f"{spec.chart_id}.csv",
                  lambda p: spec.data.to_csv(p, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n"))
    text = json.dumps(chart_metadata(spec, meta), indent=2, ensure_ascii=False) + "\n"
    atomic_write(out_dir / f"{spec.chart_id}.json", lambda p: p.write_text(text, encoding="utf-8"))
    LOGGER.debug("chart %s written to %s", spec.chart_id, out_dir)
    return spec
