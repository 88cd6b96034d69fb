"""report: typesetting contract (outline, metadata, numbering), escaping, locked fetcher, atomicity, reproducibility.

Full renders cost a few seconds each, so one module-scoped render serves most assertions and only the
reproducibility test renders a second time.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import pypdf
import pytest

from bubblelens.core.resources import TEMPLATES_DIR
from bubblelens.report import render as report
from bubblelens.report.numbers import fmt, fmt_p
from bubblelens.report.charts.io import draw_chart
from bubblelens.core.errors import StageError
from bubblelens.report.model import (Callout, ChartSpec, Figure, Paragraph, ReportContent, ReportMeta, Section,
                                     Source, Table)

EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_IMG = '<img src="file:///etc/hostname">'
EPOCH = "1700000000"  # 2023-11-14T22:13:20Z


def sample_content(tmp_dir: Path) -> ReportContent:
    """A small report with every block kind, two charts (SVG + PNG) drawn into tmp_dir/charts."""
    chart_dir = Path(tmp_dir) / "charts"
    meta = ReportMeta("Sample Report Title", "A subtitle", "b0ffee", "2025-02-01", "smoke", "CPU, 2 cores",
                      "0, 1", "this build", "0.1.0", keywords=["alpha", "beta"])
    src = Source("src-x", "Series X", "Publisher X", "https://example.org/x", "2024-01-01", "2024-02-01",
                 "CC BY 4.0", "X grew.")
    line = ChartSpec("fig-sample-line", "Sample line", "A line.", "units", pd.DataFrame({"x": [1, 2], "y": [3.0, 4.5]}),
                     [src], "")
    grid = ChartSpec("fig-sample-grid", "Sample grid", "Pixels.", "0-255", pd.DataFrame({"i": [0]}), [],
                     "bubblelens build b0ffee", fmt="png")
    draw_chart(line, lambda fig, ax: ax.plot([1, 2], [3.0, 4.5]), chart_dir, meta=meta)
    draw_chart(grid, lambda fig, ax: (ax.imshow(np.eye(8)), ax.set_axis_off()), chart_dir, meta=meta,
               figsize=(2.5, 2.5))
    table = Table("Sample table", ["Name", "Value"], [[EVIL_SCRIPT, 1.5], ["b", None], ["c", "supported"]],
                  table_id="tab-sample")
    body = [
        Section("first-section", "First Section Heading", [
            Paragraph(f"See [[fig-sample-line]] and [[tab-sample]]. **Bold** text. {EVIL_SCRIPT} {EVIL_IMG}"),
            Callout("verdict", "Claim A", "Holds.", "supported"),
            Callout("verdict", "Claim B", "Fails.", "not supported"),
            Figure(line), table,
        ], [Section("first-sub", "A Subsection Heading", [Paragraph("Sub text " * 200), Figure(grid)])]),
        Section("second-section", "Second Section Heading", [Callout("warning", "Careful", "Indicative.")]),
    ]
    return ReportContent(meta, body, "@misc{sample, title={Sample}}", [src], {"profile": "smoke", "seeds": [0, 1]})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One render of the sample report, with every URL the fetcher saw and every WeasyPrint warning."""
    tmp = tmp_path_factory.mktemp("render")
    content = sample_content(tmp)
    fetched: list[str] = []
    original = report.LockedFetcher.fetch
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logging.getLogger("weasyprint").addHandler(handler)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        mp.setattr(report.LockedFetcher, "fetch", lambda self, url, headers=None: (
            fetched.append(url), original(self, url, headers))[1])
        result = report.render_report(content, tmp / "out", chart_dir=tmp / "charts")
    logging.getLogger("weasyprint").removeHandler(handler)
    reader = pypdf.PdfReader(tmp / "out" / report.PDF_NAME)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return {"tmp": tmp, "content": content, "result": result, "reader": reader, "text": text,
            "html": (tmp / "out" / report.HTML_NAME).read_text(), "fetched": fetched,
            "warnings": [r for r in records if r.levelno >= logging.WARNING]}


