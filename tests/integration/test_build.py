"""The smoke build end to end, through the CLI as a user runs it: files, PDF content, cache, exit codes.
The build itself is made once per session (smoke_build.py); the slowest rebuilds, on other backends and
`claims check`, are in test_backends_and_claims_check.py so that the two test workers share them."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys

import pytest
from pypdf import PdfReader

from bubblelens.core.resources import DATA_DIR
from smoke_build import pdf_text, run_cli

# Section titles the report must have (update here when the report is restructured).
SECTIONS = ["Executive summary", "The thesis and how it is tested", "Models and training", "Failure modes",
            "Compute and cost", "Market sentiment", "Hype versus capability", "Bubble tests", "Limitations",
            "Methods and errata"]
CHART_IDS = ["fig-sample-grids", "fig-training-losses", "fig-mode-coverage", "fig-ring8-samples",
             "fig-hype-vs-capability", "fig-growth-rates", "fig-bsadf-panels", "fig-nvidia-regimes",
             "fig-epoch-compute", "fig-compute-per-run"]


def test_outputs_exist(smoke):
    out = smoke["out"]
    for name in ("bubblelens-report.pdf", "bubblelens-report.html", "manifest.json", "results/runs.json",
                 "results/metrics.csv", "results/compute.csv", "results/claims.json"):
        assert (out / name).is_file(), name
    for cid in CHART_IDS:
        assert (out / "charts" / f"{cid}.csv").is_file(), cid
        meta = json.loads((out / "charts" / f"{cid}.json").read_text())
        assert meta["chart_id"] == cid and meta["citation"] and meta["bibtex"].startswith("@")
        assert any((out / "charts" / f"{cid}.{ext}").is_file() for ext in ("svg", "png"))


def test_pdf_content(smoke):
    reader = PdfReader(smoke["out"] / "bubblelens-report.pdf")
    assert len(reader.pages) >= 15
    text = pdf_text(smoke["out"] / "bubblelens-report.pdf")
    flat = " ".join(text.split())
    for title in SECTIONS:
        assert title in flat, title
    for cid in CHART_IDS:
        assert cid in flat, cid
    assert "smoke" in flat and "indicative" in flat
    assert reader.metadata.title


def test_manifest(smoke):
    m = json.loads((smoke["out"] / "manifest.json").read_text())
    assert m["profile"] == "smoke"
    assert m["seeds"]["image"] == [0]
    assert {"torch", "numpy", "pandas"} <= set(m["libraries"])
    assert m["hardware"]["device"] == "cpu"
    assert m["input_hashes"]["market"] and m["input_hashes"]["images"]
    assert {s["stage"] for s in m["stages"]} >= {"features", "train", "evaluate", "render"}


def test_market_claims_ran_beside_training_and_each_unit_is_recorded_once(smoke):
    """On the pool, the market claims ran on workers in the training batch, and the claims on the models on
    workers after evaluation, side by side; each unit has one record, in stage order, as a build that
    computed them in the claims stage has."""
    stages = smoke["manifest"]["stages"]
    keys = [(s["stage"], s["key"]) for s in stages]
    assert len(keys) == len(set(keys))
    for claim in ("hype-explosive", "nvidia-revenue-explosive"):
        record = stages[keys.index(("claims", claim))]
        assert record["status"] == "computed" and record["ran_on"].startswith("worker"), record
    model_claim = stages[keys.index(("claims", "gan-mode-dropping"))]
    assert model_claim["status"] == "computed" and model_claim["ran_on"].startswith("worker"), model_claim
    order = ["features", "train", "evaluate", "claims", "render"]
    assert [order.index(s) for s, _ in keys] == sorted(order.index(s) for s, _ in keys)


def test_an_unchanged_rebuild_does_nothing_and_touches_nothing(smoke):
    before = {p: p.read_bytes() for p in smoke["out"].rglob("*") if p.is_file()}
    proc = run_cli("build", "--profile", "smoke", "--out", str(smoke["out"]), "--device", "cpu",
                   env=smoke["env"], check=True)
    summary = json.loads(proc.stdout)
    assert summary["unchanged"] is True and summary["computed"] == 0 and summary["stages"] == []
    assert summary["pages"] == smoke["summary"]["pages"]
    assert "unchanged" in proc.stderr
    assert {p: p.read_bytes() for p in smoke["out"].rglob("*") if p.is_file()} == before   # manifest included


def test_rebuild_is_cached_and_byte_identical(smoke):
    """With an output gone the shortcut does not answer: every stage is looked up, nothing computed, and
    what the cache gives back is byte for byte what the fresh build wrote (the previous results stay in
    place, so the build compares against them and finds nothing changed, as any warm rebuild)."""
    names = ("bubblelens-report.pdf", "results/metrics.csv", "results/claims.json", "charts/fig-mode-coverage.csv")
    before = {name: (smoke["out"] / name).read_bytes() for name in names}
    (smoke["out"] / "charts" / "fig-mode-coverage.csv").unlink()
    proc = run_cli("build", "--profile", "smoke", "--out", str(smoke["out"]), "--device", "cpu", "--quiet",
                   env=smoke["env"], check=True)
    summary = json.loads(proc.stdout)
    assert "unchanged" not in summary and summary["computed"] == 0 and summary["cached"] > 5
    for name in names:          # results read back from the cache give the same bytes as fresh ones
        assert (smoke["out"] / name).read_bytes() == before[name], name


def test_frozen_uses_cache_and_fails_without(smoke, tmp_path):
    ok = run_cli("build", "--profile", "smoke", "--out", str(smoke["out"]), "--frozen", "--quiet", "--device", "cpu",
                 env=smoke["env"])
    assert ok.returncode == 0, ok.stderr
    empty = run_cli("build", "--profile", "smoke", "--out", str(tmp_path / "o"), "--frozen", "--device", "cpu",
                    env={"BUBBLELENS_CACHE": str(tmp_path / "empty-cache")})
    assert empty.returncode == 4
    assert "--frozen" in empty.stderr and "Traceback" not in empty.stderr


def test_force_recomputes_only_stage(smoke):
    proc = run_cli("build", "--profile", "smoke", "--out", str(smoke["out"]), "--only", "features", "--force",
                   "--quiet", "--device", "cpu", env=smoke["env"], check=True)
    assert json.loads(proc.stdout)["computed"] == 1


def test_bad_market_csv_exit_3_keeps_report(smoke, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("images"))
    csv = data / "market" / "mmlu_sota.csv"
    csv.write_text(csv.read_text() + "2024-13-45,91,percent,wikimili_mmlu,bad date\n")
    before = (smoke["out"] / "bubblelens-report.pdf").read_bytes()
    proc = run_cli("build", "--profile", "smoke", "--out", str(smoke["out"]), "--data", str(data), "--device", "cpu",
                   env=smoke["env"])
    assert proc.returncode == 3
    assert "mmlu_sota.csv" in proc.stderr and "2024-13-45" in proc.stderr and "Traceback" not in proc.stderr
    assert (smoke["out"] / "bubblelens-report.pdf").read_bytes() == before


def test_markup_in_curated_note_is_escaped(smoke, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("images"))
    meta = data / "market" / "series.toml"
    text = meta.read_text()
    assert 'classification_note = "' in text
    meta.write_text(text.replace('classification_note = "', 'classification_note = "<script>alert(1)</script> '
                                 '<img src=\\"file:///etc/hostname\\"> ', 1))
    out = tmp_path / "out"
    run_cli("build", "--profile", "smoke", "--out", str(out), "--data", str(data), "--quiet", "--device", "cpu",
            env=smoke["env"], check=True)
    html = (out / "bubblelens-report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<img src="file:///etc/hostname">' not in html


def test_results_bundle_roundtrip(smoke, tmp_path):
    bundle = tmp_path / "study.zip"
    run_cli("results", "export", "--out", str(smoke["out"]), "--bundle", str(bundle), check=True)
    out = tmp_path / "from-bundle"
    # The rendering machine's cache holds no trained or evaluated unit (--frozen would exit 4 on a miss);
    # it starts with the smoke build's claims, which the bundle's evidence finds where it is unchanged (the
    # market claims), so the test skips their minute of bootstraps, not anything the bundle path does.
    shutil.copytree(smoke["root"] / "cache" / "claims", tmp_path / "cpu-only-cache" / "claims")
    proc = run_cli("build", "--results", str(bundle), "--out", str(out), "--quiet", "--frozen",
                   env={"BUBBLELENS_CACHE": str(tmp_path / "cpu-only-cache")})
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(pdf_text(out / "bubblelens-report.pdf").split())
    assert "imported results bundle" in flat and "study.zip" in flat


def test_cite_prints_citation(smoke):
    proc = run_cli("cite", "fig-mode-coverage", "--out", str(smoke["out"]), check=True)
    assert "fig-mode-coverage" in proc.stdout
    missing = run_cli("cite", "fig-nope", "--out", str(smoke["out"]))
    assert missing.returncode == 2 and "fig-nope" in missing.stderr


@pytest.mark.parametrize("args, code, needle", [
    (["build", "--profile", "huge"], 2, "--profile"),
    (["build", "--only", "nonsense"], 2, "--only"),
    (["build", "--device", "tpu"], 2, "--device"),
])
def test_usage_errors(args, code, needle):
    proc = run_cli(*args)
    assert proc.returncode == code
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_config_override_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[dcgan]\nepochz = 3\n")
    proc = run_cli("config", "show", "--config", str(bad))
    assert proc.returncode == 2 and "epochz" in proc.stderr and str(bad) in proc.stderr


def test_edited_csv_reruns_only_report_and_shows_what_changed(smoke, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("images"))
    out = tmp_path / "out"
    shutil.copytree(smoke["out"], out)
    csv = data / "market" / "chatgpt_weekly_active_users.csv"
    csv.write_text(csv.read_text().replace("2023-11-06,100,", "2023-11-06,101,"))
    # With every import timed (CPython prints each to stderr), to see that this rebuild never loads torch.
    proc = run_cli("build", "--profile", "smoke", "--out", str(out), "--data", str(data),
                   "--device", "cpu", env={**smoke["env"], "PYTHONPROFILEIMPORTTIME": "1"}, check=True)
    assert json.loads(proc.stdout)["computed"] == 1          # the report unit; models all cached
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "bubblelens.pipeline.build" in imported and "torch" not in imported      # issue 25: 1.2-1.5 s saved
    flat = " ".join(pdf_text(out / "bubblelens-report.pdf").split())
    assert "What changed since the previous build" in flat
    assert re.search(r"chatgpt_weekly_active_users 2023-11-06 100 (→|->) 101", flat)
    # Only the charts that plot the edited series were drawn again (charts/reuse.py) ...
    charts = sorted(p.name for p in (out / "charts").iterdir() if p.suffix in (".svg", ".png"))
    reused, drawn = map(int, re.search(r"charts: (\d+) reused from the cache, (\d+) drawn", proc.stderr).groups())
    assert reused + drawn == len(charts) and 0 < drawn < len(charts) / 4, (reused, drawn, len(charts))
    # ... and every image, reused or drawn, is byte for byte what drawing them all afresh gives.
    fresh = tmp_path / "fresh"
    run_cli("build", "--profile", "smoke", "--out", str(fresh), "--data", str(data), "--quiet", "--device", "cpu",
            "--only", "charts", "--force", env=smoke["env"], check=True)
    assert charts == sorted(p.name for p in (fresh / "charts").iterdir() if p.suffix in (".svg", ".png"))
    for name in charts:
        assert (out / "charts" / name).read_bytes() == (fresh / "charts" / name).read_bytes(), name


def test_ray_address_without_the_ray_backend_and_an_unreachable_cluster_are_usage_errors():
    proc = run_cli("build", "--profile", "smoke", "--ray-address", "auto")
    assert proc.returncode == 2 and "--ray-address needs --executor ray" in proc.stderr
    if importlib.util.find_spec("ray") is not None:
        proc = run_cli("build", "--profile", "smoke", "--executor", "ray", "--ray-address", "127.0.0.1:1")
        assert proc.returncode == 2 and "--ray-address 127.0.0.1:1" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_the_default_build_never_imports_ray():
    code = ("import sys; from bubblelens.cli import main; from bubblelens.pipeline import build; "
            "from bubblelens.pipeline.executor import make_executor; from bubblelens.pipeline.work import Unit; "
            "import os; make_executor('pool', 1).run([Unit('u', os.path.basename, {'p': 'a/b'})], lambda o: None); "
            "print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr


def test_claims_carry_reachability_and_no_interval_has_zero_width(smoke):
    claims = json.loads((smoke["out"] / "results" / "claims.json").read_text())
    for c in claims:
        assert c["reachable"] and c["reachability"], c["claim_id"]
        if c["ci"] is not None and None not in c["ci"]:
            assert c["ci"][1] > c["ci"][0], c["claim_id"]
    questions = json.loads((smoke["out"] / "results" / "questions.json").read_text())
    assert {q["question"] for q in questions} == {"panacea", "capability-pace", "bubble"}


def _toml(values: dict) -> str:
    """A config dict as TOML: scalars and lists first, then one table per nested dict (JSON's scalar and
    array syntax is TOML's for the ints, floats, strings and booleans a config holds)."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for k, v in values.items():
        if isinstance(v, dict):
            lines += [f"[{k}]", *(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())]
    return "\n".join(lines) + "\n"


def test_a_quick_build_whose_claims_are_settled_by_design_exits_3_without_a_report(smoke, tmp_path):
    """The quick profile at smoke's sizes (same units, so the smoke build's cache serves them): a claim
    whose rule cannot reach every verdict at one image seed fails the build before anything is rendered."""
    from bubblelens.claims.check import SMOKE_LABEL
    from bubblelens.core.config import canonical, profile_config

    values = canonical(profile_config("smoke"))
    values.pop("profile")
    config = tmp_path / "quick-at-smoke-size.toml"
    config.write_text(_toml(values))
    settled = [c["claim_id"] for c in json.loads((smoke["out"] / "results" / "claims.json").read_text())
               if c["reachability"] == SMOKE_LABEL]
    assert settled, "the smoke build has no claim it cannot decide: this test would prove nothing"
    out = tmp_path / "out"
    shutil.copytree(smoke["out"], out)                   # a previous report, which must survive unchanged
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = run_cli("build", "--profile", "quick", "--config", str(config), "--out", str(out), "--device", "cpu",
                   env=smoke["env"])
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert all(cid in proc.stderr for cid in settled) and "Traceback" not in proc.stderr
    assert "settled by the rule at these sizes" in proc.stderr and "cannot reach" in proc.stderr
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
