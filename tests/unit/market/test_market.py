"""market.py: every listed fault yields its exact message; the shipped data load; add_row is atomic.

Each fault test copies the valid fixture `tests/data/market_faults/base/` into tmp_path, changes one
thing and compares the issues (file name, line, column, message) with the expected ones exactly, so an
extra cascade error or a reworded message fails the test.
"""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import typing
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bubblelens.core.resources import DATA_DIR
from bubblelens.core.errors import DataError
from bubblelens.market.load import (MarketDataError, add_row, describe, load_market, market_fingerprint,
                               validate)
from bubblelens.market.schema import (DIRECTIONS, FREQUENCIES, RELIABILITY_GRADES, TRANSFORMS, UNITS, Issue,
                                      SeriesMetaModel, parse_iso_date)

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "market_faults"
TODAY = date(2025, 12, 1)            # the fixture is valid on this day
SHIPPED_TODAY = date(2026, 12, 6)    # the day the newest shipped sources were read
UNIT_LIST = ", ".join(UNITS)


@pytest.fixture
def d(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "base", tmp_path / "data")
    return tmp_path / "data"


def mk(d: Path, name: str) -> Path:
    return d / "market" / name


def edit(d: Path, name: str, old: str, new: str) -> None:
    p = mk(d, name)
    text = p.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {name}"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


def found(d: Path, today: date = TODAY) -> list[tuple]:
    return [(i.severity, Path(i.file).name, i.line, i.column, i.message) for i in validate(d, today=today)]


def err(name, line, column, message):
    return ("error", name, line, column, message)


def test_fixture_is_valid_and_loads(d):
    assert found(d) == []
    m = load_market(d, today=TODAY)
    alpha, beta = m.series["alpha"], m.series["beta"]
    assert list(alpha.frame.columns) == ["date", "date_text", "value", "value_text", "unit", "source_id",
                                         "note", "label", "bound", "line"]
    # YYYY is a calendar year placed mid-year; YYYY-MM-DD is that day
    assert alpha.frame["date"].tolist() == [pd.Timestamp("2024-07-01"), pd.Timestamp("2025-06-30")]
    assert alpha.frame["value"].tolist() == [10.0, 12.5]
    assert alpha.frame["line"].tolist() == [2, 3]
    assert alpha.frame["label"].tolist() == ["", ""]
    assert beta.frame["bound"].tolist() == ["", "<"]
    assert beta.frame["note"].tolist() == ["note, with a comma", ""]
    assert alpha.source_ids() == ["src_a"]
    assert beta.meta.direction == "down" and beta.meta.file == "market/beta.csv"
    assert m.sources["src_a"].quote == "Alpha rose to 12.5%, up from 10%."
    assert describe(m)[0] == {"series_id": "alpha", "category": "hype", "rows": 2, "first": "2024",
                              "last": "2025-06-30", "sources": 1, "reliability": "medium",
                              "unit": "percent", "title": "Alpha share"}


def test_issue_str_format():
    i = Issue("error", "data/market/x.csv", 4, "date", "'2024-13-45' is not an ISO date (YYYY or YYYY-MM-DD)")
    assert str(i) == "data/market/x.csv:4: column 'date': '2024-13-45' is not an ISO date (YYYY or YYYY-MM-DD)"
    assert str(Issue("error", "f.csv", None, None, "series has no data rows")) == "f.csv: series has no data rows"


def test_parse_iso_date_matches_pandas():
    for text in ["2024-02-29", "1871-01-31", "2026-01-25"]:
        assert pd.Timestamp(parse_iso_date(text)) == pd.Timestamp(text)
    assert parse_iso_date("2023") == date(2023, 7, 1)
    for bad in ["2024-13-45", "2023-02-29", "2024-Q3", "24", "2024-1-5", " 2024", "2024/01/05"]:
        assert parse_iso_date(bad) is None


