"""Matplotlib's SVG without the structure that draws nothing but costs the PDF renderer time.

Matplotlib wraps every artist in a `<g id="...">` (figure, axes, each tick, each tick's line and label)
and gives every label a `transform="rotate(-0 x y)"`. WeasyPrint draws SVG node by node in Python, saving
and restoring the graphics state around each group and parsing each transform, so on the report's charts
these no-ops were about a fifth of its SVG drawing time (benchmarks/README.md). `slim_svg` unwraps groups
whose only attribute is an id that nothing references and drops rotations by zero; every drawn element
keeps its own attributes and its place in drawing order, so the chart looks the same in any SVG reader
(tests/unit/report/test_svg_slim.py compares what is drawn, element by element).
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
# The prefixes matplotlib writes, kept on output (ElementTree would otherwise write ns0:, ns1:, ...).
_PREFIXES = {"": SVG_NS, "xlink": XLINK_NS, "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
             "cc": "http://creativecommons.org/ns#", "dc": "http://purl.org/dc/elements/1.1/"}
for _prefix, _uri in _PREFIXES.items():
    ET.register_namespace(_prefix, _uri)

GROUP = f"{{{SVG_NS}}}g"
HREF = f"{{{XLINK_NS}}}href"
_ZERO_ROTATION = re.compile(r"\s*rotate\(\s*-?0(\.0*)?(\s+[-+\d.eE]+\s+[-+\d.eE]+)?\s*\)\s*")
_URL_REF = re.compile(r"url\(#([^)]+)\)")


def referenced_ids(root: ET.Element) -> set[str]:
    """Ids something points at: `xlink:href="#id"` / `href="#id"` or `url(#id)` in any attribute."""
    ids: set[str] = set()
    for el in root.iter():
        for name, value in el.attrib.items():
            if name in (HREF, "href") and value.startswith("#"):
                ids.add(value[1:])
            ids.update(_URL_REF.findall(value))
    return ids


def is_zero_rotation(transform: str) -> bool:
    return bool(_ZERO_ROTATION.fullmatch(transform))


def _unwrap(parent: ET.Element, keep: set[str]) -> None:
    """Depth first: each child group with nothing but an unreferenced id is replaced by its children."""
    children: list[ET.Element] = []
    for child in list(parent):
        _unwrap(child, keep)
        if is_zero_rotation(child.get("transform", "-")):
            del child.attrib["transform"]
        if child.tag == GROUP and set(child.attrib) <= {"id"} and child.get("id") not in keep \
                and not (child.text or "").strip():
            children.extend(child)
        else:
            children.append(child)
    for child in list(parent):
        parent.remove(child)
    parent.extend(children)


def slim_svg(data: bytes) -> bytes:
    """The SVG document `data` (UTF-8, as matplotlib writes it) with no-op groups and rotations removed."""
    root = ET.fromstring(data)
    _unwrap(root, referenced_ids(root))
    out = io.BytesIO()
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return out.getvalue() + b"\n"
