"""The one way bubblelens writes files: atomically, with the modes shared files should have, as strict JSON.

Every output (report, charts, results, manifest, cache entries, checkpoints, curated CSVs) goes through
`atomic_write` or `atomic_directory`: the content is written beside its target under a temporary name and
renamed over it, so a killed build never leaves half a file that a later build would trust. Temporary
files made by `tempfile` are private (0600, or 0700 for directories); outputs are meant to be shared, so
they get the usual modes under the process umask (0644 files, 0755 directories with umask 022).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def shared_mode(directory: bool = False) -> int:
    """0666 or 0777 less the umask: what `open()` or `mkdir()` would have given."""
    return (0o777 if directory else 0o666) & ~_umask()


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Call `writer(tmp)` to fill a temp file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        writer(tmp)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, shared_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield an empty temp directory beside `target`; on success it replaces `target` by renames only.

    Readers never see a half-filled directory: the old one is moved aside, the new one renamed into place,
    the old one deleted. On failure the temp directory is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, shared_mode(directory=True))
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def dumps_json(obj: Any) -> str:
    """Strict JSON (NaN and infinities become null), sorted keys: the form of every file bubblelens writes."""
    return json.dumps(_finite(obj), indent=2, sort_keys=True, ensure_ascii=False, default=_json_default,
                      allow_nan=False) + "\n"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.floating):
        return _finite(float(obj))
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def tree_digest(root: Path) -> str:
    """sha256 over (relative name, bytes) of every file under `root`, sorted; hidden files (temp files of
    atomic writes) and __pycache__ are skipped. A missing `root` gives the hash of nothing."""
    h = hashlib.sha256()
    root = Path(root)
    for p in sorted(root.rglob("*")) if root.is_dir() else []:
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            h.update(rel.as_posix().encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()[:16]
