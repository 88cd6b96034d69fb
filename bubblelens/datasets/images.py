"""Fashion-MNIST images, read from IDX files.

Fashion-MNIST is read from IDX files (gzipped or not): the subset shipped in `data/images/` for the smoke
and quick profiles, so every machine gets the same numbers, or a full copy for the full profile from
`--images DIR`, `$BUBBLELENS_IMAGES` or Debian's `dataset-fashion-mnist` location.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bubblelens.core.resources import DATA_DIR
from bubblelens.core.errors import DataError

SHIPPED_IMAGES = DATA_DIR / "images"
DEBIAN_IMAGES = Path("/usr/share/datasets/fashion-mnist")
IMAGES_ENV = "BUBBLELENS_IMAGES"

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPE = {0x08: np.uint8}


@dataclass(frozen=True)
class ImageSplit:
    images: np.ndarray   # (N, 28, 28) uint8
    labels: np.ndarray   # (N,) int64
    files: tuple[str, ...]


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (magic 0x0000 08 ndim, big-endian dims, then uint8 data)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPE or not 1 <= raw[3] <= 4:
        raise DataError(f"{path}: wrong magic number {raw[:4].hex() or 'empty'}; expected 000008 then 01 or 03 (IDX uint8)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise DataError(f"{path}: truncated or padded IDX data: {len(raw)} bytes, header promises {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def load_split(directory: Path, split: str, limit: int | None = None) -> ImageSplit:
    img_stem, lbl_stem = _SPLIT_FILES[split]
    img_path, lbl_path = _find(directory, img_stem), _find(directory, lbl_stem)
    if img_path is None or lbl_path is None:
        raise DataError(f"{directory}: no Fashion-MNIST '{split}' split ({img_stem}[.gz] and {lbl_stem}[.gz])")
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: expected images of shape (N, 28, 28), found {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{lbl_path}: {len(labels)} labels for {len(images)} images in {img_path.name}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{lbl_path}: label {int(labels.max())} outside 0-9")
    if limit is not None:
        if limit > len(images):
            raise DataError(f"{img_path}: {len(images)} images, but the profile needs {limit}")
        images, labels = images[:limit], labels[:limit]
    return ImageSplit(images, labels.astype(np.int64), (str(img_path), str(lbl_path)))


def resolve_image_dir(source: str, images_dir: Path | None) -> Path:
    """Where to read images: the shipped subset, or a full copy.

    A directory the user named (--images, else $BUBBLELENS_IMAGES) is authoritative: if it lacks the
    files, that is an error, never a silent fallback to another copy. Only with neither given is
    Debian's dataset-fashion-mnist location tried.
    """
    if source == "shipped":
        return SHIPPED_IMAGES
    named = [(images_dir, "--images"), (os.environ.get(IMAGES_ENV), f"${IMAGES_ENV}")]
    for cand, where in named:
        if cand:
            if _find(Path(cand), _SPLIT_FILES["train"][0]) is None:
                raise DataError(f"{where}: no Fashion-MNIST training split (train-images-idx3-ubyte[.gz]) in {cand}")
            return Path(cand)
    if _find(DEBIAN_IMAGES, _SPLIT_FILES["train"][0]) is not None:
        return DEBIAN_IMAGES
    raise DataError(
        f"no full Fashion-MNIST found (looked in: {DEBIAN_IMAGES}); pass --images DIR, set {IMAGES_ENV}, "
        "or install Debian's package dataset-fashion-mnist"
    )


def file_digest(paths: list[str] | tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [-1, 1], the DCGAN tutorial's scaling."""
    return (images.astype(np.float32)[:, None] - 127.5) / 127.5
