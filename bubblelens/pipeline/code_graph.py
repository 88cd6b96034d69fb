"""The package's import graph, read from the source with `ast`: stage code versions and the layering test.

A cached stage's code version is the hash of every bubblelens module its entry point imports,
transitively, plus the parent packages' `__init__.py` files (Python runs them first). Reading the graph
from the source instead of listing modules by hand means a new helper module cannot be forgotten: an
edit anywhere in a stage's closure invalidates its entries, an edit outside it does not. Imports inside
functions count too (they run when the stage does). The package has no dynamic imports for this to miss;
a test bans `importlib.import_module` and `__import__` inside it.

Import statements are found by a line scanner (`scan_imports`), not by parsing every module with `ast`: a
build reads the graph once per process, and parsing the package took 0.35-0.55 s of each build, about 3 % of
a CSV-edit rebuild. A file the scanner may have misread (`read_imports`: an `import` it did not account for)
is parsed with `ast` instead (`ast_imports`, the reference); a test checks over the whole package and on
every awkward form that the graph holds every import the parser finds (it may hold more, from prose that
begins a line with "import", which only makes a closure larger).
"""
from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from bubblelens.core.io import tree_digest

PACKAGE = "bubblelens"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ImportEdge:
    """`source` imports `target` at `file`:`line`."""

    source: str
    target: str
    file: Path
    line: int


# One import statement at the start of a line (indented too: imports inside functions count):
# `import a.b as c, d` or `from ..a.b import (x as y,  # a comment (even with parentheses)` ... `z)`.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(?P<base>\.*[\w.]*)[ \t]+import[ \t]*"
                     r"(?P<names>\((?:[^)#]|#[^\n]*)*\)|[^\n#;\\]*)|import[ \t]+(?P<modules>[^\n#;\\]+))", re.M)
_COMMENT = re.compile(r"#[^\n]*")
# The word `import` wherever Python code could hold the keyword (not in `importlib` or `__import__`).
_KEYWORD = re.compile(r"(?<![\w.])import(?!\w)")
# A backslash continuation in or into an import statement (`from a \` + newline + `import b`).
_CONTINUED = re.compile(r"^[ \t]*(?:from|import)\b[^\n]*\\\n|\\\n[ \t]*import\b", re.M)


@dataclass(frozen=True)
class ImportStatement:
    """`from <level dots><base> import <names>` (level >= 0) or `import <names>` (base None), at `line`."""

    line: int
    base: str | None
    level: int
    names: tuple[str, ...]


def _names(text: str) -> tuple[str, ...]:
    """Imported names of a statement's name list, without aliases, comments and parentheses."""
    text = _COMMENT.sub("", text).strip().strip("()")
    return tuple(part.split()[0] for part in text.split(",") if part.strip())


def scan_imports(source: str) -> list[ImportStatement]:
    """Every import statement of `source`, found line by line (see the module docstring)."""
    out, line, pos = [], 1, 0
    for m in _IMPORT.finditer(source):
        line += source.count("\n", pos, m.start())
        pos = m.start()
        if m["modules"] is not None:
            out.append(ImportStatement(line, None, 0, _names(m["modules"])))
        else:
            base = m["base"]
            level = len(base) - len(base.lstrip("."))
            out.append(ImportStatement(line, base[level:], level, _names(m["names"])))
    return out


def read_imports(source: str) -> list[ImportStatement]:
    """`scan_imports` where it accounted for every `import` in the code, else Python's parser: one import
    keyword per statement found, and no backslash continuation in or into one. The forms the scanner cannot
    read (`if x: import y`, `a; import b`, `from a \\` + newline + `import b`, a bracket left open in a
    docstring) all leave a keyword it did not account for or such a continuation; prose and strings with
    the word also send a file to the parser, which only costs time."""
    statements = scan_imports(source)
    code = _COMMENT.sub("", source)
    if _CONTINUED.search(code) or len(_KEYWORD.findall(code)) != len(statements):
        return ast_imports(source)
    return statements


