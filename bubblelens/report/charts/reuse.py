"""A chart whose drawing is unchanged is not drawn again: its image comes back from the stage cache.

Why: editing one curated CSV reruns the report unit, which drew all of the report's charts again, although
one series reaches only a few of them (drawing them took 6.4 s of a 19 s smoke rebuild and of a 26 s quick
one). The image of a
chart is a function of what its drawing reads, so the key here is the hash of exactly that:

- the draw function: its code and every value it closes over (the plotted frame, sample arrays, series,
  labels), pickled so that equal values give equal bytes however they were built (`_KeyPickler`);
- the spec (title, units, sources and licence are burned into the image's header and footer; of
  `measured_by`, which names the build, only whether it is set), the figure size and format;
- the matplotlib settings in effect while drawing (the house style over whatever a matplotlibrc or other
  code set), the version of the report's code (`bubblelens.pipeline.report_stages`' import closure: every
  chart module, charts/io.py, the fonts and templates) and of matplotlib, Pillow, numpy and pandas.

A draw function's globals (module helpers and constants) are code, covered by the code version. Keys that
differ between two equal drawings only cost a redraw; an image is reused only when all of the above hash
the same. The JSON and CSV beside each image carry the build id and are always written anew.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import io
import logging
import pickle
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import matplotlib
import numpy as np
import pandas as pd
import PIL

from bubblelens.core.errors import StageError
from bubblelens.core.io import atomic_write
from bubblelens.report.charts.drawing_pool import draw_all

LOGGER = logging.getLogger(__name__)

STAGE = "charts"          # cache directory of the images (see pipeline/cache.py's CACHE_STAGES)
RESULT_CHART_ID = "chart_id"
ARRAY_IMAGE = "image"     # the image file's bytes, as uint8


@dataclass
class _Planned:
    """A chart that was not in the store: drawn when the block ends (drawing_pool.py), then stored."""

    chart_id: str
    draw: Callable[[], None]
    image: Path
    key: str | None


@dataclass
class DrawingStore:
    """Where images are kept (a `pipeline.cache.Cache`), the code version they were drawn with, whether
    images are read from it (`--force` draws every chart, and stores what it draws) and how many processes
    draw the charts not found there."""

    cache: Any
    code_version: str
    read: bool = True
    processes: int = 1
    reused: int = 0
    drawn: int = 0
    processes_used: int = 0
    draw_seconds: float = 0.0
    planned: list[_Planned] = dataclasses.field(default_factory=list)


_ACTIVE: contextvars.ContextVar[DrawingStore | None] = contextvars.ContextVar("bubblelens_drawings",
                                                                              default=None)


@contextlib.contextmanager
def reusing_drawings(cache: Any, code_version: str, *, read: bool = True,
                     processes: int = 1) -> Iterator[DrawingStore]:
    """Charts drawn inside this block look their image up in `cache` first (unless `read` is False); the
    others are drawn as the block ends, in up to `processes` processes, and stored. Their image files exist
    once the block has ended, not before."""
    store = DrawingStore(cache, code_version, read, processes)
    token = _ACTIVE.set(store)
    try:
        yield store
    finally:
        _ACTIVE.reset(token)
    _draw_planned(store)


def _draw_planned(store: DrawingStore) -> None:
    start = time.perf_counter()
    store.processes_used = draw_all([p.draw for p in store.planned], store.processes)
    store.draw_seconds = time.perf_counter() - start
    for planned in store.planned:
        store.drawn += 1
        for stale in planned.image.parent.glob(f".{planned.image.name}.*.tmp"):   # a killed child's temp file
            stale.unlink(missing_ok=True)
        if planned.key is None:
            continue
        try:
            store.cache.store(STAGE, planned.key, {RESULT_CHART_ID: planned.chart_id},
                              {ARRAY_IMAGE: np.frombuffer(planned.image.read_bytes(), dtype=np.uint8)})
        except OSError as error:
            LOGGER.warning("chart %s: its image was not kept in the cache (%s)", planned.chart_id, error)
    store.planned.clear()


_KEY_PARTS = tuple   # the "constructor" of every reduced value: a type, pickled by name (a key is never unpickled)


class _KeyPickler(pickle.Pickler):
    """A pickler whose bytes depend on values only, never on how they were built.

    `fast` mode keeps no memo, so two equal strings or arrays pickle the same whether or not they are one
    object (a memo would write a back-reference for the second). Pandas objects are reduced to their
    content, labels and dtypes (a frame read back from the cache has another block layout than the one
    computed, so its pickle differs), sets to their sorted items (their order follows the per-process string
    hash), functions to `_function_parts`.
    A cyclic value raises, and its chart is drawn every time.
    """

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.fast = True

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, pd.DataFrame):
            return _KEY_PARTS, ("DataFrame", obj.columns, obj.index,
                                tuple(_values(obj.iloc[:, i]) for i in range(obj.shape[1])))
        if isinstance(obj, pd.Series):
            return _KEY_PARTS, ("Series", obj.name, obj.index, _values(obj))
        if isinstance(obj, pd.Index):
            return _KEY_PARTS, ("Index", type(obj).__name__, obj.names, _values(obj))
        if isinstance(obj, (set, frozenset)):
            return _KEY_PARTS, ("set", tuple(sorted(obj, key=repr)))
        if isinstance(obj, types.FunctionType):
            return _KEY_PARTS, ("function",) + _function_parts(obj)
        if isinstance(obj, types.CodeType):
            return _KEY_PARTS, ("code",) + _code_parts(obj)
        return NotImplemented


def _values(values: pd.Series | pd.Index) -> tuple:
    """A column's or index's exact content: its dtype as repr gives it (categories and their order, time
    zone) and, for numbers, times and booleans, the raw bytes (so -0.0 is not 0.0); other values one by one."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        return repr(dtype), np.ascontiguousarray(values.to_numpy()).tobytes()
    return repr(dtype), tuple(values.tolist())


