"""The claim kinds a claim can name in `data/claims.toml` (`statistic = "..."`), by name.

A kind is one record (`Kind`, claims/kinds.py) registered whole, in the module that defines it, by one
`register_kind` call: its parameters (a pydantic model the registry validates a claim against), its
statistic, its reachability probe and its alternatives. Importing the modules below fills `KINDS`, the one
table the engine, the registry, `claims check` and the verdict simulation read; a kind in a new module
needs that module listed here.
"""
from __future__ import annotations

from bubblelens.claims import cost_statistics, explosive_statistics, market_statistics, model_statistics
from bubblelens.claims import family_statistics, sweep_statistics
from bubblelens.claims.kinds import KINDS, Kind

MODULES = (model_statistics, family_statistics, cost_statistics, sweep_statistics, market_statistics,
           explosive_statistics)
__all__ = ["KINDS", "Kind", "MODULES"]
