"""The benchmarks' baseline: a git revision checked out in a temporary worktree, removed afterwards.

Side-by-side scripts (`--ref REV`) run the revision's code from there, alternating with this tree's, so
that both meet the same machine load. Not a script (tests/integration/test_benchmarks_smoke.NOT_SCRIPTS).
"""
from __future__ import annotations

import subprocess
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
