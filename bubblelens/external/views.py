"""Series derived from the external data sets, shaped like curated series so claims and charts read both alike.

A claim names its evidence by series id; the curated series are CSV stems under data/market, and the
long external data sets (Shiller's S&P 500, Epoch's notable models) enter through the views below, each a
fixed derivation with its own id. A view is never stored: it is recomputed from the shipped data set on
every load, so it cannot drift from its origin, and its source is the data set itself (dataset-level
provenance, owid/etl-style), not a quoted passage per row.

`kind` tells how a view may be fitted: "monthly" views are equally spaced time series (explosive-root
tests, HAC growth fits); "cross_section" views hold many models per year at irregular dates (growth fits
with errors clustered by calendar year).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bubblelens.core.provenance import Source
from bubblelens.core.resources import curated
from bubblelens.external.derived import cape, valuation_ratio
from bubblelens.external.load import External, load_external
from bubblelens.external.schema import SHILLER_ID as SHILLER   # the data set id, in one place
from bubblelens.market.load import Market, Series, SeriesMeta, load_market

VIEW_CATEGORY = "external"          # not a curated category: never in the curated growth table or staleness
MONTHLY, CROSS_SECTION = "monthly", "cross_section"
EPOCH_SINCE = pd.Timestamp("2010-01-01")   # Epoch's own post-2010 trend; the frontier flag runs back to 1950


@dataclass(frozen=True)
class View:
    view_id: str
    dataset: str                     # the data set's id (its file stem in data/external)
    title: str
    description: str
    unit: str
    kind: str                        # MONTHLY | CROSS_SECTION
    derive: Callable[[External], pd.DataFrame]   # -> date, value, label


def _ratio(denominator: str) -> Callable[[External], pd.DataFrame]:
    def derive(ext: External) -> pd.DataFrame:
        r = valuation_ratio(ext.shiller, denominator)
        return pd.DataFrame({"date": r.index, "value": r.to_numpy(float), "label": ""})
    return derive


def _cape(ext: External) -> pd.DataFrame:
    r = cape(ext.shiller)
    return pd.DataFrame({"date": r.index, "value": r.to_numpy(float), "label": ""})


def _epoch(column: str, frontier_only: bool) -> Callable[[External], pd.DataFrame]:
    def derive(ext: External) -> pd.DataFrame:
        e = ext.epoch
        keep = e[column].notna() & (e["date"] >= EPOCH_SINCE) & (e["frontier"] if frontier_only else True)
        f = e.loc[keep].sort_values(["date", "model"], kind="stable")
        return pd.DataFrame({"date": f["date"].to_numpy(), "value": f[column].to_numpy(float),
                             "label": f["model"].astype(str).to_numpy()})
    return derive


EPOCH = "epoch_notable_ai_models_2024-12"
VIEWS: dict[str, View] = {v.view_id: v for v in (
    View("sp500_pd_ratio_shiller", SHILLER, "S&P 500 price/dividend ratio, monthly from 1871 (Shiller)",
         "Monthly average S&P 500 price over the dividend of the month (four-quarter total, interpolated), from "
         "January 1871 to the last month of Shiller's workbook with dividends; dated by month end. Over "
         "1871-2010 it equals the PSY (2015) sample.", "ratio", MONTHLY, _ratio("dividend")),
    View("sp500_pe_ratio_shiller", SHILLER, "S&P 500 price/earnings ratio, monthly from 1871 (Shiller)",
         "Monthly average S&P 500 price over trailing twelve-month as-reported earnings, from January 1871 to "
         "the last month with earnings; dated by month end. Explodes when earnings collapse (1921, 2009, 2020) "
         "as well as when prices run away.", "ratio", MONTHLY, _ratio("earnings")),
    View("sp500_cape_shiller", SHILLER, "S&P 500 cyclically adjusted P/E (CAPE), monthly from 1881 (Shiller)",
         "Shiller's CAPE: real price over the ten-year average of real earnings, from January 1881 to the last "
         "month with published earnings; dated by month end. The ten-year average keeps a collapse of one "
         "year's earnings from making the ratio explode.", "ratio", MONTHLY, _cape),
    View("epoch_frontier_training_cost", EPOCH, "Training compute cost of frontier models (Epoch AI)",
         "Epoch's estimated training compute cost (2023 USD) of the models it flags as frontier, published "
         "2010 or later; one row per model.", "USD", CROSS_SECTION, _epoch("cost_usd_2023", True)),
    View("epoch_training_cost", EPOCH, "Training compute cost of notable models (Epoch AI)",
         "Epoch's estimated training compute cost (2023 USD) of every notable model with an estimate, "
         "published 2010 or later.", "USD", CROSS_SECTION, _epoch("cost_usd_2023", False)),
    View("epoch_frontier_training_compute", EPOCH, "Training compute of frontier models (Epoch AI)",
         "Epoch's training-compute estimate (FLOP) of the models it flags as frontier, published 2010 or "
         "later.", "FLOP", CROSS_SECTION, _epoch("compute_flop", True)),
    View("epoch_training_compute", EPOCH, "Training compute of notable models (Epoch AI)",
         "Epoch's training-compute estimate (FLOP) of every notable model with one, published 2010 or later.",
         "FLOP", CROSS_SECTION, _epoch("compute_flop", False)),
)}
VIEW_IDS = tuple(VIEWS)


def view_series(ext: External) -> dict[str, Series]:
    """Every view as a `Series` (frame columns as a curated series'; the source is the data set)."""
    out = {}
    for v in VIEWS.values():
        info = ext.datasets[v.dataset]
        f = v.derive(ext)
        n = len(f)
        frame = pd.DataFrame({
            "date": pd.to_datetime(f["date"]).astype("datetime64[ns]"),
            "date_text": pd.to_datetime(f["date"]).dt.date.astype(str).to_numpy(),
            "value": f["value"].to_numpy(float), "value_text": [f"{x:.6g}" for x in f["value"]],
            "unit": v.unit, "source_id": v.dataset, "note": "", "label": f["label"].to_numpy(),
            "bound": "", "line": np.zeros(n, dtype=int)}).reset_index(drop=True)
        meta = SeriesMeta(series_id=v.view_id, title=v.title, description=v.description, unit=v.unit,
                          frequency="monthly" if v.kind == MONTHLY else "irregular", category=VIEW_CATEGORY,
                          reliability="high" if v.dataset == SHILLER else "medium-high",
                          direction="up", classification_note=f"Derived from {info.title} ({info.producer}).",
                          file=info.file, reliability_note=info.caveats)
        out[v.view_id] = Series(meta, frame)
    return out


def dataset_sources(ext: External) -> dict[str, Source]:
    """One `Source` per external data set, so a chart or claim citing a view cites its producer."""
    return {d.dataset_id: Source(source_id=d.dataset_id, title=d.title, publisher=d.producer, url=d.url,
                                 published="see citation", accessed=d.accessed, licence=d.licence,
                                 quote=f"{d.citation.rstrip('.')}. Copy read: {d.mirror} (commit {d.mirror_commit}).")
            for d in ext.datasets.values()}


def with_external(market: Market, ext: External | None) -> Market:
    """`market` plus the views and the data sets' sources (unchanged when there is no external data)."""
    if ext is None:
        return market
    return dataclasses.replace(market, series={**market.series, **view_series(ext)},
                               sources={**market.sources, **dataset_sources(ext)})


def is_cross_section(series: Series) -> bool:
    v = VIEWS.get(series.meta.series_id)
    return v is not None and v.kind == CROSS_SECTION


def load_evidence_market(data_dir: Path, today: date | None = None) -> Market:
    """The curated market data plus the external data sets' views: what claims and charts read.

    Both are validated (a fault in either raises its DataError, exit 3); a data directory without
    external/ gives the curated series alone, so an analyst's copy made before it existed still builds.
    """
    market = load_market(data_dir, today=today)
    if not curated(Path(data_dir), "external").is_dir():
        return market
    ext = load_external(Path(data_dir), today=today)
    return dataclasses.replace(with_external(market, ext), issues=market.issues + list(ext.issues))
