"""`bubblelens data import epoch-benchmarks`: Epoch's hub CSVs (or its zip) become record-setting series.

The staged frontier CSVs (tests/data/imports/staged) were selected from the same hub files by the same
rule (running maximum of mean_score by release date, the best first on a date) and rounded to 4 decimals:
the import must give the same dates and models, values within 1e-4.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from bubblelens.external.import_epoch import BENCHMARKS
from bubblelens.market.load import load_market, validate

from import_helpers import ACCESSED, IMPORTS, STAGED, TODAY, csv_rows, digest, fields, history

FILES = {stem: IMPORTS / f"epoch_{stem}.csv" for stem in BENCHMARKS}


def assert_equals_staged(data: Path, series_id: str, source_id: str) -> None:
    staged = csv_rows(STAGED / f"{series_id}.csv")
    ours = csv_rows(data / "market" / f"{series_id}.csv")
    assert [(r["date"], r["label"]) for r in ours] == [(r["date"], fields(r["note"])["record-setting model"])
                                                       for r in staged]
    for a, b in zip(ours, staged):
        assert abs(float(a["value"]) - float(b["value"])) <= 1e-4
        assert (a["unit"], a["source_id"]) == ("percent", source_id)
        assert fields(a["note"])["org"] == fields(b["note"])["org"]
        assert a["note"].endswith("date = model release date; running maximum selected by bubblelens")


@pytest.mark.parametrize("stem", list(BENCHMARKS))
def test_each_hub_csv_reproduces_the_staged_frontier(data_copy, cli, stem):
    series_id = BENCHMARKS[stem][0]
    code, out, err = cli("data", "import", "epoch-benchmarks", FILES[stem], "--data", data_copy, "--accessed", ACCESSED)
    assert (code, err) == (0, ""), err
    sid = f"epoch_{stem}_{ACCESSED}"
    assert_equals_staged(data_copy, series_id, sid)
    assert [i for i in validate(data_copy, today=TODAY) if i.severity == "error"] == []
    market = load_market(data_copy, today=TODAY)
    meta, source = market.series[series_id].meta, market.sources[sid]
    assert (meta.unit, meta.transform, meta.direction, meta.category) == ("percent", "odds", "up", "capability")
    assert (source.publisher, source.licence, source.url) == ("Epoch AI", "CC BY 4.0",
                                                              "https://epoch.ai/data/benchmark_data.zip")
    newest = csv_rows(data_copy / "market" / f"{series_id}.csv")[-1]["label"]
    assert source.quote.startswith(f"epoch_{stem}.csv: Model version,mean_score,Best score (across scorers),")
    assert f" [...] {newest}," in source.quote
    assert history(data_copy)[-1]["counts"][series_id]["added"] == len(csv_rows(STAGED / f"{series_id}.csv"))


def test_the_hub_zip_imports_every_known_benchmark(tmp_path, data_copy, cli):
    archive = tmp_path / "benchmark_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for stem, path in FILES.items():
            z.write(path, f"benchmark_data/{stem}.csv")
        z.writestr("benchmark_data/webdev_arena_external.csv", "Model version,Arena Score\nx,1\n")   # not imported
        z.writestr("README.md", "Epoch AI benchmarking hub\n")
    code, out, err = cli("data", "import", "epoch-benchmarks", archive, "--data", data_copy, "--accessed", ACCESSED,
                         "--source-id", "epoch_hub", "--url", "https://epoch.ai/benchmarks")
    assert (code, err) == (0, ""), err
    for stem, (series_id, _) in BENCHMARKS.items():
        assert_equals_staged(data_copy, series_id, "epoch_hub")
    source = load_market(data_copy, today=TODAY).sources["epoch_hub"]
    assert source.url == "https://epoch.ai/benchmarks" and "GPQA Diamond, MATH Level 5, SWE-bench Verified" in source.title
    assert source.quote.count(" [...] ") == 5 and "benchmark_data/swe_bench_verified.csv: Model version," in source.quote
    assert set(history(data_copy)[-1]["counts"]) == {s for s, _ in BENCHMARKS.values()}


def test_same_file_twice_and_one_changed_score(tmp_path, data_copy, cli):
    swe = FILES["swe_bench_verified"]
    assert cli("data", "import", "epoch-benchmarks", swe, "--data", data_copy, "--accessed", ACCESSED)[0] == 0
    before = digest(data_copy / "market")
    code, out, _ = cli("data", "import", "epoch-benchmarks", swe, "--data", data_copy, "--accessed", ACCESSED)
    assert code == 0 and "8 -> 8 rows; 0 added, 0 removed, 0 values revised" in out
    assert digest(data_copy / "market") == before
    edited = tmp_path / "swe_bench_verified.csv"
    text = swe.read_text()
    assert text.count("claude-opus-4-6,0.7871900826446281,") == 1
    edited.write_text(text.replace("claude-opus-4-6,0.7871900826446281,", "claude-opus-4-6,0.79,"))
    code, out, _ = cli("data", "import", "epoch-benchmarks", edited, "--data", data_copy, "--accessed", ACCESSED,
                       "--source-id", f"epoch_swe_bench_verified_{ACCESSED}")
    assert code == 0 and "8 -> 8 rows; 0 added, 0 removed, 1 values revised, 0 filled, 0 emptied" in out
    assert "    2026-02-05 claude-opus-4-6: 78.719008 -> 79 (+0.280992, +0.357%)" in out
    [r] = history(data_copy)[-1]["revisions"]
    assert (r["row"], r["old"], r["new"]) == ("2026-02-05 claude-opus-4-6", 78.719008, 79.0)


def _line_of(text: str, prefix: str) -> int:
    return next(i for i, line in enumerate(io.StringIO(text, newline="").readlines(), start=1) if line.startswith(prefix))


MATH = FILES["math_level_5"].read_text()
HAIKU = "claude-haiku-4-5-20251001_32K,0.9636087945413192,"          # a row after a multi-line cell


@pytest.mark.parametrize("name,text,message", [
    ("epoch_gpqa_diamond.csv", FILES["gpqa_diamond"].read_text().replace("Model version,mean_score,", "Model version,score,", 1),
     "epoch_gpqa_diamond.csv:1: missing column 'mean_score' (an Epoch hub CSV has Model version, mean_score, "
     "Release date)"),
    ("epoch_gpqa_diamond.csv", FILES["gpqa_diamond"].read_text().replace(",2026-03-17,,,", ",2026-17-03,,,", 1),
     "epoch_gpqa_diamond.csv:2: column 'Release date': '2026-17-03' is not an ISO date (YYYY-MM-DD)"),
    ("math_level_5.csv", MATH.replace(HAIKU, "claude-haiku-4-5-20251001_32K,n/a,"),
     f"math_level_5.csv:{_line_of(MATH, HAIKU)}: column 'mean_score': 'n/a' is not a number"),
    ("math_level_5.csv", MATH.replace(HAIKU, "claude-haiku-4-5-20251001_32K,96.4,"),
     f"math_level_5.csv:{_line_of(MATH, HAIKU)}: column 'mean_score': '96.4' is not a fraction between 0 and 1"),
    ("math_level_5.csv", MATH.replace(HAIKU, ",0.9636087945413192,"),
     f"math_level_5.csv:{_line_of(MATH, HAIKU)}: column 'Model version': is empty (every scored row names a model)"),
    ("gpqa.csv", FILES["gpqa_diamond"].read_text(), "gpqa.csv: unknown Epoch benchmark file; the file name must be "
     "one of gpqa_diamond.csv, math_level_5.csv, swe_bench_verified.csv"),
    ("benchmark_data.zip", "PK\x03\x04 this is not a zip", "benchmark_data.zip: not a readable zip file ("),
])
def test_bad_input_is_one_line_exit_3_and_nothing_written(tmp_path, data_copy, cli, name, text, message):
    bad = tmp_path / name
    bad.write_text(text)
    before = digest(data_copy)
    code, out, err = cli("data", "import", "epoch-benchmarks", bad, "--data", data_copy)
    assert (code, out) == (3, "")
    assert err.startswith(f"bubblelens: error: {message}") and len(err.splitlines()) == 1, err
    assert digest(data_copy) == before


def test_a_zip_without_known_benchmarks(tmp_path, data_copy, cli):
    archive = tmp_path / "benchmark_data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("benchmark_data/webdev_arena_external.csv", "Model version,Arena Score\nx,1\n")
    code, _, err = cli("data", "import", "epoch-benchmarks", archive, "--data", data_copy)
    assert code == 3 and "the zip holds none of the benchmarks bubblelens imports" in err


def test_dry_run_writes_nothing(data_copy, cli):
    before = digest(data_copy)
    code, out, _ = cli("data", "import", "epoch-benchmarks", FILES["gpqa_diamond"], "--data", data_copy, "--dry-run")
    assert code == 0 and "0 -> 17 rows; 17 added" in out and "dry run: nothing written (an import would write market/epoch_gpqa_diamond_frontier.csv" in out
    assert digest(data_copy) == before
