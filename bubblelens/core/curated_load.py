"""The one shape of a curated-data loader: read and validate each file, cross-check the files, build.

Both curated folders go through it: data/market (hand-curated series, one quoted source per row;
market/load.py) and data/external (whole public tables, provenance per data set; external/load.py). Like
an owid/etl garden step (load -> process -> save, the origin — producer, citation, URL, access date,
licence — carried with the table), each folder's `CuratedFolder` subclass says only

- `read`: load each file and judge it on its own (its schema's rules), recording every fault;
- `cross_check`: the rules between files (a cited source is defined, a table has its CSV, ...);
- `build`: the public objects, each table with the metadata that says where it came from.

This module runs those steps in that order for every folder, lists and reads the files (`Scan`: overrides
let `data add` judge a candidate file before writing it), and owns the error path: any error, and
`load` raises the folder's `CuratedDataError` (exit 3) listing them all, so a broken copy never reaches
an analysis; warnings stay on the loaded object. `validate` is the same scan without `build`, which is
what `bubblelens data check` prints.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bubblelens.core.curated_files import (Issue, decode_csv_bytes, display_path, parse_toml, pydantic_issues,
                                           read_csv_records, toml_key_lines)
from bubblelens.core.errors import DataError
from bubblelens.core.resources import curated


class CuratedDataError(DataError):
    """Invalid curated data; carries every `Issue` so a CLI can list them all. The message is the first
    error (one sentence naming file, line and column), with a count of the others and where to see them."""

    def __init__(self, issues: list[Issue], action: str = "") -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        more = f" (and {len(errors) - 1} more errors; run `bubblelens data check`)" if len(errors) > 1 else ""
        super().__init__(f"{action}{errors[0] if errors else 'invalid data'}{more}")


def errors_first(issues: list[Issue]) -> list[Issue]:
    """Errors before warnings, each group in the order found (files in order, lines in order)."""
    return sorted(issues, key=lambda i: i.severity != "error")


@dataclass(frozen=True)
class TomlTables:
    """A metadata TOML file as read: its tables, the line of each `[table]` header and of each `key =`
    (so a fault points at its own line), all empty when the file is missing or does not parse."""

    tables: dict = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    key_lines: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class Scan:
    """One pass over one curated folder: the issues found so far and the helpers that read its files.
    A folder's loader subclasses it to keep what its files held until `build`."""

    folder: Path
    today: date
    overrides: dict[str, bytes] = field(default_factory=dict)   # file name -> bytes to judge instead
    issues: list[Issue] = field(default_factory=list)

    def error(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.issues.append(Issue("error", file, line, column, message))

    def warning(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.issues.append(Issue("warning", file, line, column, message))

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)

    def shown(self, name: str) -> str:
        """A file of this folder as issues name it."""
        return display_path(self.folder / name)

    def has(self, name: str) -> bool:
        return name in self.overrides or (self.folder / name).is_file()

    def missing(self, name: str, why: str = "") -> bool:
        """Record `name is missing` when the folder lacks the file; True when it does."""
        if self.has(name):
            return False
        self.error(self.shown(name), None, None, f"{name} is missing{why}")
        return True

    def read(self, name: str) -> bytes:
        return self.overrides[name] if name in self.overrides else (self.folder / name).read_bytes()

    def csv_names(self, exclude: tuple[str, ...] = ()) -> list[str]:
        """The folder's CSV files by name (with any override), hidden ones (an atomic write's temp file)
        left out."""
        names = {p.name for p in self.folder.glob("*.csv")} | {n for n in self.overrides if n.endswith(".csv")}
        return [n for n in sorted(names - set(exclude)) if not n.startswith(".")]

    def read_csv(self, name: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
                 ) -> tuple[list[str], list[tuple[int, dict[str, str]]], bool]:
        """(header, [(line, {column: cell})], clean): the records of a CSV file, every encoding, header and
        row-shape fault recorded; `clean` when there was none (then the records are all its rows)."""
        shown = self.shown(name)
        text, decode_issues = decode_csv_bytes(self.read(name), shown)
        header, records, read_issues = read_csv_records(text, shown, required, optional)
        self.issues.extend(decode_issues + read_issues)
        return header, records, not decode_issues and not read_issues

    def read_toml(self, name: str, why_needed: str = "") -> TomlTables:
        """A metadata TOML file's tables; a missing file or invalid TOML is recorded and reads as empty."""
        if self.missing(name, why_needed):
            return TomlTables()
        raw, shown = self.read(name), self.shown(name)
        tables, lines, issues = parse_toml(raw, shown)
        self.issues.extend(issues)
        return TomlTables(tables, lines, toml_key_lines(decode_csv_bytes(raw, shown)[0]))

    def check(self, model: type[BaseModel], data: dict, file: str, line: int | None, *,
              context: dict | None = None, restate: Callable[[Issue], Issue] | None = None
              ) -> tuple[BaseModel | None, list[Issue]]:
        """(`model` validated from `data`, []) or (None, one issue per field fault, recorded). `restate`
        re-words or re-locates each fault first (a TOML table's name, the line of the faulty key)."""
        try:
            return model.model_validate(data, context=context), []
        except ValidationError as exc:
            found = pydantic_issues(exc, file, line)
            found = [restate(i) for i in found] if restate else found
            self.issues.extend(found)
            return None, found


S = TypeVar("S", bound=Scan)
T = TypeVar("T")


class CuratedFolder(Generic[S, T]):
    """The loader of one curated folder (`data_dir/<subdir>`): subclasses give `read`, `cross_check` and
    `build`; `scan`, `validate` and `load` run them the same way for every folder."""

    subdir: ClassVar[str]                         # one of core.resources.CURATED
    scan_type: ClassVar[type[Scan]] = Scan
    error_type: ClassVar[type[CuratedDataError]] = CuratedDataError
    folder_hint: ClassVar[str] = ""              # said after "curated-data directory has no <subdir>/ folder"

    def read(self, scan: S) -> None:
        """Load each file and validate it on its own, recording every fault on `scan`."""
        raise NotImplementedError

    def cross_check(self, scan: S) -> None:
        """The rules between files, on what `read` kept."""
        raise NotImplementedError

    def build(self, scan: S, data_dir: Path, issues: list[Issue]) -> T:
        """The public objects, from a scan without errors; `issues` are its warnings."""
        raise NotImplementedError

    def scan(self, data_dir: Path, today: date | None = None, overrides: dict[str, bytes] | None = None) -> S:
        """Every fault of the folder (with `overrides` standing in for files of those names)."""
        folder = curated(data_dir, self.subdir)
        scan: S = self.scan_type(folder=folder, today=today or date.today(),  # type: ignore[assignment]
                                 overrides=dict(overrides or {}))
        if not folder.is_dir():
            scan.error(display_path(folder), None, None,
                       f"curated-data directory has no {self.subdir}/ folder{self.folder_hint}")
            return scan
        self.read(scan)
        self.cross_check(scan)
        return scan

    def validate(self, data_dir: Path, today: date | None = None) -> list[Issue]:
        """Every error and warning in the folder, errors first, each naming file, line and column."""
        return errors_first(self.scan(Path(data_dir), today).issues)

    def load(self, data_dir: Path, today: date | None = None) -> T:
        """The folder's public objects; raises `error_type` (a `DataError`, exit 3) on any error."""
        data_dir = Path(data_dir)
        scan = self.scan(data_dir, today)
        issues = errors_first(scan.issues)
        if scan.has_errors:
            raise self.error_type(issues)
        return self.build(scan, data_dir, issues)
