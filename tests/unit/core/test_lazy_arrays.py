"""core/lazy_arrays.py: a cache entry's arrays read when first used, equal to reading them all at once;
views that rename and select members; a damaged archive found at lookup (recomputed), a damaged member
named when read and its entry discarded; never pickled as a path."""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from bubblelens.core.errors import StageError
from bubblelens.core.lazy_arrays import LazyArrays
from bubblelens.pipeline.cache import Cache
from bubblelens.training.run_result import RunResult

ARRAYS = {"samples": np.arange(12, dtype=np.float32).reshape(3, 4), "nfe_1": np.ones((2, 2)),
          "snap_10": np.array([1, 2, 3], dtype=np.uint8)}


def _entry(tmp_path):
    return Cache(tmp_path).store("train", "fp", {"x": 1}, ARRAYS).path


def test_reads_each_array_when_first_used_and_equals_reading_them_all(tmp_path):
    _entry(tmp_path)
    arrays = Cache(tmp_path).lookup("train", "fp").arrays
    assert isinstance(arrays, LazyArrays)
    assert sorted(arrays) == sorted(ARRAYS) and len(arrays) == 3 and arrays.loaded() == []
    np.testing.assert_array_equal(arrays["nfe_1"], ARRAYS["nfe_1"])
    assert arrays.loaded() == ["nfe_1"]
    for name, value in ARRAYS.items():
        assert arrays[name].dtype == value.dtype and np.array_equal(arrays[name], value)
    with pytest.raises(KeyError):
        arrays["missing"]


def test_a_run_rebuilt_from_a_lazy_entry_reads_its_extras_only_when_used(tmp_path):
    path = _entry(tmp_path)
    data = {"model": "flow", "dataset": "fashion_mnist", "variant": "rectified", "seed": 0, "config": {},
            "history": {}, "compute": {}, "failure_events": []}
    lazy = LazyArrays(path / "arrays.npz")
    run = RunResult.from_parts(data, lazy)
    assert lazy.loaded() == ["samples"] and sorted(run.extras) == ["nfe_1", "snap_10"]
    assert "samples" not in run.extras and len(run.extras) == 2       # read, but not in this view
    assert run == RunResult.from_parts(data, dict(ARRAYS))          # equal arrays once read


def test_a_view_renames_members_and_shares_what_is_read(tmp_path):
    lazy = LazyArrays(_entry(tmp_path) / "arrays.npz")
    view = lazy.select({"a": "nfe_1", "b": "samples"})
    assert list(view) == ["a", "b"] and lazy.loaded() == []
    np.testing.assert_array_equal(view["a"], ARRAYS["nfe_1"])
    assert lazy.loaded() == ["nfe_1"] and view.loaded() == ["a"]
    with pytest.raises(KeyError):
        view["nfe_1"]
    dict(lazy)                                                       # every member read: the file is closed
    assert lazy._archive.npz.fid is None or lazy._archive.npz.fid.closed


def test_pickles_as_the_arrays_themselves(tmp_path):
    lazy = LazyArrays(_entry(tmp_path) / "arrays.npz")
    back = pickle.loads(pickle.dumps(lazy))
    assert type(back) is dict and back.keys() == ARRAYS.keys()
    assert all(np.array_equal(back[k], v) for k, v in ARRAYS.items())


def test_a_damaged_archive_is_recomputed_and_a_damaged_member_is_named(tmp_path):
    path = _entry(tmp_path) / "arrays.npz"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 3])                   # truncated: no member list
    assert Cache(tmp_path).lookup("train", "fp") is None
    # A member whose compressed bytes were overwritten: the list reads, the array does not.
    buf = io.BytesIO()
    np.savez_compressed(buf, big=np.random.default_rng(0).random(50_000))
    raw = bytearray(buf.getvalue())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(raw))
    cache = Cache(tmp_path)
    lazy = cache.lookup("train", "fp").arrays
    with pytest.raises(StageError, match="cache entry .* is damaged .*big.*run the build again"):
        lazy["big"]
    assert not cache.has("train", "fp")                              # discarded: the next build recomputes
