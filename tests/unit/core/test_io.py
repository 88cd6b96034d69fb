"""The one atomic writer: whole files or nothing, shared modes (not mkstemp's 0600), directories swapped whole."""
import os
import stat

import pytest

from bubblelens.core.io import atomic_directory, atomic_write, atomic_write_text, dumps_json, tree_digest


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_replaces_whole_file_with_shared_mode(tmp_path, umask_022):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two" and [q.name for q in tmp_path.iterdir()] == ["f.txt"]
    assert _mode(p) == 0o644


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "old")

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(p, boom)
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_directory_swaps_whole_with_shared_mode(tmp_path, umask_022):
    target = tmp_path / "charts"
    with atomic_directory(target) as d:
        (d / "a.svg").write_text("1")
    with atomic_directory(target) as d:
        (d / "b.svg").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.svg"] and _mode(target) == 0o755
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as d:
            (d / "c.svg").write_text("3")
            raise RuntimeError("killed")
    assert sorted(p.name for p in target.iterdir()) == ["b.svg"]
    assert [p.name for p in tmp_path.iterdir()] == ["charts"]


def test_dumps_json_is_strict_and_sorted():
    assert dumps_json({"b": float("nan"), "a": 1}) == '{\n  "a": 1,\n  "b": null\n}\n'


def test_tree_digest_ignores_hidden_and_pycache(tmp_path):
    (tmp_path / "x.csv").write_text("1")
    before = tree_digest(tmp_path)
    (tmp_path / ".x.csv.tmp").write_text("partial")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"\0")
    assert tree_digest(tmp_path) == before
    (tmp_path / "x.csv").write_text("2")
    assert tree_digest(tmp_path) != before
