"""What every stage can see: the options, the cache, progress, and the records the manifest is made of.

`BuildContext.cached` is the one lookup-or-compute wrapper: a stage instance's fingerprint covers its name
and key, its params, the fingerprints of its inputs, its code version (derived from the import graph of
its entry modules, plus the non-Python files it reads) and key library versions.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bubblelens.core.config import BuildConfig, canonical
from bubblelens.core.errors import FrozenMissingError, UsageError
from bubblelens.core.resources import DATA_DIR
from bubblelens.pipeline.cache import Cache, code_version, fingerprint
from bubblelens.pipeline.progress import Reporter
from bubblelens.pipeline.work import Unit

if TYPE_CHECKING:
    import numpy as np

STAGES = ("data", "features", "train", "evaluate", "market", "claims", "charts", "render")
DEPENDS: dict[str, tuple[str, ...]] = {
    "data": (),
    "features": ("data",),
    "train": ("data",),
    "evaluate": ("data", "features", "train"),
    "market": (),
    "claims": ("evaluate", "market"),
    "charts": ("claims",),
    "render": ("charts",),
}
MODEL_STAGES = ("data", "features", "train", "evaluate")   # replaced by a results bundle (--results)


def needed_stages(only: str | None) -> list[str]:
    """Stages to run for `--only STAGE` (the stage and what it depends on), in build order."""
    if only is None:
        return list(STAGES)
    if only not in STAGES:
        raise UsageError(f"--only: unknown stage '{only}'; choose one of: {', '.join(STAGES)}")
    wanted: set[str] = set()
    todo = [only]
    while todo:
        s = todo.pop()
        if s not in wanted:
            wanted.add(s)
            todo.extend(DEPENDS[s])
    return [s for s in STAGES if s in wanted]


@dataclass(frozen=True)
class StageCode:
    """The code a cached stage runs: entry modules (their import closure is hashed) and non-Python inputs."""

    entries: tuple[str, ...]
    extra: tuple[Path, ...] = ()

    def version(self) -> str:
        return code_version(self.entries, self.extra)


@dataclass
class BuildOptions:
    config: BuildConfig
    out_dir: Path = Path("reports")
    data_dir: Path = DATA_DIR
    images_dir: Path | None = None
    results_bundle: Path | None = None
    config_file: Path | None = None
    only: str | None = None
    force: bool = False
    frozen: bool = False
    device: str = "auto"
    quiet: bool = False
    executor: str = "pool"      # pipeline/executor.py: DEFAULT_EXECUTOR (the CLI passes it)
    jobs: int = 1
    ray_address: str | None = None   # --executor ray: join this cluster ('auto', HOST:PORT); None starts one


@dataclass
class CachedUnit:
    """A stage instance to look up or compute: its cache identity and the unit function that computes it.

    `fn(**kwargs)` returns (result, arrays); with `scratch`, kwargs gain `ckpt_dir`, the entry's scratch
    directory for resumable work. The thread count enters the fingerprint: results depend on it; the role
    does not (`run_units` hands each result back with its unit, and the role says what the result is)."""

    stage: str
    key: str
    params: Any
    inputs: dict[str, str]
    code: StageCode
    fn: Callable[..., tuple[dict, dict]]
    kwargs: dict[str, Any] | Callable[[], dict[str, Any]]    # a callable: made only if the unit computes
    trained: bool = False
    scratch: bool = False
    progress: bool = False
    role: Any = None     # what the result is to the stage that asked (state.py: FeatureExtractor, SweepPoint, ...)
    uses_torch: bool = True   # False: fn never imports torch (work.py: run_unit)


@dataclass(frozen=True)
class UnitResult:
    """What a unit returned (its JSON-ready result and its arrays) and the fingerprint it is cached under."""

    result: dict
    arrays: Mapping[str, "np.ndarray"]     # read back from the cache: a LazyArrays
    fingerprint: str


@dataclass
class StageRecord:
    stage: str
    key: str
    fingerprint: str
    status: str          # "computed" | "cached" | "bundle"
    seconds: float
    node: str = ""       # where a computed unit ran (the executor's name for it); never in the build id


@dataclass
class BuildContext:
    opts: BuildOptions
    cache: Cache
    reporter: Reporter
    device: str
    records: list[StageRecord] = field(default_factory=list)
    input_hashes: dict[str, str] = field(default_factory=dict)
    hardware: dict = field(default_factory=dict)
    executor: Any = None              # pipeline/executor.py: runs the units `run_units` has to compute
    threads: int = 1                  # torch threads of every unit (config.BuildConfig.threads)

    @property
    def cfg(self) -> BuildConfig:
        return self.opts.config

    def unit_fingerprint(self, u: CachedUnit) -> str:
        """The cache key of one unit: its name and key, params, input fingerprints, the thread count and its
        code version. A unit's role is not in it: the same work under two roles is one cache entry."""
        inputs = {**u.inputs, "threads": str(self.threads)}
        return fingerprint(f"{u.stage}:{u.key}", canonical(u.params), inputs, u.code.version())

    def all_cached(self, units: list[CachedUnit]) -> bool:
        """Whether every unit has a cache entry (checked by name, nothing read)."""
        return all(self.cache.has(u.stage, self.unit_fingerprint(u)) for u in units)

    def run_units(self, units: list[CachedUnit], executor: Any = None) -> list[tuple[CachedUnit, UnitResult]]:
        """Look every unit up; compute the missing ones on the executor (in parallel where it allows) and
        store each as it finishes. Returns each unit with its result, in the order given, so a caller reads
        what a result is from its unit (`role`), never from a position. The same work named twice (a sweep
        point equal to a reference run) is looked up or computed once. A unit marked `trained` that is
        missing is an error under --frozen; --force recomputes the --only stage."""
        fps = [self.unit_fingerprint(u) for u in units]
        found: dict[str, UnitResult] = {}
        todo: dict[str, CachedUnit] = {}
        for u, fp in zip(units, fps):
            if fp not in found and fp not in todo:
                hit = self._lookup(u, fp)
                if hit is None:
                    todo[fp] = u
                else:
                    found[fp] = hit
        computed = self._compute(todo, executor or self.executor) if todo else {}
        found |= {fp: res for fp, (res, _, _) in computed.items()}
        # One record per unit, appended in unit order once all are done, so the manifest, the build id and
        # the render fingerprint never depend on which worker finished first or on what was cached. A unit
        # an earlier batch of this build already ran (a market claim beside training) keeps that record,
        # moved here: the manifest (printed in the report) and the build id are then the same, in the same
        # order, whether the claims ran beside training or in their own stage.
        earlier = {(r.stage, r.key, r.fingerprint): r for r in self.records}
        for u, fp in zip(units, fps):
            if (moved := earlier.pop((u.stage, u.key, fp), None)) is not None:
                self.records.remove(moved)
                self.records.append(moved)
                continue
            _, seconds, node = computed.get(fp, (None, 0.0, ""))
            self.records.append(StageRecord(u.stage, u.key, fp, "computed" if fp in computed else "cached",
                                            seconds, node))
        return [(u, found[fp]) for u, fp in zip(units, fps)]

    def _lookup(self, u: CachedUnit, fp: str) -> UnitResult | None:
        """The cached result of a unit, or None when it must be computed (dropping its scratch on --force)."""
        force = self.opts.force and (self.opts.only in (None, u.stage))
        entry = None if force else self.cache.lookup(u.stage, fp)
        if entry is not None:
            return UnitResult(entry.result, entry.arrays, fp)
        if u.trained and self.opts.frozen:
            raise FrozenMissingError(f"--frozen: no trained result for {u.stage} '{u.key}' in the cache; "
                                     "build once without --frozen or pass --results BUNDLE")
        if force:
            self.cache.drop_scratch(u.stage, fp)
        return None

    def _compute(self, todo: dict[str, CachedUnit], executor: Any) -> dict[str, tuple[UnitResult, float, str]]:
        """Run the units to compute (by fingerprint) on `executor`, storing each in the cache as it finishes;
        returns fingerprint -> (result, seconds, where it ran)."""
        names = _unit_names(todo)
        by_name = {name: fp for fp, name in names.items()}
        out: dict[str, tuple[UnitResult, float, str]] = {}

        def store(outcome) -> None:
            fp = by_name[outcome.key]
            u = todo[fp]
            result, arrays = outcome.value
            self.cache.store(u.stage, fp, result, arrays)
            self.cache.drop_scratch(u.stage, fp)
            out[fp] = (UnitResult(result, arrays, fp), outcome.seconds, outcome.node)

        work = []
        for fp, u in todo.items():
            given = u.kwargs() if callable(u.kwargs) else u.kwargs
            kwargs = dict(given) | ({"ckpt_dir": self.cache.scratch_dir(u.stage, fp)} if u.scratch else {})
            # A worker that may run other code (Ray) checks the stage's code version before the unit.
            code = None if u.code.extra else (u.code.entries, u.code.version())
            work.append(Unit(names[fp], u.fn, kwargs, self.threads, u.progress, code, u.uses_torch))
        executor.run(work, store)
        return out

    def cached(self, stage: str, key: str, params: Any, inputs: dict[str, str], code: StageCode,
               compute: Callable[[], tuple[dict, dict]], *, trained: bool = False,
               uses_torch: bool = True) -> UnitResult:
        """Lookup-or-compute one stage instance in this process (its `compute` may close over the build,
        as the render does). Same rules as `run_units`."""
        from bubblelens.pipeline.executor import SerialExecutor

        unit = CachedUnit(stage, key, params, inputs, code, compute, {}, trained=trained, uses_torch=uses_torch)
        return self.run_units([unit], executor=SerialExecutor())[0][1]


def _unit_names(todo: dict[str, CachedUnit]) -> dict[str, str]:
    """A distinct progress name per fingerprint: 'stage key', with the fingerprint's head where two differ
    in params under one key."""
    names: dict[str, str] = {}
    for fp, u in todo.items():
        name = f"{u.stage} {u.key}"
        names[fp] = name if name not in names.values() else f"{name} [{fp[:8]}]"
    return names
