"""charts/reuse.py: an image comes back from the cache only when its drawing is the same, and then equals a
fresh draw byte for byte; anything the image shows that changes draws it again."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pandas as pd
import pytest

from bubblelens.pipeline.cache import Cache
from bubblelens.report.charts.io import draw_chart
from bubblelens.report.charts.reuse import reusing_drawings
from bubblelens.report.model import ChartSpec, ReportMeta

from test_charts_io import draw_image, line_spec

CODE = "code-v1"


def plot_values(values: list[float]):
    """A draw function closing over `values`, as the report's chart functions close over what they plot."""
    def draw(fig, ax) -> None:
        ax.plot(range(len(values)), values, marker="o")
    return draw


def draw_in(store_root: Path, out: Path, spec: ChartSpec, draw, code: str = CODE, **kw) -> tuple[int, int, bytes]:
    """Draw `spec` into `out` inside a store; returns (reused, drawn, image bytes)."""
    with reusing_drawings(Cache(store_root), code) as store:
        draw_chart(spec, draw, out, **kw)
    return store.reused, store.drawn, (out / f"{spec.chart_id}.{spec.fmt}").read_bytes()


@pytest.mark.parametrize("fmt,draw", [("svg", plot_values([1.0, 2.5, 3.0])), ("png", draw_image)])
def test_a_reused_image_equals_a_fresh_draw(tmp_path: Path, fmt: str, draw) -> None:
    spec = line_spec("fig-test-reuse", fmt)
    assert draw_in(tmp_path / "cache", tmp_path / "a", spec, draw)[:2] == (0, 1)
    reused, drawn, image = draw_in(tmp_path / "cache", tmp_path / "b", spec, draw)
    assert (reused, drawn) == (1, 0)
    draw_chart(spec, draw, tmp_path / "fresh")                      # no store: drawn
    assert image == (tmp_path / "fresh" / f"fig-test-reuse.{fmt}").read_bytes()
    # the CSV and JSON are written anew either way, with this build's id
    meta = ReportMeta("T", "S", "b999", "2025-02-01", "quick", "CPU", "0", "this build", "0.1.0")
    draw_in(tmp_path / "cache", tmp_path / "c", spec, draw, meta=meta)
    assert '"build_id": "b999"' in (tmp_path / "c" / "fig-test-reuse.json").read_text()


@pytest.mark.parametrize("change", ["data", "title", "units", "sources", "figsize", "code", "chart id"])
def test_whatever_the_image_shows_draws_it_again(tmp_path: Path, change: str) -> None:
    spec, draw, code, size = line_spec("fig-test-reuse"), plot_values([1.0, 2.0]), CODE, (4.0, 3.0)
    draw_in(tmp_path / "cache", tmp_path / "a", spec, draw, code, figsize=size)
    if change == "data":
        draw = plot_values([1.0, 2.0001])
    elif change == "title":
        spec = dataclasses.replace(spec, title="Another title")
    elif change == "units":
        spec = dataclasses.replace(spec, units="USD million")
    elif change == "sources":
        spec = dataclasses.replace(spec, sources=[])
    elif change == "figsize":
        size = (4.0, 3.5)
    elif change == "code":
        code = "code-v2"
    else:
        spec = dataclasses.replace(spec, chart_id="fig-test-other")
    reused, drawn, _ = draw_in(tmp_path / "cache", tmp_path / "b", spec, draw, code, figsize=size)
    assert (reused, drawn) == (0, 1), change


def test_the_build_named_in_measured_by_is_not_part_of_the_key(tmp_path: Path) -> None:
    """The image prints whether bubblelens measured the numbers, not which build did."""
    spec, draw = line_spec("fig-test-reuse"), plot_values([1.0, 2.0])
    draw_in(tmp_path / "cache", tmp_path / "a", spec, draw)
    assert draw_in(tmp_path / "cache", tmp_path / "b", dataclasses.replace(spec, measured_by="bubblelens build b2"),
                   draw)[:2] == (1, 0)
    assert draw_in(tmp_path / "cache", tmp_path / "c", dataclasses.replace(spec, measured_by=""), draw)[:2] == (0, 1)


def test_a_drawing_that_cannot_be_pickled_is_drawn_every_time(tmp_path: Path) -> None:
    lock = threading.Lock()                                         # a lock cannot be pickled

    def draw(fig, ax) -> None:
        with lock:
            ax.plot([0, 1], [0, 1])

    for sub in ("a", "b"):
        assert draw_in(tmp_path / "cache", tmp_path / sub, line_spec("fig-test-lock"), draw)[:2] == (0, 1)


def test_a_damaged_entry_is_drawn_again_not_trusted(tmp_path: Path) -> None:
    spec, draw = line_spec("fig-test-reuse"), plot_values([1.0, 2.0])
    first = draw_in(tmp_path / "cache", tmp_path / "a", spec, draw)[2]
    for npz in (tmp_path / "cache" / "charts").rglob("arrays.npz"):
        npz.write_bytes(b"not a zip")
    reused, drawn, image = draw_in(tmp_path / "cache", tmp_path / "b", spec, draw)
    assert (reused, drawn) == (0, 1) and image == first


def test_outside_a_store_nothing_is_cached(tmp_path: Path) -> None:
    draw_chart(line_spec(), plot_values([1.0]), tmp_path / "out")
    assert not (tmp_path / "cache").exists()


def test_the_cache_clear_command_removes_the_images(tmp_path: Path) -> None:
    draw_in(tmp_path / "cache", tmp_path / "a", line_spec(), plot_values([1.0]))
    assert Cache(tmp_path / "cache").clear() > 0
    assert not (tmp_path / "cache" / "charts").exists()


