"""Reading one curated file: its bytes become records (CSV) or tables (TOML) plus the `Issue`s found.

Why in core: both curated folders (data/market, read by market/load.py, and data/external, read by
external/load.py) are plain CSV and TOML files that an analyst edits by hand, and a fault must read the
same in both: `file:line: column 'c': message`, the path as the analyst sees it. So the `Issue` type, the
decoding, the CSV and TOML readers and the pydantic-to-`Issue` translation live here once; what a valid
row *is* stays with each folder's schema (market/schema.py, external/schema.py).
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError


@dataclass(frozen=True)
class Issue:
    """One problem found in the curated data; `str()` is the line an analyst reads."""

    severity: str              # 'error' | 'warning'
    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = self.message if self.column is None else f"column '{self.column}': {self.message}"
        return f"{where}: {what}"


def display_path(path: Path) -> str:
    """Path as the analyst should see it: relative to the working directory when below it (so a
    terminal can open it, and the issues of both folders read alike)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def pydantic_issues(exc: ValidationError, file: str, line: int | None) -> list[Issue]:
    """One `Issue` per field error; pydantic's own messages are kept for type/literal/missing errors."""
    out = []
    for err in exc.errors(include_url=False):
        column = str(err["loc"][0]) if err["loc"] else None
        message = err["msg"]
        if err["type"] == "missing":
            message = "is missing"
        elif err["type"] == "extra_forbidden":
            message = "is not a known field"
        out.append(Issue("error", file, line, column, message))
    return out


def decode_csv_bytes(raw: bytes, file: str) -> tuple[str, list[Issue]]:
    """UTF-8 without BOM is the only accepted encoding; report a BOM or bad bytes and decode leniently."""
    issues: list[Issue] = []
    if raw.startswith(codecs.BOM_UTF8):
        issues.append(Issue("error", file, 1, None, "file starts with a byte-order mark (BOM); "
                            "save it as UTF-8 without BOM"))
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8"), issues
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        issues.append(Issue("error", file, line, None, f"byte 0x{raw[exc.start]:02x} at offset {exc.start} "
                            "is not valid UTF-8 (save the file as UTF-8)"))
        return raw.decode("utf-8", errors="replace"), issues


# Control characters other than tab and newline (a newline may stand inside a quoted cell): C0, DEL, C1.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def read_csv_records(text: str, file: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
                     ) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[Issue]]:
    """Parse CSV text into (header, [(first line number, {column: cell})], issues).

    Header problems (missing, unexpected, repeated or padded column names) and rows whose field count
    differs from the header's are reported here; blank lines are skipped.
    """
    issues: list[Issue] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header_raw = next(reader)
    except StopIteration:
        return [], [], [Issue("error", file, None, None, "file is empty (no header line)")]
    except csv.Error as exc:
        return [], [], [Issue("error", file, 1, None, f"unreadable CSV: {exc}")]
    header = []
    for name in header_raw:
        if name != name.strip():
            issues.append(Issue("error", file, 1, None, f"column name {name!r} has stray whitespace"))
        header.append(name.strip())
    allowed = required + optional
    for name in required:
        if name not in header:
            issues.append(Issue("error", file, 1, None, f"missing column {name!r} (header must have "
                                f"{','.join(required)}{''.join(f'[,{o}]' for o in optional)})"))
    for i, name in enumerate(header):
        if name not in allowed:
            issues.append(Issue("error", file, 1, None,
                                f"unexpected column {name!r} (allowed: {', '.join(allowed)})"))
        elif name in header[:i]:
            issues.append(Issue("error", file, 1, None, f"column {name!r} appears twice in the header"))
    records: list[tuple[int, dict[str, str]]] = []
    last = reader.line_num
    try:
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not cells:
                continue
            if len(cells) != len(header):
                issues.append(Issue("error", file, start, None,
                                    f"row has {len(cells)} fields, the header has {len(header)}"))
                continue
            bad = [(h, c) for h, c in zip(header, cells) if _CONTROL_RE.search(c)]
            for h, c in bad:
                ch = _CONTROL_RE.search(c).group()
                issues.append(Issue("error", file, start, h, f"cell contains the control character U+{ord(ch):04X} "
                                    "(NUL, escape, carriage return, ...): it would reach the report; remove it"))
            if not bad:
                records.append((start, {h: c for h, c in zip(header, cells) if h in allowed}))
    except csv.Error as exc:
        issues.append(Issue("error", file, reader.line_num, None, f"unreadable CSV: {exc}"))
    return header, records, issues


_TABLE_RE = re.compile(r"^\s*\[\s*\"?([^\]\"]+?)\"?\s*\]\s*(#.*)?$")


def parse_toml(raw: bytes, file: str) -> tuple[dict, dict[str, int], list[Issue]]:
    """Parse a metadata TOML file; return (tables, {table name: line of its header}, issues)."""
    text, issues = decode_csv_bytes(raw, file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        issues.append(Issue("error", file, int(m.group(1)) if m else None, None, f"invalid TOML: {exc}"))
        return {}, {}, issues
    lines: dict[str, int] = {}
    for no, line in enumerate(text.splitlines(), start=1):
        m = _TABLE_RE.match(line)
        if m:
            lines.setdefault(m.group(1).strip(), no)
    return data, lines, issues


_TOML_TABLE_RE = re.compile(r"^\s*\[\s*\"?([^\]\"]+?)\"?\s*\]")
_TOML_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def toml_key_lines(text: str) -> dict[tuple[str, str], int]:
    """{(table, key): line} for the `key = ...` lines of a flat TOML file, so a bad value is located
    on its own line rather than its table's header (first occurrence wins)."""
    out: dict[tuple[str, str], int] = {}
    table = ""
    for no, line in enumerate(text.splitlines(), start=1):
        if m := _TOML_TABLE_RE.match(line):
            table = m.group(1).strip()
        elif m := _TOML_KEY_RE.match(line):
            out.setdefault((table, m.group(1)), no)
    return out
