"""The alternatives of each claim kind (claims/operating.py), by kind name: what the engine hands
`operating_characteristics`, as claims/statistics.py hands the registry its statistic kinds."""
from __future__ import annotations

from bubblelens.claims import operating_market, operating_models
from bubblelens.claims.operating import Fit

ALTERNATIVES: dict[str, Fit] = {**operating_models.ALTERNATIVES, **operating_market.ALTERNATIVES}