def test_result_and_pages(rendered) -> None:
    result, reader = rendered["result"], rendered["reader"]
    assert result["pages"] == len(reader.pages) > 1
    assert result["pdf_bytes"] == (rendered["tmp"] / "out" / report.PDF_NAME).stat().st_size
    assert result["render_s"] > 0
    assert f"Page 2 of {result['pages']}" in rendered["text"]


def test_outline_and_metadata(rendered) -> None:
    reader = rendered["reader"]
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert any("First Section Heading" in t for t in titles) and any("Sources" in t for t in titles)
    nested = [item for item in reader.outline if isinstance(item, list)]
    assert any("A Subsection Heading" in child.title for group in nested for child in group)
    meta = reader.metadata
    assert meta.title == "Sample Report Title" and meta.author == "bubblelens"
    assert "alpha" in meta["/Keywords"] and "b0ffee" in meta["/Creator"]
    assert meta.creation_date.year == 2023  # SOURCE_DATE_EPOCH, not the clock


def test_text_numbers_and_ids(rendered) -> None:
    text = rendered["text"]
    for needle in ("First Section Heading", "A Subsection Heading", "Second Section Heading", "fig-sample-line",
                   "fig-sample-grid", "tab-sample", "Figure 1", "Figure 2", "Table 1", "b0ffee", "Contents"):
        assert needle in text, needle
    html = rendered["html"]
    assert '<a href="#fig-sample-line">Figure 1</a>' in html and '<a href="#tab-sample">Table 1</a>' in html
    assert "<strong>Bold</strong>" in html


def test_untrusted_text_is_escaped_and_never_fetched(rendered) -> None:
    html = rendered["html"]
    assert EVIL_SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL_IMG not in html and "file:///etc/hostname" not in rendered["fetched"]
    assert all(u.startswith(("data:", TEMPLATES_DIR.as_uri(), report.CHART_SCHEME)) for u in rendered["fetched"])
    assert f"{report.CHART_SCHEME}fig-sample-grid.png" in rendered["fetched"]
    assert "<script>alert(1)</script>" in rendered["text"]  # shown as text in the PDF


def test_html_is_self_contained(rendered) -> None:
    html = rendered["html"]
    assert 'src="file:' not in html and 'src="data:image/svg+xml;base64,' in html and 'src="data:image/png;base64,' in html
    assert 'url("data:font/otf;base64,' in html and 'url("fonts/' not in html


def test_no_css_or_fetch_warnings(rendered) -> None:
    assert [r.getMessage() for r in rendered["warnings"]] == []


def test_fonts_are_embedded_from_templates(rendered) -> None:
    fonts = set()
    for page in rendered["reader"].pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("Inter" in f for f in fonts) and not any("DejaVu-Serif" in f for f in fonts)


