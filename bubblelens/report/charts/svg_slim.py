"""Matplotlib's SVG without the structure that draws nothing but costs the PDF renderer time.

Matplotlib wraps every artist in a `<g id="...">` (figure, axes, each tick, each tick's line and label),
often inside a bare `<g>`, and gives every label a `transform="rotate(-0 x y)"`. WeasyPrint draws SVG node
by node in Python, saving and restoring the graphics state around each group and parsing each transform;
on the report's 20 SVG charts these no-ops were about a fifth of its SVG drawing time (benchmarks/README.md).
`slim_svg` removes the start and end lines of groups with no attribute but an id that nothing references
(and such groups when empty), and rotations by zero. Every drawn element keeps its attributes, its enclosing styled groups and its place
in drawing order, so the chart looks the same in any SVG reader (tests/unit/report/test_svg_slim.py compares
what is drawn, element by element). The rest of the file is matplotlib's, byte for byte.

It works on matplotlib's line layout (each group's start and end tag on a line of its own) rather than
re-serialising a parsed tree, whose namespace prefixes would depend on process-wide ElementTree state; a
file laid out otherwise is returned unchanged.
"""
from __future__ import annotations

import re

_BARE_GROUP = re.compile(rb'\s*<g(?:\s+id="([^"]*)")?\s*>\s*')        # <g> or <g id="..."> alone on a line
_EMPTY_GROUP = re.compile(rb'\s*<g(?:\s+id="([^"]*)")?\s*/>\s*')      # <g id="..."/>: an axis without ticks
_OTHER_GROUP = re.compile(rb"\s*<g\b[^>]*(?<!/)>\s*")                  # a group start tag with other attributes
_GROUP_END = re.compile(rb"\s*</g>\s*")
_ZERO_ROTATION_VALUE = rb"\s*rotate\(\s*-?0(?:\.0*)?(?:\s+[-+\d.eE]+\s+[-+\d.eE]+)?\s*\)\s*"
_ZERO_ROTATION = re.compile(rb'\s+transform="' + _ZERO_ROTATION_VALUE + rb'"')
_ANY_GROUP_TAG = re.compile(rb"</?g[\s>/]")
_REFERENCES = re.compile(rb'href="#([^"]+)"|url\(#([^)]+)\)')


def referenced_ids(svg: bytes) -> set[bytes]:
    """Ids something points at: `xlink:href="#id"` / `href="#id"` or `url(#id)` anywhere in the file."""
    return {a or b for a, b in _REFERENCES.findall(svg)}


def is_zero_rotation(transform: bytes) -> bool:
    """Whether a transform attribute's value is a rotation by zero degrees (about any point): the identity."""
    return bool(re.fullmatch(_ZERO_ROTATION_VALUE, transform))


def slim_svg(svg: bytes) -> bytes:
    """The SVG document `svg` (as matplotlib writes it) with no-op groups and rotations removed."""
    keep = referenced_ids(svg)
    lines = svg.splitlines(keepends=True)
    out, unwrapped = [], []                   # unwrapped: one flag per open group, True where its tags are dropped
    for line in lines:
        if (bare := _BARE_GROUP.fullmatch(line)) is not None:
            drop = bare.group(1) not in keep
            unwrapped.append(drop)
            if drop:
                continue
        elif (empty := _EMPTY_GROUP.fullmatch(line)) is not None:
            if empty.group(1) not in keep:
                continue
        elif _OTHER_GROUP.fullmatch(line):
            unwrapped.append(False)
        elif _GROUP_END.fullmatch(line):
            if not unwrapped:
                return svg                    # unbalanced: not the layout this pass understands
            if unwrapped.pop():
                continue
        elif _ANY_GROUP_TAG.search(line):
            return svg                        # a group tag sharing its line with other markup
        tag_end = line.find(b">") + 1             # only in the line's first tag, never in text content
        out.append(_ZERO_ROTATION.sub(b"", line[:tag_end]) + line[tag_end:] if tag_end else line)
    return b"".join(out) if not unwrapped else svg
