"""What every `bubblelens data import ...` shares: the data diff, the all-or-nothing write, the history.

An importer (import_shiller, import_metr, import_epoch) reads the publisher's file and returns a `Plan`:
the new bytes of every file it changes in one curated folder (`external/` or `market/`) and, per series
or data set, the old and new values. `execute` then

1. builds the folder as it would be after the import in a scratch copy and runs the project's own
   validator on it (`validate_external` or market `validate`): an import that would leave data `bubblelens
   data check` refuses writes nothing;
2. swaps the whole folder in with `core.io.atomic_directory`, so a reader (or a kill) never sees some of
   the files new and some old;
3. appends one JSON line to `<data_dir>/import_history.jsonl` (rewritten atomically): when, which
   importer, the input's name and sha256, the files written, the counts and every revised value.

A dry run stops after step 1. Values are compared as the floats their text parses to, so a number written
in another form (`4.40` vs `4.4`) is not a revision; rows are keyed by (date, label).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from bubblelens.core.curated_files import Issue, display_path
from bubblelens.core.errors import DataError
from bubblelens.core.io import atomic_directory, atomic_write_bytes
from bubblelens.core.resources import curated
from bubblelens.external.load import validate_external
from bubblelens.market.load import validate

HISTORY_FILE = "import_history.jsonl"
SHOW_REVISIONS = 10          # the largest revisions printed per import (the history keeps them all)

Table = dict[str, dict[str, float | None]]     # row key -> {column: value, None = empty}


@dataclass(frozen=True)
class Revision:
    """One cell whose value changed: revised (both numbers), filled (was empty) or emptied (is empty now)."""

    target: str
    row: str
    column: str
    old: float | None
    new: float | None

    @property
    def kind(self) -> str:
        return "filled" if self.old is None else "emptied" if self.new is None else "revised"

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def relative(self) -> float | None:
        change = self.change
        return None if change is None or self.old == 0 else change / abs(self.old)

    def record(self) -> dict:
        return {"target": self.target, "row": self.row, "column": self.column, "kind": self.kind,
                "old": self.old, "new": self.new, "change": self.change, "relative": self.relative}

    def __str__(self) -> str:
        where = f"{self.row} {self.column}" if self.column != "value" else self.row
        if self.kind != "revised":
            return f"{where}: {_num(self.old)} -> {_num(self.new)} ({self.kind})"
        rel = "" if self.relative is None else f", {self.relative:+.3%}"
        return f"{where}: {_num(self.old)} -> {_num(self.new)} ({self.change:+.10g}{rel})"


@dataclass
class TableDiff:
    """How one series or data set changes: row keys added and removed, cells revised."""

    target: str                     # series or data-set id
    file: str                       # its file, relative to the data directory
    rows_before: int
    rows_after: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(r.kind == kind for r in self.revisions)

    def counts(self) -> dict[str, int]:
        return {"rows_before": self.rows_before, "rows_after": self.rows_after, "added": len(self.added),
                "removed": len(self.removed), "revised": self.count("revised"), "filled": self.count("filled"),
                "emptied": self.count("emptied")}

    def summary(self) -> str:
        c = self.counts()
        return (f"{self.target} ({self.file}): {c['rows_before']} -> {c['rows_after']} rows; {c['added']} added, "
                f"{c['removed']} removed, {c['revised']} values revised, {c['filled']} filled, "
                f"{c['emptied']} emptied")


def diff_tables(target: str, file: str, old: Table, new: Table) -> TableDiff:
    """Compare two tables cell by cell (floats compared exactly; None = empty)."""
    d = TableDiff(target, file, len(old), len(new))
    d.added = [k for k in new if k not in old]
    d.removed = [k for k in old if k not in new]
    for key, cells in new.items():
        before = old.get(key)
        if before is None:
            continue
        for column, value in cells.items():
            was = before.get(column)
            if was != value:
                d.revisions.append(Revision(target, key, column, was, value))
    return d


@dataclass
class Plan:
    """What one import would do: new bytes for files of one curated folder, and the diffs."""

    importer: str                   # "shiller" | "metr" | "epoch-benchmarks"
    input: Path
    folder: str                     # "external" or "market"
    writes: dict[str, bytes]        # file name inside the folder -> new content
    diffs: list[TableDiff]
    metadata: list[str] = field(default_factory=list)    # provenance written: "sources.csv: added ..."
    skipped: list[str] = field(default_factory=list)     # input rows deliberately left out, and why


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _changed(plan: Plan, folder: Path) -> list[str]:
    """The files of the plan whose bytes differ from what is on disk."""
    return [name for name, data in plan.writes.items()
            if not (folder / name).is_file() or (folder / name).read_bytes() != data]


def _check_staged(plan: Plan, data_dir: Path, stage: Path, today: date | None) -> None:
    """Validate the staged folder with the project's own validator; raise the first error, shown at the
    path the analyst will find it at (the scratch copy's path would mean nothing to them)."""
    issues: list[Issue] = (validate_external(stage, today=today) if plan.folder == "external"
                           else validate(stage, today=today))
    errors = [i for i in issues if i.severity == "error"]
    if not errors:
        return
    staged, real = display_path(stage / plan.folder), display_path(curated(data_dir, plan.folder))
    first = errors[0]
    shown = Issue(first.severity, first.file.replace(staged, real, 1), first.line, first.column, first.message)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise DataError(f"{plan.input.name}: importing it would leave invalid data, so nothing was written: "
                    f"{shown}{more}")


def _history_line(plan: Plan, digest: str, targets: list[str], dry_run: bool) -> dict:
    return {
        "when": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "importer": plan.importer,
        "input": {"file": plan.input.name, "sha256": digest},
        "dry_run": dry_run,
        "targets": targets,
        "metadata": plan.metadata,
        "skipped": plan.skipped,
        "counts": {d.target: d.counts() for d in plan.diffs},
        "added": {d.target: d.added for d in plan.diffs if d.added},
        "removed": {d.target: d.removed for d in plan.diffs if d.removed},
        "revisions": [r.record() for d in plan.diffs for r in d.revisions],
    }


def execute(plan: Plan, data_dir: Path, *, dry_run: bool = False, today: date | None = None) -> dict:
    """Validate the plan on a scratch copy, then (unless `dry_run`) swap the folder in and record it.

    Returns the history record (also for a dry run, which writes nothing). Raises `DataError` (exit 3),
    with nothing written, when the folder would not validate.
    """
    data_dir = Path(data_dir)
    folder = curated(data_dir, plan.folder)
    digest = sha256_of(plan.input)
    with tempfile.TemporaryDirectory(prefix="bubblelens-import-") as tmp:
        stage = Path(tmp)
        if folder.is_dir():
            shutil.copytree(folder, stage / plan.folder, ignore=shutil.ignore_patterns(".*"))
        (stage / plan.folder).mkdir(exist_ok=True)
        for name, data in plan.writes.items():
            (stage / plan.folder / name).write_bytes(data)
        _check_staged(plan, data_dir, stage, today)
        targets = [f"{plan.folder}/{name}" for name in _changed(plan, folder)]
        record = _history_line(plan, digest, targets, dry_run)
        if dry_run:
            return record
        if targets:
            with atomic_directory(folder) as new:
                shutil.copytree(stage / plan.folder, new, dirs_exist_ok=True)
    history = data_dir / HISTORY_FILE
    old = history.read_bytes() if history.is_file() else b""
    sep = b"" if not old or old.endswith(b"\n") else b"\n"
    line = json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False)
    atomic_write_bytes(history, old + sep + line.encode("utf-8") + b"\n")
    return record


