import numpy as np
import pytest

from bubblelens.pipeline import cache as cache_mod
from bubblelens.pipeline.cache import Cache, fingerprint


def test_store_and_lookup_roundtrip(tmp_path):
    c = Cache(tmp_path)
    entry = c.store("train", "abc", {"x": 1.5}, {"a": np.arange(4)})
    got = c.lookup("train", "abc")
    assert got.result == {"x": 1.5} and np.array_equal(got.arrays["a"], np.arange(4))
    assert entry.path == got.path


def test_incomplete_entry_is_not_trusted(tmp_path):
    c = Cache(tmp_path)
    c.store("train", "abc", {"x": 1})
    (c.root / "train" / "abc" / "entry.json").unlink()   # as if killed before the final rename
    assert c.lookup("train", "abc") is None


def test_holds_any_counts_complete_entries_of_the_stage_only(tmp_path):
    c = Cache(tmp_path)
    assert not c.holds_any("train")                            # no cache directory yet
    c.store("evaluate", "e1", {"x": 1})
    c.store("train", "abc", {"x": 1})
    (c.root / "train" / "abc" / "entry.json").unlink()       # an interrupted store: not an entry
    assert not c.holds_any("train") and c.holds_any("evaluate")
    c.store("train", "def", {"x": 2})
    assert c.holds_any("train")


def test_failed_store_leaves_nothing(tmp_path):
    c = Cache(tmp_path)
    with pytest.raises(TypeError):
        c.store("train", "abc", {"x": object()})
    assert c.lookup("train", "abc") is None
    assert not any(p.name.startswith(".abc") for p in (tmp_path / "train").iterdir())


def test_fingerprint_depends_on_everything():
    base = fingerprint("s", {"a": 1}, {"in": "x"}, "code")
    assert base == fingerprint("s", {"a": 1}, {"in": "x"}, "code")
    assert base != fingerprint("s", {"a": 2}, {"in": "x"}, "code")
    assert base != fingerprint("s", {"a": 1}, {"in": "y"}, "code")
    assert base != fingerprint("s", {"a": 1}, {"in": "x"}, "code2")
    assert base != fingerprint("t", {"a": 1}, {"in": "x"}, "code")


def test_epoch_invalidates(monkeypatch):
    before = fingerprint("s", {}, {}, "c")
    monkeypatch.setattr(cache_mod, "CACHE_EPOCH", cache_mod.CACHE_EPOCH + 1)
    assert fingerprint("s", {}, {}, "c") != before


def test_cache_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("BUBBLELENS_CACHE", str(tmp_path / "c"))
    assert Cache().root == tmp_path / "c"
    monkeypatch.delenv("BUBBLELENS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert Cache().root == tmp_path / "x" / "bubblelens"


def test_clear_removes_entries_but_nothing_else(tmp_path):
    c = Cache(tmp_path / "c")
    c.store("train", "1", {"a": 1})
    (c.root / "notes.txt").write_text("mine")   # e.g. BUBBLELENS_CACHE pointed at a shared directory
    assert c.clear() > 0
    assert c.lookup("train", "1") is None and (c.root / "notes.txt").read_text() == "mine"
