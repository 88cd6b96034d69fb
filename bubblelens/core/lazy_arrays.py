"""A cache entry's arrays, each read from its `.npz` file the first time it is asked for.

A rebuild finds every training unit cached, and used to decompress all of their arrays: about 170 MB in
a quick cache (the image runs' samples at every NFE and snapshot), 0.8-1.6 s on 2 cores, for a rebuild
after one edited CSV that reads none of them (its evaluations are cached too). `LazyArrays` reads the
file's member list up front (a damaged archive is then found at lookup, and recomputed as before) and
each array when first used; a unit that does compute gets plain arrays (`dict(lazy)`, and pickling
gives the arrays themselves, never the path, which a Ray node elsewhere could not open).
"""
from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from bubblelens.core.errors import StageError

# What a damaged or truncated .npz raises when it is read.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


class LazyArrays(Mapping):
    """name -> array of an `.npz` written by `np.savez_compressed`, read on first access and kept."""

    def __init__(self, path: Path, names: list[str] | None = None) -> None:
        self.path = Path(path)
        if names is None:
            with np.load(self.path, allow_pickle=False) as npz:     # the member list: raises if damaged
                names = list(npz.files)
        self._names = list(names)
        self._loaded: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._loaded:
            if name not in self._names:
                raise KeyError(name)
            try:
                with np.load(self.path, allow_pickle=False) as npz:
                    self._loaded[name] = npz[name]
            except READ_ERRORS as error:
                raise StageError(f"cache entry {self.path.parent} is damaged ({name}: {error}); delete that "
                                 "directory or run `bubblelens cache clear`") from error
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __reduce__(self):
        return dict, (dict(self),)

    def without(self, name: str) -> "LazyArrays":
        """The same file's arrays less `name`, still unread (what is already read is shared)."""
        view = LazyArrays(self.path, [n for n in self._names if n != name])
        view._loaded = self._loaded
        return view

    def loaded(self) -> list[str]:
        """The names read so far (for tests and logs)."""
        return [n for n in self._names if n in self._loaded]


def without(arrays: Mapping, name: str) -> Mapping:
    """`arrays` less `name`: a LazyArrays stays unread, any other mapping becomes a dict."""
    if isinstance(arrays, LazyArrays):
        return arrays.without(name)
    return {k: v for k, v in arrays.items() if k != name}
