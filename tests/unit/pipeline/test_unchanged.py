"""The unchanged-rebuild shortcut (pipeline/unchanged.py): its key moves with every input a stage reads, and
it answers only when the manifest's key and the outputs' digest both still match."""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bubblelens.core.config import load_config
from bubblelens.core.resources import DATA_DIR, PACKAGE_DIR, TEMPLATES_DIR
from bubblelens.pipeline import unchanged
from bubblelens.pipeline.context import BuildOptions


@pytest.fixture
def opts(tmp_path) -> BuildOptions:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("images"))
    return BuildOptions(config=load_config("smoke"), out_dir=tmp_path / "out", data_dir=data, device="cpu")


def _write_build(opts: BuildOptions, key: str, summary: dict) -> None:
    """What a finished build leaves: outputs, then the manifest naming the key and the outputs' digest."""
    out = Path(opts.out_dir)
    (out / "charts").mkdir(parents=True)
    (out / "bubblelens-report.pdf").write_bytes(b"%PDF-1.7 report")
    (out / "charts" / "fig-a.svg").write_text("<svg/>")
    manifest = {unchanged.KEY_FIELD: key, unchanged.OUTPUTS_FIELD: unchanged.outputs_digest(out),
                unchanged.SUMMARY_FIELD: summary, "build_seconds": 12.0}
    (out / unchanged.MANIFEST_NAME).write_text(json.dumps(manifest))


def test_the_key_is_stable_and_none_when_the_build_must_run(opts):
    key = unchanged.build_key(opts)
    assert key is not None and key == unchanged.build_key(opts)
    for change in ({"force": True}, {"frozen": True}, {"only": "render"}):
        assert unchanged.build_key(replace(opts, **change)) is None, change


def test_the_key_moves_with_every_input(opts, tmp_path, monkeypatch):
    key = unchanged.build_key(opts)
    csv = Path(opts.data_dir) / "market" / "chatgpt_weekly_active_users.csv"
    original = csv.read_bytes()
    csv.write_bytes(original.replace(b"2023-11-06,100,", b"2023-11-06,101,"))
    assert unchanged.build_key(opts) != key, "a curated CSV"
    csv.write_bytes(original)
    assert unchanged.build_key(opts) == key

    assert unchanged.build_key(replace(opts, config=load_config("quick"))) != key, "the profile"
    cfg = opts.config
    assert unchanged.build_key(replace(opts, config=replace(cfg, threads=cfg.threads + 1))) != key, "a setting"
    assert unchanged.build_key(replace(opts, jobs=opts.jobs + 1)) != key, "an option"
    with monkeypatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", "1700000000")      # not the value the test session may have set
        assert unchanged.build_key(opts) != key, "the stated build date"

    # the code, the templates and fonts, and the shipped data (critical-value tables, images), which a
    # build reads whatever --data says
    for name, source in (("PACKAGE_DIR", PACKAGE_DIR), ("TEMPLATES_DIR", TEMPLATES_DIR), ("DATA_DIR", DATA_DIR)):
        copy = tmp_path / name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "_shipped"))
        monkeypatch.setattr(unchanged, name, copy)
        same = unchanged.build_key(opts)
        victim = next(p for p in sorted(copy.rglob("*")) if p.is_file() and not p.name.startswith("."))
        victim.write_bytes(victim.read_bytes() + b"\n")
        assert unchanged.build_key(opts) != same, f"a file under {name}"
        monkeypatch.setattr(unchanged, name, source)

    monkeypatch.setattr(unchanged, "_installed", lambda: ["numpy==0.0.1"])
    assert unchanged.build_key(opts) != key, "a library version"


def test_a_matching_build_returns_its_summary_and_anything_else_runs_the_pipeline(opts):
    key = unchanged.build_key(opts)
    assert unchanged.unchanged_summary(opts, key) is None          # no previous build
    pdf = str(Path(opts.out_dir) / "bubblelens-report.pdf")
    _write_build(opts, key, {"pages": 42, "computed": 3, "cached": 7, "stages": ["render"], "pdf": pdf,
                             "out_dir": str(opts.out_dir)})
    summary = unchanged.unchanged_summary(opts, key)
    assert summary == {"pages": 42, "computed": 0, "cached": 0, "stages": [], "unchanged": True, "pdf": pdf,
                       "out_dir": str(opts.out_dir)}
    copy = replace(opts, out_dir=Path(opts.out_dir).parent / "copied")       # a copied output directory
    shutil.copytree(opts.out_dir, copy.out_dir)
    assert unchanged.unchanged_summary(copy, key)["pdf"] == str(Path(copy.out_dir) / "bubblelens-report.pdf")
    assert unchanged.unchanged_summary(opts, "another-key") is None
    assert unchanged.unchanged_summary(opts, None) is None

    chart = Path(opts.out_dir) / "charts" / "fig-a.svg"
    chart.write_text("<svg>edited</svg>")
    assert unchanged.unchanged_summary(opts, key) is None, "an edited output"
    chart.unlink()
    assert unchanged.unchanged_summary(opts, key) is None, "a deleted output"
    (Path(opts.out_dir) / unchanged.MANIFEST_NAME).write_text("{not json")
    assert unchanged.unchanged_summary(opts, key) is None, "a damaged manifest"


def test_the_key_needs_neither_torch_nor_the_report_libraries(opts):
    """The point of the shortcut: it decides before the heavy imports (checked in a fresh interpreter)."""
    import subprocess

    code = ("import sys; from bubblelens.core.config import load_config; "
            "from bubblelens.pipeline.context import BuildOptions; "
            "from bubblelens.pipeline.unchanged import build_key, unchanged_summary; "
            f"o = BuildOptions(config=load_config('smoke'), out_dir={str(opts.out_dir)!r}); "
            "unchanged_summary(o, build_key(o)); "
            "print(sorted(m for m in ('torch', 'scipy', 'weasyprint', 'matplotlib', 'pandas', 'statsmodels') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
