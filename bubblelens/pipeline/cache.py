"""Content-addressed stage cache with atomic writes.

An entry is a directory `<root>/<stage>/<fingerprint>/` holding `result.json`, optional `arrays.npz` and
`entry.json`; it is written in a temporary sibling directory and renamed into place in one step, so a killed
build never leaves an entry that a later build would trust. The fingerprint covers the stage name, its
params, the fingerprints of its inputs, the source of the modules that compute it, the versions of the
libraries whose numerics it depends on and a global epoch (bump `CACHE_EPOCH` to invalidate everything).
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from bubblelens.core.io import atomic_directory, dumps_json
from bubblelens.core.lazy_arrays import READ_ERRORS, LazyArrays
from bubblelens.pipeline.code_graph import package_graph

CACHE_EPOCH = 1
# Directory names under the cache root that `clear` may delete (pipeline stage names that cache).
CACHE_STAGES = ("features", "train", "evaluate", "claims", "render", "charts")
CACHE_ENV = "BUBBLELENS_CACHE"
_ENTRY_FILE = "entry.json"


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bubblelens"


@functools.lru_cache(maxsize=None)
def library_versions() -> dict[str, str]:
    """The numeric libraries' versions, read from their distributions (the same strings as their
    `__version__`): a build that finds every unit cached never imports torch just to name its version."""
    return {"torch": version("torch"), "numpy": version("numpy"), "pandas": version("pandas")}


@functools.lru_cache(maxsize=None)
def code_version(entries: tuple[str, ...], extra: tuple[Path, ...] = ()) -> str:
    """The code version of a stage whose work starts in the modules `entries` ('bubblelens.training.units'):
    the hash of every module they import, transitively, read from the source (pipeline/code_graph.py),
    plus the non-Python inputs `extra` it reads (templates, fonts, tables). Read once per process, as the
    import graph is: every unit of a build is fingerprinted (and looked up again) with the same version."""
    return package_graph().code_version(entries, extra)


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


@dataclass
class Entry:
    result: dict
    arrays: Mapping[str, np.ndarray]      # a LazyArrays when read back
    path: Path


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root()

    def _dir(self, stage: str, fp: str) -> Path:
        return self.root / stage.replace("/", "_") / fp

    def has(self, stage: str, fp: str) -> bool:
        """Whether a complete entry exists (without reading it; `lookup` may still find it damaged)."""
        return (self._dir(stage, fp) / _ENTRY_FILE).is_file()

    def holds_any(self, stage: str) -> bool:
        """Whether any complete entry of `stage` exists (a cache that never held one: a first build)."""
        d = self.root / stage.replace("/", "_")
        return d.is_dir() and any((e / _ENTRY_FILE).is_file() for e in d.iterdir())

    def lookup(self, stage: str, fp: str) -> Entry | None:
        """The entry if complete; a directory without its entry file is ignored (and never trusted)."""
        d = self._dir(stage, fp)
        if not (d / _ENTRY_FILE).is_file():
            return None
        try:
            result = json.loads((d / "result.json").read_text(encoding="utf-8"))
            # Each array is read when first used (core/lazy_arrays.py): a rebuild uses few of them.
            arrays: Mapping[str, np.ndarray] = (LazyArrays(d / "arrays.npz", on_damage=lambda: self.discard(stage, fp))
                                                if (d / "arrays.npz").is_file() else {})
        except READ_ERRORS:
            return None  # a damaged entry is recomputed, not trusted
        return Entry(result, arrays, d)

    def discard(self, stage: str, fp: str) -> None:
        """Forget an entry found damaged (its entry file goes first: a lookup no longer trusts it)."""
        (self._dir(stage, fp) / _ENTRY_FILE).unlink(missing_ok=True)
        shutil.rmtree(self._dir(stage, fp), ignore_errors=True)

    def store(self, stage: str, fp: str, result: dict, arrays: dict[str, np.ndarray] | None = None) -> Entry:
        final = self._dir(stage, fp)
        # The entry file is written last inside the temp directory, and the directory appears whole.
        with atomic_directory(final) as tmp:
            (tmp / "result.json").write_text(dumps_json(result), encoding="utf-8")
            if arrays:
                buf = io.BytesIO()
                np.savez_compressed(buf, **arrays)
                (tmp / "arrays.npz").write_bytes(buf.getvalue())
            (tmp / _ENTRY_FILE).write_text(dumps_json({"stage": stage, "fingerprint": fp}), encoding="utf-8")
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
