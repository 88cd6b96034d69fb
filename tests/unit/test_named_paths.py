"""Every file and module the prose names exists. docs/*.md, README.md and the docstrings and comments of
bubblelens/ are scanned for
- repository paths: `bubblelens/training/loop.py`, `docs/claims.md`, `data/costs/`, `tests/...`, `benchmarks/...`;
- paths relative to the package (`claims/engine.py`, `analysis/bubbles.null_drift`) or, for data files, to
  data/ (`market/series.toml`);
- bare file names of modules and pages (`loop.py`, `claims.md`): some file of that name must exist;
- dotted names: `bubblelens.training.loop`, `claims.engine`, `core.io.atomic_directory`, `timeseries.radf`,
  and snake_case `module_name.attr` (a retired module such as `report_model.Table`).
A re-layout that renames a file leaves such names behind; this test lists each one that no longer resolves.
It cannot tell whether a name that exists is the one the text means (`market.py` exists in report/charts/).
"""
from __future__ import annotations

import io
import ast
import re
import tokenize
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bubblelens"
DATA = ROOT / "data"
SUBPACKAGES = frozenset(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
ROOTS = frozenset({"bubblelens", "docs", "data", "tests", "benchmarks", "templates", "reports", "results"})
ROOT_FILES = frozenset({"README.md", "pyproject.toml", "setup.py", "MANIFEST.in"})

# Paths that are never in a checkout because something creates them: a build (under --out, or the gitignored
# reports/) or packaging. Exact names, so a misspelt output name is still caught.
GENERATED = frozenset({
    "results/",                        # a build's results folder (pipeline/results.py)
    "results/claims.json",             # written by the claims stage
    "results/metrics.csv",             # written with the results files
    "results/nfe.csv",                 # each flow run's metrics at every number of sampling steps
    "results/bundle",                  # the zip of results/ a CPU-only machine renders from
    "reports/charts/",                 # chart files beside a rendered report
    "reports/bubblelens-report.pdf",   # the rendered report
    "bubblelens/_shipped/",            # setup.py's build step copies data/ and templates/ there (gitignored)
})

# Broken names in files this change could not edit, as "file: name". Each must still be broken (the second
# test fails once it is fixed, so the entry is removed with the fix); none may be added to hide a new one.
PENDING: frozenset[str] = frozenset()

# `<id>`, `{name}` and `*` are placeholders: the name resolves when some file matches it.
_PLACEHOLDER = re.compile(r"<[^<>/]*>|\{[^{}/]*\}")
# A path: two or more segments, not continuing a longer token (URLs, `~/...`, `../shared/...`, `$VAR/...`).
_PATH = re.compile(r"(?<![\w./~$:<>{}*-])((?:[\w<>{}*-][\w.<>{}*-]*/)+[\w.<>{}*-]*)")
# A bare file name of a module or a page (`loop.py`, `claims.md`), not part of a path.
_BARE = re.compile(r"(?<![\w./~$:<>{}*-])([A-Za-z_][\w-]*\.(?:py|md))(?![\w/-])")
# A dotted name: `bubblelens.x.y`, `claims.engine.ClaimResult`, `report_model.Table`.
_DOTTED = re.compile(r"(?<![\w./~$:-])([a-z][a-z0-9_]*)((?:\.[A-Za-z_]\w*)+)(?![\w-])")
# A snake_case name of two or more words reads as a module name even where no module has it.
_MODULE_LIKE = re.compile(r"[a-z]{2,}(?:_[a-z0-9]{2,})+")
_FILE_SUFFIXES = frozenset({".py", ".md", ".toml", ".csv", ".json", ".jsonl", ".lock", ".css", ".j2", ".txt", ".pdf",
                            ".npz", ".in", ".cfg", ".yaml", ".yml", ".zip", ".pt", ".html", ".ttf", ".otf", ".xls",
                            ".xlsx", ".info"})
_STATEMENT_START = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)