def ast_imports(source: str) -> list[ImportStatement]:
    """The same statements as `scan_imports`, from Python's own parser (the scanner's reference)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            out.append(ImportStatement(node.lineno, node.module or "", node.level, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            out.append(ImportStatement(node.lineno, None, 0, tuple(a.name for a in node.names)))
    return out


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


class CodeGraph:
    """Modules of one package directory and the imports between them."""

    def __init__(self, package_dir: Path = PACKAGE_DIR, package: str = PACKAGE,
                 find_imports: Callable[[str], list[ImportStatement]] = read_imports) -> None:
        self.find_imports = find_imports
        self.package_dir = Path(package_dir)
        self.package = package
        self.modules: dict[str, Path] = {
            _module_name(p, self.package_dir, package): p
            for p in sorted(self.package_dir.rglob("*.py")) if "__pycache__" not in p.parts}
        self.edges: dict[str, list[ImportEdge]] = {m: self._imports(m, p) for m, p in self.modules.items()}

    def is_package(self, module: str) -> bool:
        return self.modules[module].name == "__init__.py"

    def _resolve_from(self, module: str, statement: ImportStatement) -> str:
        if not statement.level:
            return statement.base or ""
        base = module.split(".")
        if not self.is_package(module):
            base = base[:-1]                       # a module's package is its parent
        base = base[: len(base) - statement.level + 1]
        return ".".join(base + ([statement.base] if statement.base else []))

    def _imports(self, module: str, path: Path) -> list[ImportEdge]:
        out: list[ImportEdge] = []
        for statement in self.find_imports(path.read_text(encoding="utf-8")):
            if statement.base is None:
                targets = list(statement.names)
            else:
                base = self._resolve_from(module, statement)
                targets = [base, *(f"{base}.{name}" for name in statement.names)]
            out += [ImportEdge(module, t, path, statement.line) for t in targets if t in self.modules and t != module]
        return out

    def parents(self, module: str) -> list[str]:
        """The packages Python initialises before `module`: bubblelens, bubblelens.training, ..."""
        parts = module.split(".")
        return [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in self.modules]

    def closure(self, entries: Iterable[str]) -> set[str]:
        """Every module that importing `entries` runs: their imports, transitively, and parent packages."""
        todo = list(entries)
        unknown = [e for e in todo if e not in self.modules]
        if unknown:
            raise KeyError(f"not a module of {self.package}: {', '.join(unknown)}")
        seen: set[str] = set()
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            todo.extend(e.target for e in self.edges[m])
            todo.extend(self.parents(m))
        return seen

    def code_version(self, entries: Iterable[str], extra: Iterable[Path] = ()) -> str:
        """Hash of the closure's sources (by module name) and of the non-Python inputs in `extra`
        (files or directories, hashed by content)."""
        h = hashlib.sha256()
        for m in sorted(self.closure(entries)):
            h.update(m.encode() + b"\0")
            h.update(self.modules[m].read_bytes() + b"\0")
        for path in sorted(Path(p) for p in extra):
            h.update(path.name.encode() + b"\0")
            h.update((path.read_bytes() if path.is_file() else tree_digest(path).encode()) + b"\0")
        return h.hexdigest()[:16]

    def cycles(self) -> list[list[str]]:
        """Import cycles among modules (a package importing its own submodules, or the reverse, is not one)."""
        state: dict[str, int] = {}
        stack: list[str] = []
        found: list[list[str]] = []

        def visit(u: str) -> None:
            state[u] = 1
            stack.append(u)
            for e in self.edges[u]:
                v = e.target
                if v.startswith(u + ".") or u.startswith(v + "."):
                    continue
                if state.get(v) == 1:
                    found.append(stack[stack.index(v):] + [v])
                elif not state.get(v):
                    visit(v)
            stack.pop()
            state[u] = 2

        for m in sorted(self.modules):
            if not state.get(m):
                visit(m)
        return found


@lru_cache(maxsize=1)
def package_graph() -> CodeGraph:
    """The installed package's graph, read once per process."""
    return CodeGraph()
