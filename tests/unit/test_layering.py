"""The package's shape, checked from its source: no import cycles, layers in data-flow order, no dynamic
imports (they would hide edges from the import graph that stage fingerprints are derived from), modules
that fit in one sitting, thin __init__ files."""
from __future__ import annotations

import ast

import pytest

from bubblelens.pipeline.code_graph import CodeGraph

# Each layer may import the layers listed (and, transitively, what those may import):
# core <- datasets <- models <- training <- evaluation;  core <- market <- analysis, external;
# evaluation, analysis, external <- claims <- report <- pipeline <- cli.
MAY_IMPORT = {
    "core": (),
    "datasets": ("core",),
    "models": ("datasets",),
    "training": ("models",),
    "evaluation": ("training",),
    "market": ("core",),
    "analysis": ("market",),
    "external": ("market",),
    "claims": ("evaluation", "analysis", "external"),
    "report": ("claims",),
    "pipeline": ("report",),
    "cli": ("pipeline",),
}
MAX_LINES = 400


def allowed(layer: str) -> set[str]:
    out, todo = {layer}, list(MAY_IMPORT[layer])
    while todo:
        lay = todo.pop()
        if lay not in out:
            out.add(lay)
            todo.extend(MAY_IMPORT[lay])
    return out


def layer_of(module: str) -> str:
    parts = module.split(".")
    if module == "bubblelens":
        return "core"                      # the package root: a version string, nothing else
    if parts[1] == "__main__":
        return "cli"
    return parts[1]


@pytest.fixture(scope="module")
def graph() -> CodeGraph:
    return CodeGraph()


def layering_violations(g: CodeGraph) -> list[str]:
    bad = []
    for module, edges in sorted(g.edges.items()):
        for e in edges:
            src, dst = layer_of(e.source), layer_of(e.target)
            if dst not in allowed(src):
                bad.append(f"{e.file}:{e.line}: {e.source} ({src}) imports {e.target} ({dst}), a later layer")
    return bad


def test_every_module_belongs_to_a_layer(graph):
    assert {layer_of(m) for m in graph.modules} <= set(MAY_IMPORT)


def test_no_import_cycles(graph):
    cycles = graph.cycles()
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_layers_in_data_flow_order(graph):
    bad = layering_violations(graph)
    assert not bad, "\n".join(bad)


def test_checks_would_name_a_new_cycle_and_a_backward_import(tmp_path):
    """The two checks above can fail: a copied package with one bad edit is caught, naming file and line."""
    import shutil

    from bubblelens.pipeline.code_graph import PACKAGE_DIR

    pkg = tmp_path / "bubblelens"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__", "_shipped"))
    core_io = pkg / "core" / "io.py"
    core_io.write_text(core_io.read_text() + "\nfrom bubblelens.report.numbers import fmt  # noqa\n")
    g = CodeGraph(pkg)
    bad = layering_violations(g)
    assert any("core/io.py:" in b and "bubblelens.report.numbers" in b for b in bad), bad
    timeseries = pkg / "analysis" / "timeseries.py"      # growth imports timeseries: now a cycle
    timeseries.write_text(timeseries.read_text() + "\nfrom bubblelens.analysis import growth  # noqa\n")
    cycles = CodeGraph(pkg).cycles()
    assert any({"bubblelens.analysis.timeseries", "bubblelens.analysis.growth"} <= set(c) for c in cycles), cycles


def test_no_dynamic_imports(graph):
    found = []
    for module, path in graph.modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name == "importlib" for a in node.names):
                found.append(f"{path}:{node.lineno}: import importlib")
            elif isinstance(node, ast.ImportFrom) and node.module == "importlib":
                found.append(f"{path}:{node.lineno}: from importlib import ...")
            elif isinstance(node, ast.Name) and node.id == "__import__":
                found.append(f"{path}:{node.lineno}: __import__")
            elif isinstance(node, ast.Attribute) and node.attr == "import_module":
                found.append(f"{path}:{node.lineno}: import_module")
    assert not found, "dynamic imports hide edges from the import graph:\n" + "\n".join(found)


def test_modules_fit_in_one_sitting(graph):
    long = [f"{p}: {n} lines" for p in graph.modules.values() if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(long)


def test_init_files_are_thin(graph):
    """Python runs every parent __init__ before a submodule: an import there widens every fingerprint."""
    heavy = [str(p) for m, p in graph.modules.items() if p.name == "__init__.py"
             and any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(ast.parse(p.read_text())))]
    assert not heavy, "imports in __init__.py: " + ", ".join(heavy)
