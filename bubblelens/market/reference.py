"""Reference data beside the curated series: the bubble yardstick's series id and published model results.

`data/reference/` holds results published by others (PacGAN's and VEEGAN's Table 1 on the 2-D mixtures)
that the report sets beside bubblelens's own runs; the S&P 500 price/dividend ratio of Phillips, Shi and
Yu (2015) is a curated series of category 'reference', the yardstick of what a dated bubble looks like.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bubblelens.core.resources import curated

SP500_SERIES = "sp500_pd_ratio_psy2015"   # the dot-com yardstick (PSY 2015 sample)
PUBLISHED_MIXTURE_RESULTS = "mixture2d_results.csv"


def published_results(data_dir: Path) -> pd.DataFrame:
    """PacGAN/VEEGAN Table 1 rows (empty when the data directory has none)."""
    path = curated(data_dir, "reference") / PUBLISHED_MIXTURE_RESULTS
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()