def test_metadata_literals_match_documented_constants():
    fields = SeriesMetaModel.model_fields
    for name, expected in [("frequency", FREQUENCIES), ("reliability", RELIABILITY_GRADES),
                           ("direction", DIRECTIONS), ("transform", TRANSFORMS)]:
        assert typing.get_args(fields[name].annotation) == expected


HEADER_HINT = "(header must have date,value,unit,source_id,note[,label][,bound])"


@pytest.mark.parametrize("old,new,expected", [
    ("date,value,unit,source_id,note\n", "date,value,unit,source_id\n", []),   # rows fixed below
    ("2025-06-30,", "2024-13-45,", [err("alpha.csv", 3, "date",
                                        "'2024-13-45' is not an ISO date (YYYY or YYYY-MM-DD)")]),
    ("2025-06-30,", "2024-Q3,", [err("alpha.csv", 3, "date", "'2024-Q3' is not an ISO date (YYYY or "
                                     "YYYY-MM-DD); write a quarter as its end date, e.g. 2024-09-30")]),
    (",12.5,", ",about 12,", [err("alpha.csv", 3, "value", "'about 12' is not a number (unit 'percent' "
                                  "is numeric)")]),
    (",12.5,", ",nan,", [err("alpha.csv", 3, "value", "'nan' is not a finite number")]),
    (",12.5,", ",,", [err("alpha.csv", 3, "value", "is empty")]),
    (",12.5,", ", 12.5,", [err("alpha.csv", 3, "value", "' 12.5' has leading or trailing whitespace")]),
    (",12.5,percent,", ",12.5,percentage,", [err("alpha.csv", 3, "unit",
                                                 f"unknown unit 'percentage' (allowed: {UNIT_LIST})")]),
    (",12.5,percent,", ",12.5,count,", [err("alpha.csv", 3, "unit", "unit 'count' differs from the series "
                                            "unit 'percent' in series.toml")]),
    ("2025-06-30,", "2024,", [err("alpha.csv", 3, "date", "duplicate key (date '2024'): first on line 2")]),
    ("src_a,second", "src_z,second", [err("alpha.csv", 3, "source_id",
                                          "source_id 'src_z' is not defined in sources.csv")]),
    ("src_a,second", "src_a ,second", [err("alpha.csv", 3, "source_id", "'src_a ' has stray whitespace "
                                           "(source ids may not contain spaces, tabs or line breaks)")]),
    ("2025-06-30,", "2025-12-02,", [err("alpha.csv", 3, "date", "'2025-12-02' is in the future "
                                        "(today is 2025-12-01)")]),
    ("2025-06-30,", "2026,", [err("alpha.csv", 3, "date", "'2026' is in the future (today is 2025-12-01)")]),
    ("2025-06-30,12.5,percent,src_a,second\n", "2025-06-30,12.5,percent,src_a\n",
     [err("alpha.csv", 3, None, "row has 4 fields, the header has 5")]),
    ("date,value", " date,value", [err("alpha.csv", 1, None, "column name ' date' has stray whitespace")]),
])
def test_series_faults(d, old, new, expected):
    edit(d, "alpha.csv", old, new)
    if not expected:   # missing column: drop the note cell from every row too, so only the header is wrong
        edit(d, "alpha.csv", ",first\n", "\n")
        edit(d, "alpha.csv", ",second\n", "\n")
        expected = [err("alpha.csv", 1, None, f"missing column 'note' {HEADER_HINT}")]
    assert found(d) == expected


def test_extra_column(d):
    p = mk(d, "alpha.csv")
    p.write_text(p.read_text().replace("note\n", "note,comment\n").replace("first\n", "first,\n")
                 .replace("second\n", "second,x\n"))
    assert found(d) == [err("alpha.csv", 1, None, "unexpected column 'comment' (allowed: date, value, unit, "
                            "source_id, note, label, bound)")]


