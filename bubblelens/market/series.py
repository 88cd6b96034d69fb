"""The curated market data as the analysis reads it: `Market` (series, sources, warnings), each `Series`
a frame with its `SeriesMeta` (what it measures, how it is classed and why: the owid/etl "origin" that
travels with the table), and `describe` for `bubblelens data list`.

Why apart from market/load.py: these are the objects every later layer holds (analysis, claims, report),
while load.py is how they are made from files; a reader of a `Series` should not have to page through
CSV validation to learn which way is "more".
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bubblelens.core.provenance import Source  # one Source type from curated CSV to rendered appendix
from bubblelens.market.schema import MARKET_SUBDIR, Issue


@dataclass(frozen=True)
class SeriesMeta:
    series_id: str
    title: str
    description: str
    unit: str
    frequency: str
    category: str
    reliability: str
    direction: str              # 'up' | 'down': which way of the stored value means "more"
    classification_note: str
    file: str                   # path relative to data_dir, e.g. "market/mmlu_sota.csv"
    reliability_note: str = ""
    transform: str = ""         # '' | 'error_rate' | 'odds' (see values_for_analysis)


@dataclass
class Series:
    meta: SeriesMeta
    frame: pd.DataFrame         # date, date_text, value, value_text, unit, source_id, note, label, bound, line

    def source_ids(self) -> list[str]:
        """Distinct cited sources, in order of first appearance."""
        return list(dict.fromkeys(self.frame["source_id"]))

    def values_for_analysis(self) -> pd.Series:
        """Values on the scale growth analysis should use: a bounded score becomes its error rate
        (100 - score), which can keep falling geometrically where the score cannot keep rising, or its odds
        (score / (100 - score)), whose logarithm is the logit: a log-linear fit then grows the odds at a
        constant rate, and a score near its ceiling needs ever larger odds gains to move."""
        if self.meta.transform == "error_rate":
            return 100.0 - self.frame["value"]
        if self.meta.transform == "odds":
            return self.frame["value"] / (100.0 - self.frame["value"])
        return self.frame["value"]

    @property
    def more_is_reciprocal(self) -> bool:
        """Is "more" the reciprocal of `values_for_analysis`? The one place that decides, for the growth
        table, its chart and the claims: yes for a falling price ('down') and for a score analysed as its
        error rate; both together cancel."""
        return (self.meta.direction == "down") != (self.meta.transform == "error_rate")

    def toward_more(self) -> pd.Series:
        """`values_for_analysis` oriented so that larger always means more (reciprocal where needed)."""
        v = self.values_for_analysis()
        return 1.0 / v if self.more_is_reciprocal else v


@dataclass
class Market:
    series: dict[str, Series]
    sources: dict[str, Source]
    data_dir: Path
    issues: list[Issue] = field(default_factory=list)   # warnings kept after load
    categories: dict[str, str] = field(default_factory=dict)   # category -> description, file order

    def fingerprint(self) -> str:
        return market_fingerprint(self.data_dir)


def market_fingerprint(data_dir: Path) -> str:
    """sha256 over (relative name, bytes) of every non-hidden file under data_dir/market, sorted.

    Not core.io.tree_digest (16 hex digits, which external/load.py uses): a build records this full
    digest as the market data's input hash, and a new form would change that hash for unchanged data."""
    root = Path(data_dir) / MARKET_SUBDIR
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def describe(market: Market) -> list[dict]:
    """One row per series for `bubblelens data list` (categories in categories.toml order, then id)."""
    out = []
    for sid, s in market.series.items():
        order = s.frame.sort_values("date", kind="stable")
        out.append({
            "series_id": sid, "category": s.meta.category, "rows": len(s.frame),
            "first": order["date_text"].iloc[0], "last": order["date_text"].iloc[-1],
            "sources": len(s.source_ids()), "reliability": s.meta.reliability,
            "unit": s.meta.unit, "title": s.meta.title,
        })
    order = {name: i for i, name in enumerate(market.categories)}
    return sorted(out, key=lambda r: (order.get(r["category"], len(order)), r["category"], r["series_id"]))
