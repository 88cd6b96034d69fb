"""Where the shipped data and templates are, from a source checkout or from any installed copy.

An editable install (`pip install -e .`) reads `data/` and `templates/` at the top of the checkout, where
analysts and designers edit them. A regular install (`pip install .` or `pip install git+URL`) carries a
copy of both inside the package, under `bubblelens/_shipped/`, put there by setup.py's build step; that
copy is read-only by convention (`data add` refuses to write there, `data init DIR` copies it out).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bubblelens.core.errors import BubblelensError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
SHIPPED_DIR = PACKAGE_DIR / "_shipped"          # a regular install's copy of data/ and templates/
_CHECKOUT_DIR = PACKAGE_DIR.parent


def _root() -> Path:
    if (SHIPPED_DIR / "data").is_dir():
        return SHIPPED_DIR
    return _CHECKOUT_DIR


RESOURCE_ROOT = _root()
DATA_DIR = RESOURCE_ROOT / "data"
TEMPLATES_DIR = RESOURCE_ROOT / "templates"

# What a build reads from `--data DIR` (the curated, analyst-edited inputs), relative to DIR. `data init`
# copies exactly these; readers name their path through `curated()` so the list cannot fall behind.
CURATED = ("market", "reference", "costs", "external", "claims.toml", "claims.lock")


def curated(data_dir: Path, name: str) -> Path:
    """The path of one curated input under `data_dir`; naming one outside CURATED is a programming error."""
    if name not in CURATED:
        raise KeyError(f"{name!r} is not a curated input; add it to core.resources.CURATED")
    return Path(data_dir) / name


def is_installed_copy(path: Path) -> bool:
    """True when `path` lies inside a regular install's own shipped data (never edited in place)."""
    return Path(path).resolve().is_relative_to(SHIPPED_DIR.resolve())


# Left out when curated data is copied: caches, editor and OS litter, and the hidden temp files of an
# atomic write in progress (core/io.py), which a checkout's data/ can hold while `data add` runs.
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.py[cod]", ".*", "*~", "*.swp")


def copy_curated(dest: Path, source: Path = DATA_DIR) -> list[Path]:
    """Copy every CURATED entry of `source` into `dest` (created if missing); returns the copied paths.

    Nothing in `dest` is touched until the whole copy exists in a temporary directory on the same
    filesystem; then each entry is moved in by rename (an existing one is moved aside first and deleted
    only once all are in), so a failure leaves `dest` as it was. Entries of `dest` not in CURATED are kept.
    Copies are writable (0644 files, 0755 directories under the usual umask) even when the installed
    source is read-only. Refusing a non-empty `dest` is the caller's decision (`data init --force`).
    """
    dest, source = Path(dest).resolve(), Path(source)
    missing = [name for name in CURATED if not (source / name).exists()]
    if missing:
        raise BubblelensError(f"the shipped data in {source} lacks {', '.join(missing)}; reinstall bubblelens")
    fresh = not dest.exists()
    if fresh:
        dest.parent.mkdir(parents=True, exist_ok=True)
    # A new `dest` appears by one rename of a sibling; an existing one gets its entries from a staging
    # directory inside it, so the renames never cross a mount point even when `dest` is one.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.init-", dir=dest.parent if fresh else dest))
    try:
        for name in CURATED:
            src = source / name
            if src.is_dir():
                # copyfile, not copy2: the mode bits of a read-only install must not come along.
                shutil.copytree(src, staging / name, ignore=_NOT_COPIED, copy_function=shutil.copyfile)
            else:
                shutil.copyfile(src, staging / name)
        _make_writable(staging)
        if fresh:
            staging.rename(dest)
        else:
            _move_entries_in(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)      # gone already after a successful rename
    return [dest / name for name in CURATED]


def _make_writable(root: Path) -> None:
    from bubblelens.core.io import shared_mode  # noqa: PLC0415 - core.io imports numpy; keep this module light

    os.chmod(root, shared_mode(directory=True))
    for path in root.rglob("*"):
        os.chmod(path, shared_mode(directory=path.is_dir()))


def _move_entries_in(staging: Path, dest: Path) -> None:
    """Rename each CURATED entry from `staging` into `dest`; on any failure put the old entries back."""
    aside = Path(tempfile.mkdtemp(prefix=".init-old-", dir=dest))
    moved: list[str] = []
    try:
        for name in CURATED:
            if _exists(dest / name):
                (dest / name).rename(aside / name)
            moved.append(name)
            (staging / name).rename(dest / name)
    except BaseException as exc:
        try:
            for name in reversed(moved):
                if not _exists(staging / name):      # the new copy made it in: take it out again
                    _remove(dest / name)
                if _exists(aside / name):
                    (aside / name).rename(dest / name)
        except OSError:
            # Rolling back failed too: keep the analyst's old entries where they are rather than lose them.
            raise BubblelensError(f"could not replace the curated data in {dest} ({exc}) nor put it back; "
                                  f"the previous entries are in {aside}") from exc
        shutil.rmtree(aside, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)          # rmtree unlinks symlinks, never what they point to


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
