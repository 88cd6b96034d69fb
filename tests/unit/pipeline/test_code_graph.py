"""Stage code versions are derived from the import graph: editing a module in a stage's closure changes
exactly that stage's code version, editing one outside it changes none."""
from __future__ import annotations

import shutil

import pytest

from bubblelens.pipeline.code_graph import PACKAGE_DIR, CodeGraph, ast_imports, read_imports, scan_imports
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


# The import statements the line scanner reads, each on its own line, indented or not.
SCANNED_FORMS = """
import os
import os.path as osp, sys
from . import sibling
from .. import cousin as c
from .pkg.mod import (a,
                      b as bee,   # a comment (with parentheses) inside the brackets
                      c)
from pkg import *
def f():
    import pkg.lazy
    if True:
        from ...far import thing
"""

# Valid Python the scanner cannot read: `read_imports` must notice and parse these files instead.
UNSCANNABLE = {
    "a compound statement": "if X: import y\ntry: import x\nexcept E: import z\n",
    "a semicolon": "import a; import b\nfrom a import (b); import c\n",
    "a continuation": "from a \\\n    import b\nimport a.\\\nb\nfrom \\\n a import c\n",
    "a bracket left open in a docstring": '"""\nfrom .a import (see below\n"""\nimport pkg.core\nfrom pkg import m\nx = ")"\n',
    "a space in a relative name": "from . sub import x\nfrom .. pkg.mod import y\n",
}


def test_the_line_scanner_finds_what_the_parser_finds_in_the_forms_it_reads():
    assert sorted(scan_imports(SCANNED_FORMS), key=repr) == sorted(ast_imports(SCANNED_FORMS), key=repr)
    assert read_imports(SCANNED_FORMS) == scan_imports(SCANNED_FORMS)      # read without the parser


@pytest.mark.parametrize("form", sorted(UNSCANNABLE))
def test_a_file_the_scanner_would_misread_is_parsed_instead(form):
    source = UNSCANNABLE[form]
    assert not set(ast_imports(source)) <= set(scan_imports(source))       # the scanner alone misses one
    assert set(ast_imports(source)) <= set(read_imports(source))


def test_the_line_scanner_may_find_more_in_strings_but_never_less():
    source = 'HELP = """\nimport bubblelens.training\n"""\nimport bubblelens.core\n'
    assert set(ast_imports(source)) < set(scan_imports(source))


def test_over_the_whole_package_the_scanned_graph_holds_every_parsed_import():
    """The safety property of stage code versions: an import the scanner missed could leave a module out of a
    stage's closure, and a cache entry stale after that module's edit would be trusted. Also rules out a
    file whose fallback to the parser stopped working."""
    scanned, parsed = CodeGraph(), CodeGraph(find_imports=ast_imports)
    for module, edges in parsed.edges.items():
        found = {(e.target, e.line) for e in scanned.edges[module]}
        assert {(e.target, e.line) for e in edges} <= found, module
    for name, code in STAGES.items():
        assert scanned.closure(code.entries) == parsed.closure(code.entries), name
