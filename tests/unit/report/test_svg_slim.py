"""svg_slim: matplotlib's SVG without no-op groups and rotations draws exactly what it drew before."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bubblelens.report.charts.io import STYLE  # noqa: E402
from bubblelens.report.charts.svg_slim import is_zero_rotation, slim_svg  # noqa: E402

GROUP = "{http://www.w3.org/2000/svg}g"

ROTATION = re.compile(r"rotate\(\s*(-?[\d.]+)")


def drawn(data: bytes) -> list[tuple]:
    """Every element that is not a group, in document (drawing) order, with its own attributes and the
    attributes it inherits from its enclosing groups: what an SVG reader draws. A group's id and a rotation
    by zero degrees change nothing drawn, so they are left out (the latter checked by its angle here, not by
    svg_slim's pattern)."""
    out = []

    def visit(el: ET.Element, inherited: tuple) -> None:
        own = {k: v for k, v in el.attrib.items()
               if not (k == "transform" and (m := ROTATION.match(v)) and float(m.group(1)) == 0)}
        if el.tag == GROUP:
            own.pop("id", None)
            inherited = inherited + ((tuple(sorted(own.items())),) if own else ())
        else:
            out.append((el.tag, tuple(sorted(own.items())), (el.text or "").strip(), inherited))
        for child in el:
            visit(child, inherited)

    visit(ET.fromstring(data), ())
    return out


def matplotlib_svg(draw) -> bytes:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4, 3))
        draw(fig, ax)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg")
        plt.close(fig)
    return buffer.getvalue()


def lines_and_legend(fig, ax) -> None:
    ax.plot([0, 1, 2], [1, 3, 2], label="series a", marker="o")
    ax.fill_between([0, 1, 2], [0, 1, 1], [1, 2, 2], alpha=0.3, label="band")   # a clip path, referenced by url(#)
    ax.set_xlabel("x label")
    ax.legend()
    ax.text(1, 1, "rotated", rotation=30)


def scatter_and_text(fig, ax) -> None:
    ax.scatter([0, 1, 2, 3], [3, 1, 2, 0])                                      # markers: <use xlink:href="#...">
    ax.text(1, 1, "rotated", rotation=30)
    ax.annotate("note", (2, 2), (2.5, 2.5), arrowprops={"arrowstyle": "->"})


@pytest.mark.parametrize("draw", [lines_and_legend, scatter_and_text])
def test_slimmed_svg_draws_the_same_elements_in_the_same_order(draw) -> None:
    original = matplotlib_svg(draw)
    slim = slim_svg(original)
    assert drawn(slim) == drawn(original)
    groups = [len(ET.fromstring(svg).findall(f".//{GROUP}")) for svg in (original, slim)]
    assert groups[1] < groups[0] / 3, groups                  # most of matplotlib's groups were only ids
    assert b"rotate(-0 " in original and b"rotate(-0 " not in slim
    assert slim.count(b"rotate(-30 ") == original.count(b"rotate(-30 ")   # a real rotation stays


def test_a_group_with_attributes_or_a_referenced_id_stays() -> None:
    svg = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
 <g id="a">
  <g id="kept" style="fill: red">
   <path d="M 0 0 L 1 1"/>
  </g>
 </g>
 <g id="target">
  <path d="M 1 1 L 2 2"/>
 </g>
 <use xlink:href="#target"/>
</svg>
"""
    root = ET.fromstring(slim_svg(svg))
    assert [g.get("id") for g in root.iter(GROUP)] == ["kept", "target"]
    assert drawn(slim_svg(svg)) == drawn(svg)


def test_a_layout_other_than_matplotlibs_is_left_as_it_is() -> None:
    one_line = b'<svg xmlns="http://www.w3.org/2000/svg"><g id="a"><path d="M 0 0"/></g></svg>\n'
    unbalanced = b'<svg xmlns="http://www.w3.org/2000/svg">\n<g id="a">\n<path d="M 0 0"/>\n</svg>\n'
    assert slim_svg(one_line) == one_line and slim_svg(unbalanced) == unbalanced


@pytest.mark.parametrize("transform,identity", [("rotate(-0 10 20)", True), ("rotate(0)", True),
                                                ("rotate(0.0 1 2)", True), ("rotate(-0.5 1 2)", False),
                                                ("rotate(-0 1 2) scale(2)", False), ("translate(0 0)", False)])
def test_only_rotations_by_zero_are_identities(transform: str, identity: bool) -> None:
    assert is_zero_rotation(transform.encode()) is identity


def test_an_axis_without_ticks_and_a_label_quoting_a_transform_are_handled() -> None:
    """matplotlib writes an axis without ticks as an empty `<g id=".."/>` (the pass once returned such files
    unchanged); a label's text is never edited, even when it reads like an attribute."""
    def no_ticks(fig, ax) -> None:
        ax.plot([0, 1], [1, 0])
        ax.set_yticks([])
        ax.set_title('transform="rotate(0)"')

    original = matplotlib_svg(no_ticks)
    assert re.search(rb'<g id="[^"]*"/>', original)
    slim = slim_svg(original)
    assert slim != original and drawn(slim) == drawn(original)
    assert b'>transform="rotate(0)"</text>' in slim
