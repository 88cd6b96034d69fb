"""A cache entry's arrays, each read from its `.npz` file the first time it is asked for.

A rebuild finds every training unit cached, and used to decompress all of their arrays: about 170 MB in
a quick cache (the image runs' samples at every NFE and snapshot), 0.8-1.6 s on 2 cores, for a rebuild
after one edited CSV that reads none of them (its evaluations are cached too). `LazyArrays` reads the
file's member list up front (a damaged archive is then found at lookup, and recomputed as before) and
each array when first used, through one open file; a unit that does compute gets plain arrays
(`dict(lazy)`, and pickling gives the arrays themselves, never the path, which a Ray node elsewhere could
not open). A member that turns out damaged when read calls `on_damage` (the cache discards the entry, so
the next build computes it again) and stops the build with one sentence.
"""
from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from bubblelens.core.errors import StageError

# What a damaged or truncated .npz raises when it is read.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


class _Archive:
    """One `.npz`: its member names, one open handle while arrays are read, and the arrays read so far."""

    def __init__(self, path: Path, on_damage: Callable[[], None] | None) -> None:
        self.path, self.on_damage = Path(path), on_damage
        self.npz = np.load(self.path, allow_pickle=False)       # reads the member list: raises if damaged
        self.members = list(self.npz.files)
        self.read: dict[str, np.ndarray] = {}

    def get(self, member: str) -> np.ndarray:
        if member not in self.read:
            try:
                self.read[member] = self.npz[member]
            except READ_ERRORS as error:
                if self.on_damage is not None:
                    self.on_damage()
                raise StageError(f"cache entry {self.path.parent} is damaged ({member}: {error}); it was "
                                 "discarded: run the build again to compute it anew") from error
            if len(self.read) == len(self.members):
                self.npz.close()                                  # every array read: no handle kept
        return self.read[member]


class LazyArrays(Mapping):
    """name -> array of an `.npz` written by `np.savez_compressed`, read on first access and kept. A view
    (`select`) names some of the file's members, possibly under other names, and shares what is read."""

    def __init__(self, path: Path, on_damage: Callable[[], None] | None = None, *,
                 _archive: _Archive | None = None, _names: dict[str, str] | None = None) -> None:
        self._archive = _archive or _Archive(path, on_damage)
        self._names = _names if _names is not None else {m: m for m in self._archive.members}  # name -> member

    def __getitem__(self, name: str) -> np.ndarray:
        return self._archive.get(self._names[name])             # KeyError for a name not in this view

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __reduce__(self):
        return dict, (dict(self),)

    def select(self, names: Mapping[str, str]) -> "LazyArrays":
        """A view of this file: each name of `names` for the member of this view it maps to, still unread."""
        return LazyArrays(self._archive.path, _archive=self._archive,
                          _names={new: self._names[old] for new, old in names.items()})

    def without(self, name: str) -> "LazyArrays":
        """This view less `name`."""
        return self.select({n: n for n in self._names if n != name})

    def loaded(self) -> list[str]:
        """The names of this view read so far (for tests and logs)."""
        return [n for n, m in self._names.items() if m in self._archive.read]


def select(arrays: Mapping, names: Mapping[str, str]) -> Mapping:
    """`arrays[member]` under each name of `names` (name -> member): a LazyArrays' view stays unread, any
    other mapping gives a dict."""
    if isinstance(arrays, LazyArrays):
        return arrays.select(names)
    return {name: arrays[member] for name, member in names.items()}