def test_identical_content_gives_identical_bytes(rendered, monkeypatch) -> None:
    """Same content, charts copied to a directory of another name and length: same bytes."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    tmp = rendered["tmp"]
    shutil.copytree(tmp / "charts", tmp / "a-much-longer-directory-name" / "charts")
    report.render_report(rendered["content"], tmp / "again", chart_dir=tmp / "a-much-longer-directory-name" / "charts")
    for name in (report.PDF_NAME, report.HTML_NAME):
        assert (tmp / "again" / name).read_bytes() == (tmp / "out" / name).read_bytes(), name


def test_failed_render_keeps_previous_report(rendered, monkeypatch) -> None:
    out = rendered["tmp"] / "out"
    before = {name: (out / name).read_bytes() for name in (report.PDF_NAME, report.HTML_NAME)}

    def broken_write(html, target, roots, chart_dir=None):
        Path(target).write_bytes(b"%PDF-1.7 half a file")
        raise StageError("disk full")

    monkeypatch.setattr(report, "write_pdf", broken_write)
    with pytest.raises(StageError, match="disk full"):
        report.render_report(rendered["content"], out, chart_dir=rendered["tmp"] / "charts")
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temp files left behind


def test_missing_chart_and_unknown_reference_fail(tmp_path: Path, rendered) -> None:
    content = rendered["content"]
    with pytest.raises(StageError, match="fig-sample-line"):
        report.render_report(content, tmp_path, chart_dir=tmp_path / "empty")
    bad = ReportContent(content.meta, [Section("s", "S", [Paragraph("see [[fig-nowhere]]")])], "", [], {})
    with pytest.raises(StageError, match="fig-nowhere"):
        report.render_report(bad, tmp_path, chart_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fetcher_refuses_outside_files_and_network(tmp_path: Path) -> None:
    (tmp_path / "fig-ok.svg").write_text("<svg/>")
    fetcher = report.LockedFetcher([TEMPLATES_DIR], tmp_path)
    assert fetcher.fetch((TEMPLATES_DIR / "report.css").as_uri()).read().startswith(b"/*")
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    assert fetcher.fetch(f"{report.CHART_SCHEME}fig-ok.svg").read() == b"<svg/>"
    for url in ("file:///etc/hostname", "https://example.org/x.png", (TEMPLATES_DIR / ".." / "pyproject.toml").as_uri(),
                f"{report.CHART_SCHEME}../../etc/hostname", f"{report.CHART_SCHEME}fig-missing.svg",
                (tmp_path / "fig-ok.svg").as_uri()):
        with pytest.raises(StageError, match="refused"):
            fetcher.fetch(url)


@pytest.mark.parametrize("snippet", ['<img src="file:///etc/hostname">',
                                     '<style>@import url("https://example.org/x.css");</style>'])
def test_refused_fetch_fails_the_build(tmp_path: Path, snippet: str) -> None:
    with pytest.raises(StageError, match="refused|render stopped"):
        report.write_pdf(f"<html><body><p>x</p>{snippet}</body></html>", tmp_path / "x.pdf", [TEMPLATES_DIR])


def test_environment_is_strict_and_escapes() -> None:
    env = report.make_environment()
    assert env.autoescape is True
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    assert str(report.css_string('a"</style>')) == '"a\\22 \\3c /style\\3e "'


def test_inline_markup_and_numbers() -> None:
    html = report.inline_markup("**b** *i* `c` 2 * 3 [[fig-a]] <x>", {"fig-a": "Figure 7"})
    assert html == ('<strong>b</strong> <em>i</em> <code>c</code> 2 * 3 <a href="#fig-a">Figure 7</a> &lt;x&gt;')
    assert fmt(1234567) == "1,234,567" and fmt(5.0) == "5"
    assert fmt(-0.0612) == "\u22120.0612"
    assert fmt(412.54) == "412.5"
    assert fmt(2500.4) == "2,500"
    assert fmt(1.2e13) == "1.20\u00d710\u00b9\u00b3" and fmt(-2.5e-5) == "\u22122.50\u00d710\u207b\u2075"
    assert fmt(float("nan")) == fmt(None) == "\u2013"
    assert fmt_p(0.0004) == "<\u00a00.001" and fmt_p(0.0312) == "0.031"


def test_pdf_date_prefers_source_date_epoch(monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert report.pdf_date("2025-02-01") == "2025-02-01" and report.pdf_date("February 2025") == ""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert report.pdf_date("2025-02-01") == "2023-11-14T22:13:20Z"


def test_mixture_configuration_text_says_where_a_profile_leaves_pacgans_recipe():
    from dataclasses import replace

    from bubblelens.core.config import profile_config
    from bubblelens.report.content import _mixture_config_text

    quick = _mixture_config_text(profile_config("quick").mixture, "quick")
    assert "PacGAN's recipe is G 4 × 400, D 3 × 200, 400,000 steps of 100" in quick
    assert "ring-8 only, grid-25 not trained" in quick and "the full profile trains it" in quick
    full_cfg = profile_config("full").mixture
    full = _mixture_config_text(full_cfg, "full")
    assert "PacGAN's recipe is" not in full and "not trained" not in full
    assert "fresh mixture samples every step (PacGAN: 400 epochs over one draw of 100,000)" in full
    ring_only = _mixture_config_text(replace(full_cfg, datasets=("ring8",)), "full")
    assert "grid-25 not trained" in ring_only and "full profile trains it" not in ring_only
