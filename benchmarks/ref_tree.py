"""The benchmarks' baseline: a git revision checked out in a temporary worktree, removed afterwards.

Side-by-side scripts (`--ref REV`) run the revision's code from there, alternating with this tree's, so
that both meet the same machine load (`run_in_tree` runs one measurement in a tree, in a fresh process).
Not a script (tests/integration/test_benchmarks_smoke.NOT_SCRIPTS).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def checked_out(ref: str | None, path: Path) -> Iterator[Path]:
    """`ref` checked out (detached) at `path` for the duration; with ref None, this tree itself."""
    if ref is None:
        yield REPO
        return
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(path), ref],
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], capture_output=True)


def run_in_tree(tree: Path, code: str, spec: dict) -> dict:
    """Run `code` (a Python program reading `json.loads(sys.argv[1])`) with `tree`'s bubblelens and one
    torch thread, as a build's pool worker runs; returns the JSON object on its last line of output."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], env=env, capture_output=True, text=True,
                         cwd=tree)
    if out.returncode != 0:
        sys.exit(f"timing {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def baseline(ref: str | None, smoke: bool, parser, prefix: str) -> Iterator[tuple[Path, Path]]:
    """(a scratch directory, the tree to compare against) for a side-by-side script: `ref` checked out, or
    with --smoke and no --ref this tree itself; a missing --ref without --smoke is the parser's usage error."""
    if ref is None and not smoke:
        parser.error("--ref is required (the revision to compare against), except with --smoke")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, checked_out(ref, Path(tmp) / "ref-tree") as tree:
        yield Path(tmp), tree