def _texts_of_module(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each comment and docstring of a module: one pass of the tokenizer, where a docstring
    is a string that is a statement of its own (module, class, function and attribute docstrings)."""
    out, before = [], tokenize.NEWLINE
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.COMMENT:
            out.append((tok.start[0], tok.string))
        elif tok.type == tokenize.STRING and before in _STATEMENT_START \
                and tokens[i + 1].type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            out.append((tok.start[0], ast.literal_eval(tok.string)))
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            before = tok.type
    return out


def _texts() -> list[tuple[Path, int, str]]:
    """(file, line, text) of every line of prose scanned."""
    out = []
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        out += [(page, i, line) for i, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)]
    for module in sorted(PACKAGE.rglob("*.py")):
        for line, text in _texts_of_module(module):
            out += [(module, line + i, part) for i, part in enumerate(text.splitlines())]
    return out


@lru_cache(maxsize=None)
def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _modules_named(stem: str) -> tuple[Path, ...]:
    return tuple(sorted(p for p in PACKAGE.rglob(f"{stem}.py")))


@lru_cache(maxsize=None)
def _basenames() -> frozenset[str]:
    names = set(ROOT_FILES)
    for top in ("bubblelens", "tests", "benchmarks", "docs", "data"):
        names |= {p.name for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".md")}
    return frozenset(names)


def _exists(rel: str, base: Path = ROOT) -> bool:
    if _PLACEHOLDER.search(rel) or "*" in rel:
        return any(base.glob(_PLACEHOLDER.sub("*", rel).rstrip("/")))
    return (base / rel).exists()


def _defines(module: Path, name: str) -> bool:
    """The module (a .py file or a package folder) has `name`: a submodule, or an identifier in its source."""
    if module.is_dir():
        if (module / f"{name}.py").is_file() or (module / name / "__init__.py").is_file():
            return True
        module = module / "__init__.py"
    return re.search(rf"\b{re.escape(name)}\b", _source(module)) is not None


def _module_attr(rel: str) -> bool:
    """`claims/engine.ClaimResult`: bubblelens/claims/engine.py exists and has ClaimResult."""
    stem, _, attr = rel.rpartition(".")
    module = PACKAGE / f"{stem}.py"
    return bool(stem) and module.is_file() and _defines(module, attr)


def _path_problem(token: str) -> str | None:
    rel = token.rstrip(".,:;")
    head = rel.split("/", 1)[0]
    if head in ROOTS:
        if rel in GENERATED or _exists(rel) or (head == "bubblelens" and _module_attr(rel[len("bubblelens/"):])):
            return None
        return "no such path"
    if head in SUBPACKAGES:                  # relative to the package, or (market/, external/ ...) to data/
        if _exists(rel, PACKAGE) or _module_attr(rel) or (Path(rel).suffix != ".py" and _exists(rel, DATA)):
            return None
        return "no such path under bubblelens/ (or data/)"
    return None                              # not a repository path: 'P/D', 'd_loss/g_loss', a URL's tail


def _package_name_problem(parts: list[str]) -> str | None:
    """`parts` of a dotted name below bubblelens: packages and modules down to the first attribute."""
    here = PACKAGE
    for i, part in enumerate(parts):
        if (here / part / "__init__.py").is_file():
            here = here / part
        elif (here / f"{part}.py").is_file():
            here = here / f"{part}.py"
            rest = parts[i + 1:]
            return None if not rest or _defines(here, rest[0]) else f"{here.name} has no {rest[0]}"
        elif i > 0 and _defines(here, part):
            return None                      # an attribute of the package reached so far
        else:
            return "no such module"
    return None


def _dotted_problem(stem: str, parts: list[str]) -> str | None:
    if f".{parts[0]}" in _FILE_SUFFIXES:
        return None                          # a file name such as ie_data.xls, not a module
    if stem == "bubblelens":
        return _package_name_problem(parts)
    if stem in SUBPACKAGES:
        return _package_name_problem([stem, *parts])
    if modules := _modules_named(stem):      # `timeseries.radf`: a module known by its own name
        return None if any(_defines(m, parts[0]) for m in modules) else f"no module {stem}.py has {parts[0]}"
    return "no such module" if _MODULE_LIKE.fullmatch(stem) else None


@lru_cache(maxsize=None)
def broken_names() -> tuple[str, ...]:
    """'file:line: name (why)' for each name that does not resolve (scanned once per test session)."""
    problems = []
    for path, line, text in _texts():
        where = f"{path.relative_to(ROOT)}:{line}"
        for m in _PATH.finditer(text):
            if (why := _path_problem(m.group(1))) is not None:
                problems.append(f"{where}: {m.group(1).rstrip('.,:;')} ({why})")
        for m in _BARE.finditer(text):
            if m.group(1) not in _basenames():
                problems.append(f"{where}: {m.group(1)} (no file of that name)")
        for m in _DOTTED.finditer(text):
            if (why := _dotted_problem(m.group(1), m.group(2)[1:].split("."))) is not None:
                problems.append(f"{where}: {m.group(0)} ({why})")
    return tuple(problems)


def _key(problem: str) -> str:
    """'file:line: name (why)' -> 'file: name', the form of PENDING entries."""
    where, _, rest = problem.partition(": ")
    return f"{where.rsplit(':', 1)[0]}: {rest.split(' (', 1)[0]}"


def test_named_paths_and_modules_exist():
    problems = [p for p in broken_names() if _key(p) not in PENDING]
    assert not problems, "names of files or modules that do not exist:\n" + "\n".join(problems)


def test_pending_names_are_still_broken():
    fixed = PENDING - {_key(p) for p in broken_names()}
    assert not fixed, f"fixed now: remove from PENDING: {sorted(fixed)}"


def test_the_scanner_sees_each_kind_of_name():
    """The patterns catch what they are meant to, so an empty list above means something."""
    assert _path_problem("bubblelens/training/loop.py") is None
    assert _path_problem("bubblelens/market_schema.py") is not None
    assert _path_problem("claims/engine.py") is None and _path_problem("claims/engine.ClaimResult") is None
    assert _path_problem("claims/engine.NoSuchThing") is not None
    assert _path_problem("market/series.toml") is None                   # data/market/series.toml
    assert _path_problem("data/market/<series_id>.csv") is None
    assert _path_problem("results/claims.json") is None and _path_problem("results/claim.json") is not None
    assert _path_problem("P/D") is None and _path_problem("d_loss/g_loss") is None
    assert _dotted_problem("bubblelens", ["training", "loop", "RunResult"]) is None
    assert _dotted_problem("bubblelens", ["charts"]) is not None
    assert _dotted_problem("core", ["io", "atomic_directory"]) is None
    assert _dotted_problem("timeseries", ["radf"]) is None and _dotted_problem("timeseries", ["nope"]) is not None
    assert _dotted_problem("report_model", ["Table"]) is not None       # a retired module's name
    assert _dotted_problem("np", ["asarray"]) is None and _dotted_problem("ie_data", ["xls"]) is None
    text = "see ~/.cache/x, https://a.org/docs/x and docs/claims.md."
    assert [m.group(1) for m in _PATH.finditer(text)] == ["docs/claims.md."]
    assert [m.group(1) for m in _BARE.finditer("train_vae.py and claims/engine.py")] == ["train_vae.py"]
    assert [m.group(0) for m in _DOTTED.finditer("bubblelens.egg-info, `claims.engine`")] == ["claims.engine"]
