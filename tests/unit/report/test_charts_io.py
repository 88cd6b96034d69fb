"""chart_io: the three files per chart, their content, and byte-for-byte reproducibility."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from PIL import Image

from bubblelens.core.resources import TEMPLATES_DIR
from bubblelens.report.charts.io import bibtex, citation, draw_chart, register_fonts, source_line
from bubblelens.report.model import ChartSpec, ReportMeta, Source

SOURCE = Source("src-a", "Capex survey", "Example Institute", "https://example.org/a", "2024-05-01",
                "2024-06-01", "CC BY 4.0", "Capex rose to 200 bn & more")
META = ReportMeta("T", "S", "b123", "2025-02-01", "quick", "CPU", "0", "this build", "0.1.0")


def line_spec(chart_id: str = "fig-test-line", fmt: str = "svg") -> ChartSpec:
    data = pd.DataFrame({"year": [2020, 2021, 2022], "value": [1.0 / 3.0, 2.5, np.pi * 1e9]})
    return ChartSpec(chart_id, "Growth of 50% & more", "A test line.", "USD billion", data, [SOURCE],
                     "bubblelens build b123", fmt=fmt)


def draw_line(fig, ax) -> None:
    ax.plot([2020, 2021, 2022], [1, 2.5, 3.1], marker="o")


def draw_image(fig, ax) -> None:
    ax.imshow(np.arange(28 * 28).reshape(28, 28) % 255, cmap="gray_r")
    ax.set_axis_off()


def test_writes_image_csv_json(tmp_path: Path) -> None:
    spec = draw_chart(line_spec(), draw_line, tmp_path, meta=META)
    assert spec.chart_id == "fig-test-line"
    svg = (tmp_path / "fig-test-line.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg
    back = pd.read_csv(tmp_path / "fig-test-line.csv")
    assert list(back.columns) == ["year", "value"]
    np.testing.assert_allclose(back["value"], spec.data["value"], rtol=1e-9)  # %.10g keeps 10 digits
    meta = json.loads((tmp_path / "fig-test-line.json").read_text())
    assert meta["chart_id"] == "fig-test-line" and meta["build_id"] == "b123"
    assert meta["sources"][0]["quote"] == "Capex rose to 200 bn & more"
    assert meta["units"] == "USD billion" and meta["licence"] == "CC BY 4.0"
    assert meta["bibtex"].startswith("@misc{fig-test-line,")
    assert "fig-test-line" in meta["citation"] and "build b123" in meta["citation"]


@pytest.mark.parametrize("fmt,draw", [("svg", draw_line), ("png", draw_image)])
def test_two_renders_are_byte_identical(tmp_path: Path, fmt: str, draw) -> None:
    for sub in ("a", "b"):
        draw_chart(line_spec("fig-test-repro", fmt), draw, tmp_path / sub, meta=META)
    for ext in (fmt, "csv", "json"):
        first = (tmp_path / "a" / f"fig-test-repro.{ext}").read_bytes()
        assert first == (tmp_path / "b" / f"fig-test-repro.{ext}").read_bytes(), ext


def test_png_has_no_software_stamp_and_print_resolution(tmp_path: Path) -> None:
    draw_chart(line_spec("fig-test-png", "png"), draw_image, tmp_path, figsize=(3.0, 3.0))
    with Image.open(tmp_path / "fig-test-png.png") as image:
        assert "Software" not in image.info
        assert image.info["dpi"][0] == pytest.approx(200, abs=0.5)
        assert 400 < image.height < 800  # 3 in at 200 dpi, empty margins cropped, header and footer added


def test_no_temp_files_left_and_files_readable(tmp_path: Path) -> None:
    draw_chart(line_spec(), draw_line, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fig-test-line.csv", "fig-test-line.json", "fig-test-line.svg"]
    assert all(p.stat().st_mode & 0o044 for p in tmp_path.iterdir())


def test_house_font_comes_from_templates() -> None:
    register_fonts()
    path = font_manager.findfont(font_manager.FontProperties(family="Inter"), fallback_to_default=False)
    assert Path(path).parent == TEMPLATES_DIR / "fonts"


def test_source_line_citation_bibtex() -> None:
    spec = line_spec()
    line = source_line(spec)
    assert line.startswith("Source: Example Institute; bubblelens measurements")
    assert line.endswith("CC BY 4.0 \u00b7 fig-test-line")
    assert source_line(ChartSpec("fig-x", "t", "d", "u", pd.DataFrame(), [], "")).startswith("Source: bubblelens \u2014")
    entry = bibtex(spec, META)
    assert "title = {Growth of 50\\% \\& more}" in entry and "year = {2025}" in entry
    assert citation(spec, None).startswith("bubblelens. \u201cGrowth of 50% & more\u201d [chart fig-test-line]")


@pytest.mark.parametrize("bad", ["Figure 3", "fig_ring", "fig-", "fig-Ring", "ring8", "fig--x"])
def test_chart_ids_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        ChartSpec(bad, "t", "d", "u", pd.DataFrame(), [], "")


def test_format_is_validated() -> None:
    with pytest.raises(ValueError):
        ChartSpec("fig-x", "t", "d", "u", pd.DataFrame(), [], "", fmt="pdf")


def test_multi_panel_draw_fn_gets_header_above_all_panels(tmp_path: Path) -> None:
    """A draw_fn may replace the single axes by a grid; the title band must sit above every panel."""
    seen = {}

    def draw_panels(fig, ax) -> None:
        ax.remove()
        for i, panel in enumerate(fig.subplots(2, 2).ravel()):
            panel.plot([0, 1], [i, i + 1])
        seen["fig"] = fig

    draw_chart(line_spec("fig-test-panels"), draw_panels, tmp_path, figsize=(6.69, 5.0))
    fig = seen["fig"]
    title = next(t for t in fig.texts if t.get_text() == "Growth of 50% & more")
    footer = next(t for t in fig.texts if t.get_text().startswith("Source:"))
    tops = [a.get_position().y1 for a in fig.axes]
    bottoms = [a.get_position().y0 for a in fig.axes]
    assert title.get_position()[1] > max(tops) and footer.get_position()[1] < min(bottoms)


def test_source_line_summarises_long_source_lists():
    many = [Source(f"s{i}", f"t{i}", f"Publisher {i}", "https://example.org", "2024", "2024-01-01", "n/a", "q")
            for i in range(7)]
    line = source_line(ChartSpec("fig-many", "t", "d", "u", pd.DataFrame(), many, ""))
    assert "Publisher 2" in line and "Publisher 3" not in line and "and 4 more (see fig-many.json)" in line


def test_svg_is_written_without_matplotlibs_no_op_groups_and_rotations(tmp_path: Path) -> None:
    """charts/svg_slim.py is applied on save (what it keeps is tested in test_svg_slim.py)."""
    draw_chart(line_spec(), draw_line, tmp_path, meta=META)
    svg = (tmp_path / "fig-test-line.svg").read_bytes()
    assert svg.startswith(b"<?xml") and b"rotate(-0 " not in svg and b"<text" in svg
    assert b'<g id="figure_1">' not in svg and b'<g id="axes_1">' not in svg
