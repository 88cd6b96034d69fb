"""Metric names only through their constants (issue 23): report/ and claims/ name a metric as
`bubblelens.evaluation.names.KEY_*`, never as a bare string, so a renamed metric cannot leave a reader
behind. Checked from the source with `ast`; the names are read from the module itself, so a new KEY_* is
covered the day it is added. Docstrings are prose and are not checked; the curated registry
(data/**/claims.toml) is data, not code, and is out of scope."""
from __future__ import annotations

import ast
import types
from pathlib import Path

from bubblelens.evaluation import names

PACKAGE_DIR = Path(names.__file__).resolve().parents[1]
CHECKED = ("report", "claims")

# "path under bubblelens/: literal" -> why that string is the same word as a metric without denoting it.
# An entry is an exception to argue for, not a way around the rule; one that no longer matches fails below.
ALLOWED: dict[str, str] = {}


def metric_names(module: types.ModuleType | types.SimpleNamespace = names) -> dict[str, str]:
    """value -> constant name, for every KEY_* string the module defines."""
    return {v: k for k, v in vars(module).items() if k.startswith("KEY_") and isinstance(v, str)}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are module, class or function docstrings."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def metric_literals(source: str, label: str, metrics: dict[str, str],
                    allowed: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(allowlist key, "label:line: 'literal' -> names.KEY_X") for every string constant in `source`, outside
    docstrings, whose value is a metric name; entries in `allowed` ("label: literal") are skipped."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in metrics \
                and id(node) not in docs:
            key = f"{label}: {node.value}"
            if key not in (allowed or {}):
                found.append((key, f"{label}:{node.lineno}: {node.value!r} -> names.{metrics[node.value]}"))
    return sorted(found, key=lambda f: f[1])


def _checked_files() -> list[Path]:
    return sorted(p for d in CHECKED for p in (PACKAGE_DIR / d).rglob("*.py"))


def _label(path: Path) -> str:
    return path.relative_to(PACKAGE_DIR).as_posix()


def test_report_and_claims_name_metrics_through_their_constants():
    metrics = metric_names()
    bad = [msg for p in _checked_files()
           for _, msg in metric_literals(p.read_text(encoding="utf-8"), _label(p), metrics, ALLOWED)]
    assert not bad, ("metric names written as bare strings (import the KEY_* from "
                     "bubblelens.evaluation.names):\n" + "\n".join(bad))


def test_allowlist_entries_are_still_needed():
    metrics = metric_names()
    hits = {key for p in _checked_files()
            for key, _ in metric_literals(p.read_text(encoding="utf-8"), _label(p), metrics)}
    stale = sorted(set(ALLOWED) - hits)
    assert not stale, f"allowlist entries that no longer match any literal (remove them): {stale}"


def test_the_check_covers_the_names_module():
    metrics = metric_names()
    assert {"fid", "modes", "high_quality", "laplacian_ratio", "flops_to_target"} <= set(metrics)
    assert "CONVERGENCE_FLOOR" not in metrics.values()           # a number, not a name
    assert len(_checked_files()) > 10                            # the two packages were found


def test_checker_names_a_violation_by_file_and_line():
    metrics = metric_names()
    src = ('"""Module prose may say fid."""\n'
           'x = 1\n'
           'def f(r):\n'
           '    """fid"""\n'
           '    return r["metrics"]["modes"], f"{r[\'fid\']} (fid)"\n'
           'class C:\n'
           '    "high_quality"\n'
           '    cols = ["seed", "laplacian_ratio"]\n')
    msgs = [m for _, m in metric_literals(src, "report/x.py", metrics)]
    assert msgs == ["report/x.py:5: 'fid' -> names.KEY_FID", "report/x.py:5: 'modes' -> names.KEY_MODES",
                    "report/x.py:8: 'laplacian_ratio' -> names.KEY_LAPLACIAN_RATIO"], msgs


def test_checker_skips_only_allowlisted_file_and_literal():
    metrics = metric_names()
    src = 'a = {"modes": 1}\nb = "fid"\n'
    allowed = {"report/x.py: modes": "a dict key that is prose"}
    assert [k for k, _ in metric_literals(src, "report/x.py", metrics, allowed)] == ["report/x.py: fid"]
    assert len(metric_literals(src, "claims/y.py", metrics, allowed)) == 2      # another file: not excused


def test_a_new_key_is_covered_without_editing_the_test():
    fake = types.SimpleNamespace(KEY_NEW_METRIC="new_metric", CONVERGENCE_FLOOR=0.5, OTHER="fid")
    metrics = metric_names(fake)
    assert metrics == {"new_metric": "KEY_NEW_METRIC"}
    assert len(metric_literals('x = "new_metric"\ny = "fid"\n', "report/x.py", metrics)) == 1