def _code_parts(code: types.CodeType) -> tuple:
    """What a function does, without where it was written (line numbers) or how it was loaded."""
    return (code.co_code, code.co_consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)


def _function_parts(fn: types.FunctionType) -> tuple:
    """A function's code, defaults and the values it closes over. Its globals are the module's names:
    code, whose version is part of every key (module constants included)."""
    cells = tuple(c.cell_contents for c in fn.__closure__ or ())
    return fn.__code__, fn.__defaults__, fn.__kwdefaults__, cells


def drawing_key(spec: Any, draw_fn: Callable, figsize: tuple[float, float], code_version: str,
                settings: str = "") -> str | None:
    """The hash of everything the image depends on, or None when the drawing cannot be pickled. `settings`:
    the matplotlib settings in effect while drawing (charts/io.py's `drawing_settings`)."""
    # The image prints only whether bubblelens measured the numbers (charts/io.py's source line), not by
    # which build: the build id in `measured_by` would otherwise make every build's images new.
    drawn_spec = dataclasses.replace(spec, measured_by="measured" if spec.measured_by else "")
    buffer = io.BytesIO()
    try:
        _KeyPickler(buffer).dump((draw_fn, drawn_spec, tuple(figsize)))
    except Exception as error:  # noqa: BLE001 - what cannot be pickled is drawn, never guessed at
        LOGGER.debug("chart %s is drawn every time: its drawing cannot be pickled (%s)", spec.chart_id, error)
        return None
    digest = hashlib.sha256()
    versions = (code_version, settings, matplotlib.__version__, PIL.__version__, np.__version__, pd.__version__,
                spec.fmt)
    for part in (*(v.encode() for v in versions), buffer.getvalue()):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:32]


def draw_or_reuse(spec: Any, draw_fn: Callable, figsize: tuple[float, float], image: Path,
                  draw: Callable[[], None], settings: Callable[[], str]) -> None:
    """Put the chart's image at `image`: from the active store when its drawing was seen, else by `draw()`
    (which writes `image` atomically) when the store's block ends, then keep it in the store. A store that
    cannot be written (a full disk, a read-only cache, another build storing the same image at that moment)
    costs a redraw next time, never the build. Without an active store, `draw()` runs at once."""
    store = _ACTIVE.get()
    if store is None:
        draw()
        return
    key = drawing_key(spec, draw_fn, figsize, store.code_version, settings())
    entry = store.cache.lookup(STAGE, key) if key is not None and store.read else None
    data = None
    if entry is not None and entry.result.get(RESULT_CHART_ID) == spec.chart_id \
            and ARRAY_IMAGE in entry.arrays:
        try:
            data = entry.arrays[ARRAY_IMAGE].tobytes()
        except StageError:
            data = None          # a damaged entry (discarded as it was read): drawn again, as if missing
    if data is not None:
        atomic_write(image, lambda p: p.write_bytes(data))
        store.reused += 1
        return
    # Drawn later, under the matplotlib settings the key was made with, whatever is set by then (but the
    # backend: charts/io.py chooses Agg, and restoring a backend would switch it). A draw function must not
    # depend on values changed after it is planned (none does: each closes over what it plots).
    planned_settings = {k: v for k, v in matplotlib.rcParams.copy().items() if k != "backend"}

    def draw_as_planned() -> None:
        with matplotlib.rc_context(planned_settings):
            draw()

    store.planned.append(_Planned(spec.chart_id, draw_as_planned, image, key))
