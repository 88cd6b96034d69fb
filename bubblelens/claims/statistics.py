"""The statistic kinds a claim can name in `data/claims.toml` (`statistic = "..."`), by name.

Model-side kinds live in model_statistics.py and cost_statistics.py, market-side kinds in
market_statistics.py and explosive_statistics.py; this table is
what the engine hands the registry loader, so a kind exists only if it is listed here.
"""
from __future__ import annotations

from bubblelens.claims import cost_statistics, explosive_statistics, market_statistics, model_statistics
from bubblelens.claims.kinds import StatisticKind

KINDS: dict[str, StatisticKind] = {**model_statistics.KINDS, **cost_statistics.KINDS, **market_statistics.KINDS,
                                 **explosive_statistics.KINDS}