@pytest.mark.parametrize("old,new,expected", [
    ("2025-03-31,y,", "2025-03-31,x,", [err("beta.csv", 3, "date",
                                            "duplicate key (date '2025-03-31', label 'x'): first on line 2")]),
    (",y,", ",y ,", [err("beta.csv", 3, "label", "'y ' has leading or trailing whitespace")]),
    (",2,<,", ",2,<=,", [err("beta.csv", 3, "bound", "'<=' is not a bound (leave it empty, or write '<' "
                             "for an upper bound, '>' for a lower bound)")]),
])
def test_label_and_bound_faults(d, old, new, expected):
    edit(d, "beta.csv", old, new)
    assert found(d) == expected


def test_same_date_different_label_is_not_a_duplicate(d):
    assert [r[1:] for r in found(d)] == []
    assert load_market(d, today=TODAY).series["beta"].frame["date_text"].tolist() == ["2025-03-31"] * 2


@pytest.mark.parametrize("field,old,new,message", [
    ("url", "https://example.org/beta", "", "source 'src_b' has no URL"),
    ("url", "https://example.org/beta", "example.org/beta", "'example.org/beta' is not an http(s) URL (write "
     "'not recorded' if the address of the copy read was not kept)"),
    ("accessed", "unknown,2025-11-30", "unknown,", "source 'src_b' has no access date"),
    ("accessed", "unknown,2025-11-30", "unknown,30/11/2025", "'30/11/2025' is not an ISO date (YYYY-MM-DD)"),
    ("accessed", "unknown,2025-11-30", "unknown,2025-12-24", "'2025-12-24' is in the future "
     "(today is 2025-12-01)"),
    ("quote", "Beta was 1.5 for x and under 2 for y.", "", "source 'src_b' has no quote"),
    ("publisher", "Beta Ltd.", "", "is empty (write 'unknown' or 'not stated' when the page gives none)"),
    ("source_id", "src_b,", "src_b\t,", "'src_b\\t' has stray whitespace (source ids may not contain "
     "spaces, tabs or line breaks)"),
])
def test_source_faults(d, field, old, new, message):
    # an invalid source row still defines its id: beta's rows must not be reported a second time
    edit(d, "sources.csv", old, new)
    assert found(d) == [err("sources.csv", 3, field, message)]


def test_source_defined_twice(d):
    line = mk(d, "sources.csv").read_text().splitlines()[2]
    with mk(d, "sources.csv").open("a") as fh:
        fh.write(line + "\n")
    assert found(d) == [err("sources.csv", 4, "source_id", "source 'src_b' is defined twice (first on line 3)")]


def test_uncited_source_is_a_warning(d):
    with mk(d, "sources.csv").open("a") as fh:
        fh.write("src_c,Gamma,G,https://example.org/g,unknown,2025-11-30,not stated,Gamma.\n")
    assert found(d) == [("warning", "sources.csv", 4, None, "source 'src_c' is not cited by any series row")]
    assert [str(i) for i in load_market(d, today=TODAY).issues] == [
        f"{mk(d, 'sources.csv').resolve().as_posix()}:4: source 'src_c' is not cited by any series row"]


def stale(newest: str, age: int, cadence: str, after: int) -> str:
    return (f"stale: newest value ({newest}) is {age} days old; {cadence} series are stale after {after} days "
            "(one period plus the usual publication lag)")


def test_stale_series_is_a_warning_but_not_for_reference(d):
    later = date(2026, 7, 2)   # alpha's newest value (2025-06-30) is 367 days old; beta's is older
    assert found(d, later) == [
        ("warning", "alpha.csv", 3, None, stale("2025-06-30", 367, "irregular", 365)),
        ("warning", "beta.csv", 2, None, stale("2025-03-31", 458, "irregular", 365))]
    assert found(d, date(2026, 6, 30)) == [
        ("warning", "beta.csv", 2, None, stale("2025-03-31", 456, "irregular", 365))]
    edit(d, "series.toml", 'category = "hype"\nreliability = "high"', 'category = "reference"\n'
         'reliability = "high"')
    assert [r[1] for r in found(d, later)] == ["alpha.csv"]


