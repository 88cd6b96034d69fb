"""Content-addressed stage cache with atomic writes.

An entry is a directory `<root>/<stage>/<fingerprint>/` holding `result.json`, optional `arrays.npz` and
`entry.json`; it is written in a temporary sibling directory and renamed into place in one step, so a killed
build never leaves an entry that a later build would trust. The fingerprint covers the stage name, its
params, the fingerprints of its inputs, the source of the modules that compute it, the versions of the
libraries whose numerics it depends on and a global epoch (bump `CACHE_EPOCH` to invalidate everything).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

CACHE_EPOCH = 1
# Directory names under the cache root that `clear` may delete (pipeline stage names that cache).
CACHE_STAGES = ("features", "train", "evaluate", "render", "reference")
CACHE_ENV = "BUBBLELENS_CACHE"
_ENTRY_FILE = "entry.json"


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bubblelens"


def library_versions() -> dict[str, str]:
    import pandas
    import torch

    return {"torch": torch.__version__, "numpy": np.__version__, "pandas": pandas.__version__}


def code_version(*modules: ModuleType | str) -> str:
    """Hash of the source of the modules that compute a stage: editing them invalidates its entries.

    Modules may be given as objects or as names inside the package ("train" -> bubblelens.train)."""
    import importlib

    mods = [importlib.import_module(f"bubblelens.{m}") if isinstance(m, str) else m for m in modules]
    h = hashlib.sha256()
    for mod in sorted(mods, key=lambda m: m.__name__):
        h.update(mod.__name__.encode())
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:16]


def fingerprint(stage: str, params: Any, inputs: dict[str, str], code: str) -> str:
    payload = {
        "stage": stage,
        "params": params,
        "inputs": dict(sorted(inputs.items())),
        "code": code,
        "libraries": library_versions(),
        "epoch": CACHE_EPOCH,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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


@dataclass
class Entry:
    result: dict
    arrays: dict[str, np.ndarray]
    path: Path


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root()

    def _dir(self, stage: str, fp: str) -> Path:
        return self.root / stage.replace("/", "_") / fp

    def lookup(self, stage: str, fp: str) -> Entry | None:
        """The entry if complete; a directory without its entry file is ignored (and never trusted)."""
        d = self._dir(stage, fp)
        if not (d / _ENTRY_FILE).is_file():
            return None
        try:
            result = json.loads((d / "result.json").read_text(encoding="utf-8"))
            arrays: dict[str, np.ndarray] = {}
            if (d / "arrays.npz").is_file():
                with np.load(d / "arrays.npz", allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
            return None  # a damaged entry is recomputed, not trusted
        return Entry(result, arrays, d)

    def store(self, stage: str, fp: str, result: dict, arrays: dict[str, np.ndarray] | None = None) -> Entry:
        final = self._dir(stage, fp)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{fp}.", dir=final.parent))
        try:
            (tmp / "result.json").write_text(dumps_json(result), encoding="utf-8")
            if arrays:
                buf = io.BytesIO()
                np.savez_compressed(buf, **arrays)
                (tmp / "arrays.npz").write_bytes(buf.getvalue())
            (tmp / _ENTRY_FILE).write_text(dumps_json({"stage": stage, "fingerprint": fp}), encoding="utf-8")
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Entry(result, dict(arrays or {}), final)

    def scratch_dir(self, stage: str, fp: str) -> Path:
        """A per-entry working directory (checkpoints of an interrupted training live here)."""
        d = self.root / "scratch" / stage.replace("/", "_") / fp
        d.mkdir(parents=True, exist_ok=True)
        return d

    def drop_scratch(self, stage: str, fp: str) -> None:
        shutil.rmtree(self.root / "scratch" / stage.replace("/", "_") / fp, ignore_errors=True)

    def clear(self) -> int:
        """Remove every entry (only the directories bubblelens writes, never other files under the root);
        returns the number of bytes freed."""
        if not self.root.exists():
            return 0
        size = 0
        for child in self.root.iterdir():
            if child.is_dir() and (child.name in CACHE_STAGES or child.name == "scratch"):
                size += sum(p.stat().st_size for p in child.rglob("*") if p.is_file())
                shutil.rmtree(child)
        return size
