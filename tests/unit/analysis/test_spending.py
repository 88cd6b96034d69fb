"""Sequoia's chain recomputed from reported quarters (analysis/spending.py): arithmetic checked by hand on
the shipped data, the multipliers read from the curated series (not from code), quarters placed where
most of their months are."""
from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd
import pytest

from bubblelens.analysis.spending import MULTIPLIERS, calendar_quarter, revenue_chain
from bubblelens.core.resources import DATA_DIR
from bubblelens.market.load import load_market


@pytest.fixture(scope="module")
def shipped():
    return load_market(DATA_DIR, today=date(2026, 12, 6))


def test_nvidia_fiscal_quarters_fall_in_the_calendar_quarter_holding_most_of_them():
    assert str(calendar_quarter(pd.Timestamp("2026-01-25"))) == "2025Q4"     # Nov-Jan
    assert str(calendar_quarter(pd.Timestamp("2026-04-26"))) == "2026Q1"     # Feb-Apr
    assert str(calendar_quarter(pd.Timestamp("2026-06-30"))) == "2026Q2"     # a calendar quarter stays put


def test_the_chain_by_hand(shipped):
    chain = revenue_chain(shipped).set_index("quarter")
    q = chain.loc["2026Q2"]                  # NVIDIA Q2 FY2027: 89.0 bn; all four hyperscalers reported
    assert (q.nvidia_dc_run_rate, q.data_centre_spend, q.required_ai_revenue) == pytest.approx((356.0, 712.0, 1424.0))
    assert q.capex_firms_n == 4 and q.capex_annualised == pytest.approx(4 * (44.924 + 54.208 + 35.8 + 30.116))
    assert q.lab_runrate_statements == pytest.approx(25.0 + 50.0) and not q.lab_runrate_is_lower_bound
    q = chain.loc["2025Q4"]                  # OpenAI 'surpassing $20 billion', Anthropic 'roughly $9 billion'
    assert q.lab_runrate_statements == pytest.approx(29.0) and q.lab_runrate_is_lower_bound
    assert q.capex_firms == "Alphabet, Amazon" and q.capex_annualised == pytest.approx(4 * (27.851 + 39.522))
    assert pd.isna(chain.loc["2023Q1"].lab_runrate_statements) and chain.index.min() == "2022Q1"


def test_the_multipliers_come_from_the_curated_series(shipped):
    s = shipped.series[MULTIPLIERS]
    frame = s.frame.copy()
    frame.loc[frame["label"] == "revenue_per_data_centre_dollar", "value"] = 3.0     # a 67 % margin instead
    edited = dataclasses.replace(shipped, series={**shipped.series, MULTIPLIERS: dataclasses.replace(s, frame=frame)})
    assert revenue_chain(edited).set_index("quarter").loc["2026Q2"].required_ai_revenue == pytest.approx(356 * 2 * 3)
    gone = dataclasses.replace(shipped, series={k: v for k, v in shipped.series.items() if k != MULTIPLIERS})
    assert revenue_chain(gone).empty