def test_staleness_follows_each_series_cadence(d):
    # Declared quarterly, alpha may be a quarter plus the reporting lag old (200 days), not a year as the
    # irregular beta may; declared annual, its 2025-06-30 value stays fresh for 550 days.
    edit(d, "series.toml", 'frequency = "irregular"', 'frequency = "quarterly"')      # alpha's table comes first
    assert found(d, date(2026, 1, 16)) == []                                            # 200 days
    assert found(d, date(2026, 1, 17)) == [("warning", "alpha.csv", 3, None, stale("2025-06-30", 201, "quarterly", 200))]
    edit(d, "series.toml", 'frequency = "quarterly"', 'frequency = "annual"')
    assert found(d, date(2026, 7, 2)) == [("warning", "beta.csv", 2, None, stale("2025-03-31", 458, "irregular", 365))]


def test_calendar_year_is_stale_only_after_its_end(d):
    # "2024" covers the whole year: it is judged from 2024-12-31, not from its mid-year plotting date
    edit(d, "alpha.csv", "2025-06-30,12.5,percent,src_a,second\n", "")
    assert [r[4] for r in found(d, date(2025, 12, 31)) if r[1] == "alpha.csv"] == []
    assert [r[4] for r in found(d, date(2026, 1, 1)) if r[1] == "alpha.csv"] == [stale("2024", 366, "irregular", 365)]


def test_empty_series_and_empty_file(d):
    mk(d, "alpha.csv").write_text("date,value,unit,source_id,note\n")
    assert found(d) == [err("alpha.csv", None, None, "series has no data rows"),
                        ("warning", "sources.csv", 2, None, "source 'src_a' is not cited by any series row")]
    mk(d, "alpha.csv").write_bytes(b"")
    assert found(d)[0] == err("alpha.csv", None, None, "file is empty (no header line)")


def test_bom_is_an_error(d):
    p = mk(d, "alpha.csv")
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert found(d) == [err("alpha.csv", 1, None, "file starts with a byte-order mark (BOM); save it as "
                            "UTF-8 without BOM")]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\r", "\x7f", "\x85"])
def test_control_characters_in_a_cell_are_an_error(d, char):
    """NUL, escape, a carriage return inside a quoted cell, DEL, a C1 control: refused with file, line and
    column, never loaded."""
    edit(d, "alpha.csv", "second", f'"sec{char}ond"')
    assert found(d) == [err("alpha.csv", 3, "note", f"cell contains the control character U+{ord(char):04X} "
                            "(NUL, escape, carriage return, ...): it would reach the report; remove it")]
    with pytest.raises(DataError):
        load_market(d, today=TODAY)


def test_tab_and_quoted_newline_stay_allowed(d):
    edit(d, "alpha.csv", "second", '"sec\tond, over\ntwo lines"')
    assert found(d) == []


def test_non_utf8_bytes_are_an_error(d):
    p = mk(d, "alpha.csv")
    raw = p.read_bytes().replace(b"second", "s\u00e9cond".encode("latin-1"))   # a Latin-1 export
    p.write_bytes(raw)
    offset = raw.index(b"\xe9")
    assert found(d) == [err("alpha.csv", 3, None, f"byte 0xe9 at offset {offset} is not valid UTF-8 "
                            "(save the file as UTF-8)")]


def test_stray_whitespace_in_series_id(d):
    mk(d, "alpha.csv").rename(mk(d, "alpha .csv"))
    got = found(d)
    assert err("alpha .csv", None, None, "series id (the file name): 'alpha ' has stray whitespace (series "
               "ids may not contain spaces, tabs or line breaks)") in got
    assert err("alpha .csv", None, None, "series 'alpha ' has no [alpha ] table in series.toml") in got
    assert err("series.toml", None, None, "[alpha] describes a series with no file market/alpha.csv") in got