def _num(x: float | None) -> str:
    return "empty" if x is None else f"{x:.10g}"


def report_lines(plan: Plan, record: dict) -> list[str]:
    """What the CLI prints: one summary line per target, the largest revisions, provenance written."""
    lines = [f"{plan.importer}: {plan.input.name} (sha256 {record['input']['sha256'][:16]}...)"]
    for d in plan.diffs:
        lines.append(d.summary())
        biggest = sorted(d.revisions, key=lambda r: (r.kind != "revised", -abs(r.relative or 0.0),
                                                     -abs(r.change or 0.0)))[:SHOW_REVISIONS]
        if biggest:
            more = len(d.revisions) - len(biggest)
            lines.append(f"  largest changes{f' (and {more} more in the history)' if more > 0 else ''}:")
            lines.extend(f"    {r}" for r in biggest)
    lines.extend(f"provenance: {m}" for m in plan.metadata)
    lines.extend(f"left out: {s}" for s in plan.skipped)
    if record["dry_run"]:
        would = f" (an import would write {', '.join(record['targets'])})" if record["targets"] else ""
        lines.append(f"dry run: nothing written{would}")
    elif record["targets"]:
        lines.append(f"wrote {', '.join(record['targets'])}; recorded in {HISTORY_FILE}")
    else:
        lines.append(f"no file changed; recorded in {HISTORY_FILE}")
    return lines


def parse_float(text: str) -> float | None:
    """A cell of a file bubblelens wrote: '' (or anything that is not a number) -> None."""
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


# --- TOML tables the importers write (datasets.toml, series.toml) -----------------------------------------

_TABLE_RE = re.compile(r'^\s*\[\s*"?([^\]"]+?)"?\s*\]')
_WRAP = 100


def _toml_value(value: object, multiline: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, date)):
        return value.isoformat() if isinstance(value, date) else str(value)
    escaped = json.dumps(str(value), ensure_ascii=False)        # a valid TOML basic string
    if not multiline or len(escaped) <= _WRAP:
        return escaped
    # A long text as the hand-written tables have it: a multi-line string whose line-ending backslashes
    # join the lines back with the space left before each break.
    words, lines, line = escaped[1:-1].split(" "), [], ""
    for word in words:
        if line and len(line) + len(word) + 3 > _WRAP:
            lines.append(line + " \\")
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line + '"""')
    return '"""\\\n' + "\n".join(lines)


def toml_table(name: str, items: dict[str, object], multiline: tuple[str, ...] = ()) -> str:
    """`[name]` and one `key = value` line per item; checked to parse back to exactly `items`."""
    text = f"[{name}]\n" + "".join(f"{k} = {_toml_value(v, k in multiline)}\n" for k, v in items.items())
    if tomllib.loads(text).get(name) != items:
        raise ValueError(f"[{name}] does not survive a TOML round trip: {items!r}")
    return text


def set_toml_table(text: str, name: str, table: str) -> str:
    """`text` with its `[name]` table replaced by `table` (appended when there is none).

    The table runs from its header to the next header; blank and comment lines just before the next header
    belong to that one and stay. Everything else in the file is kept byte for byte.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if (m := _TABLE_RE.match(line)) and m.group(1) == name), None)
    if start is None:
        sep = "" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
        return text + sep + table
    end = next((i for i in range(start + 1, len(lines)) if _TABLE_RE.match(lines[i])), len(lines))
    keep = end
    while keep > start + 1 and (not lines[keep - 1].strip() or lines[keep - 1].lstrip().startswith("#")):
        keep -= 1
    tail = lines[keep:end] if end < len(lines) else []
    return "".join(lines[:start]) + table + ("\n" if end < len(lines) and not tail else "") + "".join(
        tail) + "".join(lines[end:])
