"""Provenance: where a number came from, carried from the curated CSV to the rendered appendix unchanged."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Source:
    """One curated source, with the exact quote a number was taken from (owid/etl-style origin)."""

    source_id: str
    title: str
    publisher: str
    url: str
    published: str
    accessed: str
    licence: str
    quote: str