def test_metadata_faults(d):
    edit(d, "series.toml", 'direction = "down"', 'direction = "sideways"')
    edit(d, "series.toml", 'category = "hype"\nreliability = "medium"', 'category = "vibes"\n'
         'reliability = "medium"')
    got = found(d)
    assert got[0] == err("series.toml", 1, "category", "[alpha] unknown category 'vibes' (defined in "
                         "categories.toml: hype, reference)")
    assert got[1] == err("series.toml", 11, "direction", "[beta] Input should be 'up' or 'down'")
    # beta's metadata is invalid, so its CSV is also reported as undescribed
    assert got[2] == err("beta.csv", None, None, "series 'beta' has no [beta] table in series.toml")


def test_invalid_toml_names_the_line(d):
    edit(d, "series.toml", 'title = "Beta amounts"', 'title = "Beta amounts')
    assert found(d)[0][:4] == ("error", "series.toml", 12, None)


def test_load_market_raises_data_error_with_first_error_and_count(d):
    edit(d, "alpha.csv", "2025-06-30,", "2024-13-45,")
    edit(d, "beta.csv", ",y,", ",y ,")
    with pytest.raises(DataError) as info:
        load_market(d, today=TODAY)
    assert info.value.exit_code == 3
    assert str(info.value).endswith("alpha.csv:3: column 'date': '2024-13-45' is not an ISO date "
                                    "(YYYY or YYYY-MM-DD) (and 1 more errors; run `bubblelens data check`)")
    assert len(info.value.issues) == 2


def test_fingerprint_is_sha256_of_names_and_bytes(d):
    root = d / "market"
    h = hashlib.sha256()
    for p in sorted(root.iterdir()):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    assert market_fingerprint(d) == h.hexdigest() == load_market(d, today=TODAY).fingerprint()
    (root / ".alpha.csv.tmp").write_text("junk")        # a stray temp file does not count
    assert market_fingerprint(d) == h.hexdigest()
    edit(d, "alpha.csv", "second", "Second")
    assert market_fingerprint(d) != h.hexdigest()


# --- add_row -------------------------------------------------------------------------------------

