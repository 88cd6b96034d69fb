"""Stage code versions are derived from the import graph: editing a module in a stage's closure changes
exactly that stage's code version, editing one outside it changes none."""
from __future__ import annotations

import shutil

import pytest

from bubblelens.pipeline.code_graph import PACKAGE_DIR, CodeGraph
from bubblelens.pipeline.model_stages import EVAL_CODE, FEATURES_CODE, TRAIN_CODE
from bubblelens.pipeline.report_stages import RENDER_CODE

STAGES = {"train": TRAIN_CODE, "features": FEATURES_CODE, "evaluate": EVAL_CODE, "render": RENDER_CODE}


@pytest.fixture
def copy(tmp_path):
    pkg = tmp_path / "bubblelens"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__", "_shipped"))
    return pkg


def versions(pkg) -> dict[str, str]:
    g = CodeGraph(pkg)
    return {name: g.code_version(code.entries, code.extra) for name, code in STAGES.items()}


def edited(pkg, rel: str) -> dict[str, str]:
    path = pkg / rel
    path.write_text(path.read_text() + "\n# an edit\n")
    return versions(pkg)


@pytest.mark.parametrize("rel, changed", [
    ("models/dcgan.py", {"train"}),
    ("evaluation/units.py", {"evaluate"}),                      # _image_metrics moved here: evaluations invalidate
    ("evaluation/quality.py", {"evaluate"}),
    ("evaluation/features.py", {"features", "evaluate"}),
    ("report/render.py", {"render"}),
    ("market/schema.py", {"render"}),
    ("cli/main.py", set()),                                     # outside every stage's closure
    ("core/io.py", {"train", "features", "evaluate", "render"}),
])
def test_exactly_the_stages_whose_closure_holds_the_module_change(copy, rel, changed):
    before = versions(copy)
    after = edited(copy, rel)
    assert {s for s in STAGES if before[s] != after[s]} == changed


def test_closure_follows_imports_and_parent_packages():
    g = CodeGraph()
    closure = g.closure(["bubblelens.training.units"])
    assert {"bubblelens", "bubblelens.training", "bubblelens.training.dcgan", "bubblelens.models.dcgan",
            "bubblelens.core.config"} <= closure
    assert not any(m.startswith(("bubblelens.report", "bubblelens.market", "bubblelens.claims")) for m in closure)


def test_non_python_inputs_count(copy, tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "cv.csv").write_text("1")
    g = CodeGraph(copy)
    before = g.code_version(["bubblelens.core.io"], [tables])
    (tables / "cv.csv").write_text("2")
    assert g.code_version(["bubblelens.core.io"], [tables]) != before
