"""drawing_pool: charts drawn in forked processes give the files one process gives, and failures fall back."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bubblelens.pipeline.cache import Cache
from bubblelens.report.charts.drawing_pool import draw_all
from bubblelens.report.charts.io import draw_chart
from bubblelens.report.charts.reuse import reusing_drawings

from test_chart_reuse import CODE, line_spec, plot_values

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a process")


def writer(path: Path, pids: dict, fail_in_child: bool = False):
    """A draw that writes the pid of the process that ran it (and fails outside `pids["parent"]` if asked)."""
    def draw() -> None:
        if fail_in_child and os.getpid() != pids["parent"]:
            raise RuntimeError("drawing failed in a child")
        path.write_text(str(os.getpid()))
    return draw


def test_every_draw_runs_once_across_two_processes(tmp_path: Path) -> None:
    pids = {"parent": os.getpid()}
    paths = [tmp_path / f"{i}.txt" for i in range(5)]
    assert draw_all([writer(p, pids) for p in paths], 2) == 2
    drawn_by = [int(p.read_text()) for p in paths]
    assert drawn_by[0::2] == [os.getpid()] * 3                       # this process: every other chart
    assert len(set(drawn_by[1::2])) == 1 and drawn_by[1] != os.getpid()


def test_a_failed_child_costs_a_redraw_here_not_the_charts(tmp_path: Path) -> None:
    pids = {"parent": os.getpid()}
    paths = [tmp_path / f"{i}.txt" for i in range(4)]
    assert draw_all([writer(p, pids, fail_in_child=True) for p in paths], 2) == 1
    assert [int(p.read_text()) for p in paths] == [os.getpid()] * 4


def test_a_draw_that_fails_here_raises_after_the_children_are_reaped(tmp_path: Path) -> None:
    def broken() -> None:
        raise ValueError("bad chart")

    with pytest.raises(ValueError, match="bad chart"):
        draw_all([broken, writer(tmp_path / "child.txt", {"parent": os.getpid()})], 2)
    child = int((tmp_path / "child.txt").read_text())
    assert child != os.getpid()
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)                                # reaped before the error was raised


def test_a_failed_fork_or_a_stuck_child_leaves_the_charts_to_this_process(tmp_path: Path, monkeypatch) -> None:
    pids = {"parent": os.getpid()}
    paths = [tmp_path / f"{i}.txt" for i in range(2)]

    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    with monkeypatch.context() as m:
        m.setattr(os, "fork", no_fork)
        assert draw_all([writer(p, pids) for p in paths], 2) == 1
    assert [int(p.read_text()) for p in paths] == [os.getpid()] * 2

    def stuck_in_child() -> None:
        while os.getpid() != pids["parent"]:
            time.sleep(0.05)
        (tmp_path / "late.txt").write_text(str(os.getpid()))

    start = time.monotonic()
    assert draw_all([writer(paths[0], pids), stuck_in_child], 2, deadline_s=1.0) == 1
    assert 1.0 <= time.monotonic() - start < 30 and int((tmp_path / "late.txt").read_text()) == os.getpid()


def test_one_process_draws_in_order_here(tmp_path: Path) -> None:
    order = []
    assert draw_all([lambda i=i: order.append(i) for i in range(3)], 1) == 1
    assert order == [0, 1, 2]


def test_charts_drawn_in_two_processes_equal_one_process_and_are_kept(tmp_path: Path) -> None:
    specs = [(line_spec(f"fig-test-pool-{i}"), plot_values([1.0, 2.0 + i, 0.5 * i])) for i in range(3)]
    images = {}
    for processes in (1, 2):
        out = tmp_path / f"out{processes}"
        with reusing_drawings(Cache(tmp_path / f"cache{processes}"), CODE, processes=processes) as store:
            for spec, draw in specs:
                draw_chart(spec, draw, out)
                assert not (out / f"{spec.chart_id}.svg").exists()      # planned, drawn as the block ends
        assert (store.reused, store.drawn, store.processes_used) == (0, 3, processes)
        assert not list(out.glob(".*.tmp"))
        images[processes] = [(out / f"{spec.chart_id}.svg").read_bytes() for spec, _ in specs]
    assert images[1] == images[2]
    with reusing_drawings(Cache(tmp_path / "cache2"), CODE, processes=2) as store:   # kept in the cache
        for spec, draw in specs:
            draw_chart(spec, draw, tmp_path / "again")
    assert (store.reused, store.drawn) == (3, 0)
