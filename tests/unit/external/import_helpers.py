"""Shared by the `bubblelens data import` tests (imported as `import_helpers`, like tests/unit/pipeline's
helpers): where the copied inputs are, and a digest of every file of a folder."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path

from bubblelens.external.imports import HISTORY_FILE

IMPORTS = Path(__file__).resolve().parents[2] / "data" / "imports"      # tests/data/imports (README there)
STAGED = IMPORTS / "staged"
ACCESSED = "2026-12-06"             # the day the staged files were read
TODAY = date.fromisoformat(ACCESSED)  # what the checks judge future dates against


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, hidden ones included (a leftover temp file must show up too)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def fields(note: str) -> dict[str, str]:
    """`k=v; k=v` of an imported row's note as a dict."""
    return dict(part.split("=", 1) for part in note.split("; ") if "=" in part)


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def history(data: Path) -> list[dict]:
    """The import_history.jsonl records of a data directory, oldest first."""
    return [json.loads(line) for line in (data / HISTORY_FILE).read_text().splitlines()]