def test_add_row_appends_and_revalidates(d):
    before = mk(d, "alpha.csv").read_bytes()
    add_row(d, "alpha", "2025-09-30", "13", "src_a", note="third, quoted", today=TODAY)
    after = mk(d, "alpha.csv").read_bytes()
    assert after == before + b'2025-09-30,13,percent,src_a,"third, quoted"\n'   # unit from series.toml
    assert load_market(d, today=TODAY).series["alpha"].frame["value"].tolist() == [10.0, 12.5, 13.0]
    add_row(d, "beta", "2025-06-30", 3.25, "src_b", label="x", today=TODAY)
    assert mk(d, "beta.csv").read_text().endswith("\n2025-06-30,x,3.25,,USD_billion,src_b,\n")
    assert sorted(p.name for p in (d / "market").iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("kwargs,column,message", [
    (dict(date="2024-13-45"), "date", "'2024-13-45' is not an ISO date (YYYY or YYYY-MM-DD)"),
    (dict(source_id="nope"), "source_id", "source_id 'nope' is not defined in sources.csv"),
    (dict(date="2024"), "date", "duplicate key (date '2024'): first on line 2"),
    (dict(value="n/a"), "value", "'n/a' is not a number (unit 'percent' is numeric)"),
    (dict(unit="count"), "unit", "unit 'count' differs from the series unit 'percent' in series.toml"),
    (dict(date="2026-01-01"), "date", "'2026-01-01' is in the future (today is 2025-12-01)"),
])
def test_add_row_refuses_and_leaves_file_untouched(d, kwargs, column, message):
    before = mk(d, "alpha.csv").read_bytes()
    args = dict(date="2025-09-30", value="13", source_id="src_a") | kwargs
    with pytest.raises(MarketDataError) as info:
        add_row(d, "alpha", today=TODAY, **args)
    assert info.value.exit_code == 3
    assert [(Path(i.file).name, i.line, i.column, i.message) for i in info.value.issues] == [
        ("alpha.csv", 4, column, message)]
    assert mk(d, "alpha.csv").read_bytes() == before
    assert [p.name for p in (d / "market").iterdir() if p.name.startswith(".")] == []


def test_add_row_unknown_series_and_label_without_column(d):
    with pytest.raises(DataError, match="unknown series 'gamma'"):
        add_row(d, "gamma", "2025", "1", "src_a", today=TODAY)
    with pytest.raises(DataError, match="has no 'label' column"):
        add_row(d, "alpha", "2025-09-30", "1", "src_a", label="x", today=TODAY)


def test_add_row_is_atomic_when_the_write_fails(d, monkeypatch):
    before = mk(d, "alpha.csv").read_bytes()

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        add_row(d, "alpha", "2025-09-30", "13", "src_a", today=TODAY)
    assert mk(d, "alpha.csv").read_bytes() == before
    assert [p.name for p in (d / "market").iterdir() if p.name.startswith(".")] == []


def test_add_row_keeps_crlf_line_endings(d):
    p = mk(d, "alpha.csv")
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    add_row(d, "alpha", "2025-09-30", "13", "src_a", today=TODAY)
    assert p.read_bytes().endswith(b"second\r\n2025-09-30,13,percent,src_a,\r\n")


# --- the shipped data ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load_market(DATA_DIR, today=SHIPPED_TODAY)


def test_shipped_data_has_no_errors_and_the_documented_warnings(shipped):
    issues = validate(DATA_DIR, today=SHIPPED_TODAY)
    assert [i for i in issues if i.severity == "error"] == []
    uncited = {i.message.split("'")[1] for i in issues if "not cited" in i.message}
    # data/market/README.md names the corroborating sources no row cites: five of the seed (the sixth,
    # pivot_spglobal_2025, now gives the 2025 S&P Global sample size), and the 2026-12 additions' sources
    # of quarter-end dates, scope and basis notes and survey fieldwork (ADDITIONS-2026-12.md)
    seed = {"aranca_genai_2023", "gartner_hc2024_ai", "gartner_spend2025", "gartner_agentic_2025_b", "gwern_gpt4_date"}
    added = uncited - seed
    assert seed <= uncited and len(added) == 21
    assert all(s.startswith(("sec", "anandtech_", "crn_", "nextplatform_", "pcr_", "sa_", "zdnet_", "lucdeflem_",
                             "philstartech_", "pmwares_", "rafaeldavid_", "spglobal_")) for s in added)
    assert len(shipped.sources) == 151        # 136, then 15 with the 2026 evidence (data/market/README.md)
    # two McKinsey methodology passages were read from GitHub copies whose repository was not kept
    no_url = {i.message.split("'")[1] for i in issues if i.column == "url"}
    assert no_url == {"github_mck_mar2025_method", "github_mck_nov2025_method"}


def test_shipped_categories_and_directions(shipped):
    cat = {sid: s.meta.category for sid, s in shipped.series.items()}
    assert cat["nvidia_datacenter_revenue"] == cat["factset_sp500_ai_earnings_calls"] == "hype"
    assert cat["gartner_hype_cycle_genai"] == cat["ai_index_genai_private_investment"] == "hype"
    assert cat["chatgpt_weekly_active_users"] == cat["mckinsey_genai_regular_use"] == "adoption"
    assert cat["mmlu_sota"] == cat["llm_inference_price_gpt35_level"] == cat["ai_trend_rates_epoch"] == "capability"
    assert cat["frontier_training_cost_usd"] == "cost"
    assert cat["sp_global_ai_initiative_abandonment"] == "disillusionment"
    assert cat["sp500_pd_ratio_psy2015"] == "reference"
    assert shipped.series["llm_inference_price_gpt35_level"].meta.direction == "down"
    mmlu = shipped.series["mmlu_sota"]
    assert mmlu.meta.transform == "error_rate"
    assert mmlu.values_for_analysis().round(6).tolist() == [56.1, 32.5, 13.6, 10.0, 7.7]
    hype = shipped.series["gartner_hype_cycle_genai"].frame
    assert hype["value"].isna().all() and hype["value_text"].iloc[0] == "peak_of_inflated_expectations"
    assert all(s.meta.classification_note for s in shipped.series.values())


def test_shipped_sp500_reference_equals_psy2015_sample(shipped):
    with (Path(__file__).resolve().parents[2] / "data" / "psy2015_sp500_pd.csv").open() as fh:
        ref = [r for r in csv.DictReader(fh) if r["in_psy2015_sample"] == "1"]
    frame = shipped.series["sp500_pd_ratio_psy2015"].frame
    assert len(frame) == len(ref) == 1680
    assert frame["value_text"].tolist() == [r["pd_ratio"] for r in ref]          # exact text, no rounding
    months = pd.PeriodIndex([r["month"] for r in ref], freq="M")
    assert (frame["date"] == months.to_timestamp(how="end").normalize()).all()   # month-end dates
    assert frame["unit"].eq("ratio").all() and frame["source_id"].eq("psy2015_shiller_sp500").all()
    src = shipped.sources["psy2015_shiller_sp500"]
    assert "January 1871 to December 2010" in src.quote and "shiller/data.htm" in src.title


def test_shipped_values_unchanged_from_seed(shipped):
    # spot checks against data/market/README.md's table
    nv = shipped.series["nvidia_datacenter_revenue"].frame
    assert len(nv) == 41 and nv["value"].iloc[-1] == 89.0 and nv["date_text"].iloc[-1] == "2026-07-26"
    assert nv.set_index("date_text").loc["2026-01-25", "value"] == 62.3
    assert nv["date_text"].iloc[0] == "2016-05-01" and nv["date_text"].iloc[1] == "2016-10-30"   # the gap
    total = shipped.series["nvidia_quarterly_revenue"].frame
    assert len(total) == 49 and total["date_text"].iloc[0] == "2014-07-27" and total["value"].iloc[-1] == 96.2
    signals = shipped.series["genai_disillusionment_signals"].frame.set_index("label")
    assert signals.loc["ai_leaders_reporting_ceo_happy_with_roi", "bound"] == "<"
    assert signals.loc["gartner_predicted_agentic_ai_cancellation", "bound"] == ">"


def test_one_function_decides_which_way_is_more(shipped):
    """The MMLU error rate and a falling price grow as "more" in the growth table, its chart and the
    claims alike: all three read Series.more_is_reciprocal (issue 12's direction bug)."""
    from bubblelens.analysis.growth import growth_table
    from bubblelens.claims.market_statistics import fit_growth
    from bubblelens.claims.kinds import Evidence

    mmlu, price = shipped.series["mmlu_sota"], shipped.series["llm_inference_price_gpt35_level"]
    assert mmlu.more_is_reciprocal and price.more_is_reciprocal
    assert not shipped.series["nvidia_quarterly_revenue"].more_is_reciprocal
    assert (mmlu.toward_more() == 1 / (100 - mmlu.frame["value"])).all()
    table = growth_table(shipped).set_index("series_id")
    ev = Evidence(runs=pd.DataFrame(), sweep=pd.DataFrame(), market=shipped, profile="quick")
    for sid in ("mmlu_sota", "llm_inference_price_gpt35_level"):
        _, row = fit_growth(ev, sid, 0.95)
        assert table.loc[sid, "annual_factor"] > 1 and row["factor"] == pytest.approx(table.loc[sid, "annual_factor"])
        assert "inverted" in table.loc[sid, "measure"]


def test_a_score_analysed_as_odds_must_stay_inside_0_and_100(d):
    # at 100 % the odds are infinite: the series would silently leave every fit, so it is an error
    edit(d, "series.toml", 'direction = "up"', 'direction = "up"\ntransform = "odds"')      # alpha's table
    assert found(d) == []
    edit(d, "alpha.csv", ",12.5,percent,", ",100,percent,")
    assert found(d) == [err("alpha.csv", 3, "value", "100 is not strictly between 0 and 100, which a score "
                            "analysed with transform = 'odds' must be")]