def test_report_chart_functions_close_over_what_they_draw_only() -> None:
    """A draw function that closed over the whole market data (or all evaluated runs, the claims, or the
    environment with its build id) would be drawn again after any CSV edit. The free variables of every
    nested `draw` are its closure (`co_freevars`), read from the compiler's symbol tables."""
    import inspect
    import symtable

    from bubblelens.report.charts import flow, long_series, market, models, spending

    whole = {"market", "mkt", "env", "ev", "claims", "md", "verdicts"}
    seen = 0
    for module in (flow, long_series, market, models, spending):
        for chart in symtable.symtable(inspect.getsource(module), module.__file__, "exec").get_children():
            for nested in chart.get_children():
                if nested.get_name() == "draw":
                    seen += 1
                    assert not whole & set(nested.get_frees()), (module.__name__, chart.get_name(),
                                                                 sorted(whole & set(nested.get_frees())))
    assert seen >= 15


def test_a_frame_in_the_spec_is_part_of_the_key(tmp_path: Path) -> None:
    spec, draw = line_spec("fig-test-reuse"), plot_values([1.0])
    draw_in(tmp_path / "cache", tmp_path / "a", spec, draw)
    other = dataclasses.replace(spec, data=pd.DataFrame({"year": [2020], "value": [2.0]}))
    assert draw_in(tmp_path / "cache", tmp_path / "b", other, draw)[:2] == (0, 1)


def test_equal_frames_built_differently_share_a_key(tmp_path: Path) -> None:
    """A cold build plots frames it computed; the next build plots the same numbers read back from the cache,
    often in another block layout. Their images are the same, and so is their key."""
    import numpy as np

    from bubblelens.report.charts.reuse import drawing_key

    one = pd.DataFrame({"x": [1.0, 2.0], "n": [1, 2], "name": ["a", "b"]})
    other = pd.concat([pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"n": [1, 2]}),
                       pd.DataFrame({"name": np.array(["a", "b"], dtype=object)})], axis=1)
    assert one.equals(other)

    def key(frame: pd.DataFrame) -> str:
        def draw(fig, ax) -> None:
            ax.plot(frame.x, frame.n)
        return drawing_key(dataclasses.replace(line_spec(), data=frame), draw, (4.0, 3.0), CODE)

    assert key(one) == key(other)
    assert key(one) != key(one.assign(x=[1.0, 2.5])) != key(one.rename(columns={"n": "m"}))


@pytest.mark.parametrize("change", ["index name", "categories", "datetime index", "negative zero", "label type",
                                    "series name"])
def test_frames_are_keyed_by_everything_a_drawing_can_read(change: str) -> None:
    from bubblelens.report.charts.reuse import drawing_key

    base = pd.DataFrame({"x": [0.0, 1.0], "c": pd.Categorical(["a", "b"], categories=["a", "b"])})
    if change == "index name":
        other = base.rename_axis("when")
    elif change == "categories":
        other = base.assign(c=pd.Categorical(["a", "b"], categories=["b", "a"]))
    elif change == "datetime index":
        other = base.set_axis(pd.to_datetime([0, 1]))
        base = base.set_axis(pd.Index([0, 1], dtype="int64"))
    elif change == "negative zero":
        other = base.assign(x=[-0.0, 1.0])
    elif change == "label type":
        base, other = base.rename(columns={"x": 1}), base.rename(columns={"x": "1"})
    else:
        base, other = base.x.rename(None), base.x.rename(0)

    def key(frame) -> str:
        def draw(fig, ax) -> None:
            ax.plot(range(len(frame)), range(len(frame)))
        return drawing_key(line_spec(), draw, (4.0, 3.0), CODE)

    assert key(base) != key(other), change


def test_a_matplotlib_setting_outside_the_house_style_draws_again(tmp_path: Path) -> None:
    """The house style overrides only the settings it names; a matplotlibrc or other code sets the rest."""
    import matplotlib

    spec, draw = line_spec("fig-test-reuse"), plot_values([1.0, 2.0])
    draw_in(tmp_path / "cache", tmp_path / "a", spec, draw)
    with matplotlib.rc_context({"lines.linestyle": "--"}):
        reused, drawn, image = draw_in(tmp_path / "cache", tmp_path / "b", spec, draw)
        draw_chart(spec, draw, tmp_path / "fresh")
    assert (reused, drawn) == (0, 1)
    assert image == (tmp_path / "fresh" / "fig-test-reuse.svg").read_bytes()


def test_force_draws_every_chart_and_keeps_it(tmp_path: Path) -> None:
    spec, draw = line_spec("fig-test-reuse"), plot_values([1.0, 2.0])
    draw_in(tmp_path / "cache", tmp_path / "a", spec, draw)
    with reusing_drawings(Cache(tmp_path / "cache"), CODE, read=False) as store:
        draw_chart(spec, draw, tmp_path / "b")
    assert (store.reused, store.drawn) == (0, 1)
    assert draw_in(tmp_path / "cache", tmp_path / "c", spec, draw)[:2] == (1, 0)


def test_an_image_the_cache_cannot_keep_costs_a_redraw_not_the_build(tmp_path: Path, monkeypatch, caplog) -> None:
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Cache, "store", full_disk)
    spec, draw = line_spec("fig-test-reuse"), plot_values([1.0, 2.0])
    for sub in ("a", "b"):
        assert draw_in(tmp_path / "cache", tmp_path / sub, spec, draw)[:2] == (0, 1)
    assert "was not kept in the cache" in caplog.text
