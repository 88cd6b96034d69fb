import gzip

import numpy as np
import pytest

from bubblelens.datasets.images import SHIPPED_IMAGES, load_split, read_idx, resolve_image_dir, to_unit_range
from bubblelens.datasets.mixtures import mixture_spec, sample_mixture
from bubblelens.core.errors import DataError


def write_idx(path, array, magic=None, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) if magic is None else magic
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_shipped_subset_loads():
    train = load_split(SHIPPED_IMAGES, "train")
    test = load_split(SHIPPED_IMAGES, "test")
    assert train.images.shape == (15000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.images.dtype == np.uint8 and set(np.unique(test.labels)) == set(range(10))
    # roughly balanced classes in the shipped training subset
    counts = np.bincount(train.labels, minlength=10)
    assert counts.min() > 1300


def test_read_plain_and_gzip(tmp_path):
    a = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", a)), a)
    assert np.array_equal(read_idx(write_idx(tmp_path / "b.gz", a, gz=True)), a)


def test_wrong_magic_names_file(tmp_path):
    p = write_idx(tmp_path / "bad", np.zeros((1, 28, 28)), magic=b"\x00\x00\x09\x03")
    with pytest.raises(DataError, match="bad.*wrong magic number"):
        read_idx(p)


def test_truncated_names_file(tmp_path):
    p = write_idx(tmp_path / "t", np.zeros((3, 28, 28)))
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(DataError, match="cannot read IDX"):
        read_idx(p)


def test_count_mismatch(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2))
    with pytest.raises(DataError, match="2 labels for 3 images"):
        load_split(tmp_path, "train")


def test_missing_full_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("BUBBLELENS_IMAGES", raising=False)
    monkeypatch.setattr("bubblelens.datasets.images.DEBIAN_IMAGES", tmp_path / "debian")
    with pytest.raises(DataError) as err:
        resolve_image_dir("full", None)
    msg = str(err.value)
    assert "--images" in msg and "dataset-fashion-mnist" in msg and str(tmp_path / "debian") in msg


@pytest.mark.parametrize("use_env", [False, True])
def test_named_directory_is_authoritative(tmp_path, monkeypatch, use_env):
    monkeypatch.setattr("bubblelens.datasets.images.DEBIAN_IMAGES", SHIPPED_IMAGES)   # a valid fallback exists
    monkeypatch.delenv("BUBBLELENS_IMAGES", raising=False)
    if use_env:
        monkeypatch.setenv("BUBBLELENS_IMAGES", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="BUBBLELENS_IMAGES" if use_env else "--images"):
        resolve_image_dir("full", None if use_env else tmp_path / "nope")


def test_named_directory_is_used(monkeypatch):
    monkeypatch.delenv("BUBBLELENS_IMAGES", raising=False)
    assert resolve_image_dir("full", SHIPPED_IMAGES) == SHIPPED_IMAGES


def test_unit_range():
    x = to_unit_range(np.array([[[0, 255]]], dtype=np.uint8))
    assert x.shape == (1, 1, 1, 2) and x.min() == -1 and x.max() == 1


@pytest.mark.parametrize("name, k, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixtures(name, k, std):
    means, s = mixture_spec(name)
    assert means.shape == (k, 2) and s == std
    x = sample_mixture(name, 4000, np.random.default_rng(0))
    nearest = np.argmin(((x[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert len(np.unique(nearest)) == k
