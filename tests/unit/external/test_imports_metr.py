"""`bubblelens data import metr`: METR's YAML files become the frontier time-horizon series.

The staged CSVs (tests/data/imports/staged) were built from the same two YAML files keeping every result.
The import must equal them after exactly these stated differences: results measured on another suite
(three old models in the v1.1 file) and results not marked is_sota are left out; the v1.1 CSV's one row
quoted from a later copy (source METR_TH11_LATER_QUOTE) is not in the file; the model name moves from the
note to the `label` column; the note wording differs (same interval).
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from bubblelens.external.import_metr import DOUBLING_SERIES
from bubblelens.market.load import add_row, load_market, validate

from import_helpers import ACCESSED, IMPORTS, STAGED, TODAY, csv_rows, digest, fields, history

V11, V10 = IMPORTS / "benchmark_results_1_1.yaml", IMPORTS / "benchmark_results_1_0.yaml"
S11, S10 = "metr_time_horizon_p50_v1_1", "metr_time_horizon_p50_v1_0"


def num(text: str) -> float:
    return float(text)


def check_against_staged(data: Path, series: str, suite: str, source_id: str) -> set[str]:
    """Our rows equal the staged rows of `suite` marked is_sota, from the mirrored file; returns the labels
    of the staged rows left out."""
    staged = csv_rows(STAGED / f"{series}.csv")
    expected = {fields(r["note"])["model"]: r for r in staged if r["source_id"] != "METR_TH11_LATER_QUOTE"
                and fields(r["note"])["row_benchmark"] == suite and fields(r["note"])["is_sota"] == "True"}
    ours = csv_rows(data / "market" / f"{series}.csv")
    assert list(ours[0]) == ["date", "value", "unit", "source_id", "note", "label"]
    assert {r["label"] for r in ours} == set(expected)
    for r in ours:
        e, note = expected[r["label"]], fields(r["note"])
        assert (r["date"], num(r["value"]), r["unit"], r["source_id"]) == (e["date"], num(e["value"]), "minutes",
                                                                          source_id)
        assert (num(note["ci_low"]), num(note["ci_high"])) == (num(fields(e["note"])["ci_low"]),
                                                               num(fields(e["note"])["ci_high"]))
        assert note["suite"] == suite and r["note"].endswith("date = model release date")
    return {fields(r["note"])["model"] for r in staged} - set(expected)


def test_v1_1_equals_the_staged_rows_of_its_suite_and_frontier(data_copy, cli):
    code, out, err = cli("data", "import", "metr", V11, "--data", data_copy, "--accessed", ACCESSED)
    assert (code, err) == (0, ""), err
    sid = f"metr_horizon_v1_1_{ACCESSED}"
    left_out = check_against_staged(data_copy, S11, "METR-Horizon-v1.1", sid)
    assert left_out == {"gpt2", "davinci_002", "gpt_3_5_turbo_instruct",                     # suite v1.0
                        "claude_3_opus_inspect", "gpt_4_turbo_inspect", "claude_4_opus_inspect",  # not SOTA
                        "claude_4_1_opus_inspect", "gpt_5_1_codex_max_inspect", "gpt_5_3_codex", "gpt_5_4_xhigh",
                        "claude_mythos_preview_early_inspect"}                                 # later quote
    assert "3 result(s) measured on another suite (davinci_002, gpt2, gpt_3_5_turbo_instruct)" in out
    assert [i for i in validate(data_copy, today=TODAY) if i.severity == "error"] == []
    market = load_market(data_copy, today=TODAY)
    source = market.sources[sid]
    assert (source.publisher, source.url, source.published, source.accessed, source.licence) == (
        "METR", "https://metr.org/assets/benchmark_results_1_1.yaml", "unknown", ACCESSED, "not stated")
    assert source.quote == ("benchmark_name: METR-Horizon-v1.1 [...] doubling_time_in_days: all_time_stitched: "
                            "point_estimate: 187.778 from_2023_on: ci_high: 157.336 ci_low: 105.26 "
                            "point_estimate: 128.744")
    meta = market.series[S11].meta
    assert (meta.unit, meta.category, meta.frequency, meta.direction) == ("minutes", "capability", "irregular", "up")
    assert "Measurements above 16 hrs are unreliable with our current task suite" in meta.reliability_note
    [record] = history(data_copy)
    assert record["importer"] == "metr" and record["input"]["file"] == "benchmark_results_1_1.yaml"
    assert set(record["targets"]) == {f"market/{S11}.csv", f"market/{DOUBLING_SERIES}.csv", "market/sources.csv",
                                      "market/series.toml"}
    assert record["counts"][S11]["added"] == 14


def test_v1_0_equals_the_staged_rows_and_an_existing_source_is_left_alone(data_copy, cli):
    sid = csv_rows(data_copy / "market" / "sources.csv")[0]["source_id"]
    sources = (data_copy / "market" / "sources.csv").read_bytes()
    doubling = digest(data_copy / "market").get(f"{DOUBLING_SERIES}.csv")
    code, out, _ = cli("data", "import", "metr", V10, "--data", data_copy, "--source-id", sid)
    assert code == 0 and f"sources.csv: {sid} already defined, left as it is" in out
    assert (data_copy / "market" / "sources.csv").read_bytes() == sources
    left_out = check_against_staged(data_copy, S10, "METR-Horizon-v1", sid)
    assert len(left_out) == 16 and "o4-mini" in left_out and "gpt_5" not in left_out
    assert f"no doubling_time_in_days in the file: {DOUBLING_SERIES} left as it is" in out
    assert digest(data_copy / "market").get(f"{DOUBLING_SERIES}.csv") == doubling      # untouched (or absent)


def test_published_doubling_times(data_copy, cli):
    assert cli("data", "import", "metr", V11, "--data", data_copy)[0] == 0
    rows = csv_rows(data_copy / "market" / f"{DOUBLING_SERIES}.csv")
    ours = [(r["label"], num(r["value"]), r["unit"], r["date"], fields(r["note"])["ci_low"], fields(r["note"])["ci_high"])
            for r in rows if r["label"].startswith("METR-Horizon-v1.1 ")]
    assert ours == [("METR-Horizon-v1.1 all_time_stitched", 187.778, "days", "2026-03-05", "not given", "not given"),
                    ("METR-Horizon-v1.1 from_2023_on", 128.744, "days", "2026-03-05", "105.26", "157.336")]


def test_reimport_keeps_other_sources_and_changes_nothing(data_copy, cli):
    assert cli("data", "import", "metr", V11, "--data", data_copy, "--accessed", ACCESSED)[0] == 0
    # a value quoted elsewhere for a model the file does not list (the staged v1.1 CSV has this one)
    other = csv_rows(data_copy / "market" / "sources.csv")[0]["source_id"]
    add_row(data_copy, S11, "2026-04-07", "1044.780145", other, note="quoted from a later copy",
            label="claude_mythos_preview_early_inspect", today=TODAY)
    before = digest(data_copy / "market")
    code, out, _ = cli("data", "import", "metr", V11, "--data", data_copy, "--accessed", ACCESSED)
    assert code == 0
    assert f"{S11} (market/{S11}.csv): 15 -> 15 rows; 0 added, 0 removed, 0 values revised" in out
    assert "no file changed" in out and digest(data_copy / "market") == before
    assert history(data_copy)[-1]["revisions"] == [] and history(data_copy)[-1]["targets"] == []


def test_one_changed_estimate_is_exactly_one_revision(tmp_path, data_copy, cli):
    assert cli("data", "import", "metr", V11, "--data", data_copy, "--accessed", ACCESSED)[0] == 0
    edited = tmp_path / "benchmark_results_1_1.yaml"
    text = V11.read_text()
    assert text.count("estimate: 718.80683\n") == 1
    edited.write_text(text.replace("estimate: 718.80683\n", "estimate: 700.5\n"))
    code, out, _ = cli("data", "import", "metr", edited, "--data", data_copy, "--accessed", ACCESSED)
    assert code == 0 and "14 -> 14 rows; 0 added, 0 removed, 1 values revised, 0 filled, 0 emptied" in out
    assert "    2026-02-05 claude_opus_4_6_inspect: 718.80683 -> 700.5 (-18.30683, -2.547%)" in out
    [r] = history(data_copy)[-1]["revisions"]
    assert (r["target"], r["row"], r["column"], r["old"], r["new"]) == (
        S11, "2026-02-05 claude_opus_4_6_inspect", "value", 718.80683, 700.5)
    assert math.isclose(r["relative"], (700.5 - 718.80683) / 718.80683)


def test_a_model_that_lost_its_frontier_mark_leaves_the_series(tmp_path, data_copy, cli):
    assert cli("data", "import", "metr", V11, "--data", data_copy, "--accessed", ACCESSED)[0] == 0
    edited = tmp_path / "benchmark_results_1_1.yaml"
    lines = V11.read_text().splitlines(keepends=True)
    at = lines.index("  o3_inspect:\n")
    sota = next(i for i in range(at, at + 10) if lines[i].strip() == "is_sota: true")
    lines[sota] = lines[sota].replace("true", "false")
    edited.write_text("".join(lines))
    code, out, _ = cli("data", "import", "metr", edited, "--data", data_copy, "--accessed", ACCESSED)
    assert code == 0 and "14 -> 13 rows; 0 added, 1 removed, 0 values revised" in out
    assert history(data_copy)[-1]["removed"] == {S11: ["2025-04-16 o3_inspect"]}


def drop_line(text: str, number: int) -> str:
    lines = text.splitlines(keepends=True)
    del lines[number - 1]
    return "".join(lines)


@pytest.mark.parametrize("edit,message", [
    (lambda t: drop_line(t, 172),          # claude_opus_4_6_inspect's release_date
     "benchmark_results_1_1.yaml:158: key 'results.claude_opus_4_6_inspect.release_date': is missing"),
    (lambda t: drop_line(t, 163),          # its is_sota
     "benchmark_results_1_1.yaml:160: key 'results.claude_opus_4_6_inspect.metrics.is_sota': is missing"),
    (lambda t: t.replace("estimate: 718.80683\n", "estimate: about 700\n"),
     "benchmark_results_1_1.yaml:167: key 'results.claude_opus_4_6_inspect.metrics.p50_horizon_length.estimate': "
     "'about 700' is not a number"),
    (lambda t: t.replace("estimate: 718.80683\n", "estimate: -1\n"),
     "benchmark_results_1_1.yaml:167: key 'results.claude_opus_4_6_inspect.metrics.p50_horizon_length.estimate': "
     "-1 must be a positive finite number"),
    (lambda t: t.replace("    release_date: 2023-03-14\n", "    release_date: 2023-13-14\n"),
     "benchmark_results_1_1.yaml:301: key 'results.gpt_4.release_date': '2023-13-14' is not a date (YYYY-MM-DD)"),
    (lambda t: t.replace("benchmark_name: METR-Horizon-v1.1\ndoubling", "benchmark_name: HCAST\ndoubling"),
     "benchmark_results_1_1.yaml:1: key 'benchmark_name': 'HCAST' is not a METR time-horizon suite"),
    (lambda t: "date,value\n2024-01-01,3\n",
     "benchmark_results_1_1.yaml: not a METR benchmark-results file (it needs a top-level benchmark_name"),
    (lambda t: t.replace("  gpt_4:\n", "  gpt_4: [unclosed\n"),
     "benchmark_results_1_1.yaml:288: not valid YAML ("),
])
def test_bad_yaml_is_one_line_exit_3_and_nothing_written(tmp_path, data_copy, cli, edit, message):
    bad = tmp_path / "benchmark_results_1_1.yaml"
    bad.write_text(edit(V11.read_text()))
    assert bad.read_text() != V11.read_text()
    before = digest(data_copy)
    code, out, err = cli("data", "import", "metr", bad, "--data", data_copy)
    assert (code, out) == (3, "")
    assert err.startswith(f"bubblelens: error: {message}") and len(err.splitlines()) == 1, err
    assert digest(data_copy) == before


def test_an_import_the_folder_would_not_validate_after_writes_nothing(data_copy, cli, monkeypatch):
    # an analyst's own table for the series says percent: the imported minutes would contradict it
    meta = data_copy / "market" / "series.toml"
    meta.write_text(meta.read_text() + f"""
[{S11}]
title = "METR time horizon"
description = "Analyst's own table."
unit = "percent"
frequency = "irregular"
category = "capability"
reliability = "medium"
direction = "up"
classification_note = "Capability."
""")
    monkeypatch.chdir(data_copy.parent)
    before = digest(data_copy)
    code, out, err = cli("data", "import", "metr", V11, "--data", "data")
    assert (code, out) == (3, "") and len(err.splitlines()) == 1
    assert err.startswith("bubblelens: error: benchmark_results_1_1.yaml: importing it would leave invalid data, "
                          f"so nothing was written: data/market/{S11}.csv:2: column 'unit': unit 'minutes' differs "
                          "from the series unit 'percent' in series.toml (and 13 more)"), err
    assert digest(data_copy) == before


def test_dry_run_writes_nothing(data_copy, cli):
    before = digest(data_copy)
    code, out, _ = cli("data", "import", "metr", V11, "--data", data_copy, "--dry-run")
    assert code == 0 and "0 -> 14 rows; 14 added" in out and "dry run: nothing written (an import would write market/metr_time_horizon_p50_v1_1.csv" in out
    assert digest(data_copy) == before
