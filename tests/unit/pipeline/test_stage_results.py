"""Stage hand-offs: `run_units` hands each result back with its unit and role, a trained run survives the
cache round trip as an equal RunResult, stage results are frozen, and the charts and report are put in
place together only once the render has succeeded."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bubblelens.core.config import BuildConfig, MixtureParams
from bubblelens.pipeline.cache import Cache
from bubblelens.pipeline.context import BuildContext, BuildOptions, CachedUnit, StageCode
from bubblelens.pipeline.executor import SerialExecutor
from bubblelens.pipeline.model_stages import TRAIN_CODE, trained_runs
from bubblelens.pipeline.progress import Reporter
from bubblelens.pipeline.state import (EnsembleChunk, EnsembleMember, Evaluated, MarketData, RunRecord, SweepPoint,
                                       ReferenceRun, Verdicts)
from bubblelens.report.inputs import RunFacts
from bubblelens.training import units as train_units
from bubblelens.training.run_result import RunResult

CODE = StageCode(("bubblelens.pipeline.state",))


def _ctx(tmp_path: Path) -> BuildContext:
    opts = BuildOptions(config=BuildConfig(), out_dir=tmp_path / "out", device="cpu", quiet=True)
    return BuildContext(opts, Cache(tmp_path / "cache"), Reporter(quiet=True), "cpu",
                        executor=SerialExecutor(), threads=1)


def _square(x: int) -> tuple[dict, dict]:
    return {"x": x, "square": x * x}, {"v": np.arange(x)}


def _unit(key: str, x: int, role) -> CachedUnit:
    return CachedUnit("test", key, {"x": x}, {}, CODE, _square, {"x": x}, role=role)


def test_run_units_pairs_each_result_with_its_unit_and_computes_shared_work_once(tmp_path):
    ctx = _ctx(tmp_path)
    # The sweep point is the very same work as the reference run (same key and params: one fingerprint).
    units = [_unit("a", 2, ReferenceRun("dcgan", 0)), _unit("b", 3, ReferenceRun("vae", 0)),
             _unit("a", 2, SweepPoint("dcgan", 1, 2))]
    done = ctx.run_units(units)
    assert [u for u, _ in done] == units
    assert [(u.role, res.result["square"]) for u, res in done] == [
        (ReferenceRun("dcgan", 0), 4), (ReferenceRun("vae", 0), 9), (SweepPoint("dcgan", 1, 2), 4)]
    assert done[0][1] is done[2][1]                       # computed once, handed to both
    assert [(r.key, r.status) for r in ctx.records] == [("a", "computed"), ("b", "computed"), ("a", "computed")]
    again = _ctx(tmp_path).run_units(units)
    assert [res.result for _, res in again] == [res.result for _, res in done]
    assert [res.fingerprint for _, res in again] == [res.fingerprint for _, res in done]


def test_a_unit_run_in_an_earlier_batch_keeps_its_record_and_the_build_id_its_value(tmp_path):
    """A market claim computed beside training is looked up again by the claims stage: one record (the
    computed one), so the manifest and the build id are those of a build that computed it in its stage."""
    from bubblelens.pipeline.manifest import build_id

    early = _ctx(tmp_path / "early")
    early.run_units([_unit("claim", 4, None), _unit("train", 5, None)])     # the claim beside training
    early.run_units([_unit("claim", 4, None)])                               # the claims stage
    # one record each, in the order of a build that computed the claim in its stage
    assert [(r.key, r.status) for r in early.records] == [("train", "computed"), ("claim", "computed")]
    late = _ctx(tmp_path / "late")
    late.run_units([_unit("train", 5, None)])
    late.run_units([_unit("claim", 4, None)])
    assert build_id(early) == build_id(late)
    assert [(r.stage, r.key, r.fingerprint) for r in early.records] == \
        [(r.stage, r.key, r.fingerprint) for r in late.records]


def test_the_role_is_not_part_of_the_cache_key(tmp_path):
    ctx = _ctx(tmp_path)
    assert ctx.unit_fingerprint(_unit("a", 2, ReferenceRun("dcgan", 0))) == \
        ctx.unit_fingerprint(_unit("a", 2, SweepPoint("dcgan", 64, 5)))


TINY_MIX = MixtureParams(steps=30, batch_size=32, lr=1e-3, g_hidden=16, d_hidden=16, n_samples=50, eval_every=10,
                         datasets=("ring8",), variants=("vanilla",))


@pytest.mark.usefixtures("one_torch_thread")
def test_a_trained_run_survives_the_cache_round_trip_as_an_equal_run_result(tmp_path):
    """The training unit the pipeline runs, stored in and read back from the cache: the runs rebuilt
    from the fresh result and from the cache entry are equal RunResults, and equal to the trainer's."""
    seeds = (0, 1)
    unit = CachedUnit("train", "mlp_gan-ring8-vanilla", TINY_MIX, {"seeds": "[0, 1]", "device": "cpu"}, TRAIN_CODE,
                      train_units.train_mixture_unit,
                      {"params": TINY_MIX, "dataset": "ring8", "variant": "vanilla", "seeds": seeds, "device": "cpu"},
                      role=EnsembleChunk("ring8", "vanilla", seeds))
    [(u, fresh)] = _ctx(tmp_path).run_units([unit])
    [(_, cached)] = _ctx(tmp_path).run_units([unit])
    assert _ctx(tmp_path).cache.lookup("train", cached.fingerprint) is not None
    runs, back = trained_runs(u.role, fresh), trained_runs(u.role, cached)
    assert [r.role for r in runs] == [EnsembleMember("ring8", "vanilla", s) for s in seeds]
    assert [r.result for r in back] == [r.result for r in runs]
    assert all(r.result.extras for r in back)             # the checkpoint samples came back too
    # One run alone: to its cache form (JSON record + arrays by name) and back gives an equal object.
    one = runs[0].result
    data, arrays = Cache(tmp_path / "c2").store("t", "fp", one.to_json(), one.arrays()).result, one.arrays()
    again = Cache(tmp_path / "c2").lookup("t", "fp")
    assert RunResult.from_parts(again.result, again.arrays) == one
    assert RunResult.from_parts(data, arrays) == one
    assert RunResult.from_parts(again.result, {**again.arrays, "samples": again.arrays["samples"] + 1}) != one


def test_stage_results_are_frozen():
    ev = Evaluated((), {}, {}, {}, {"kind": "build"}, (), "fp")
    for result, name in ((ev, "runs"), (MarketData(None, "2025-01-01", "m", None), "date_text"),
                         (Verdicts([], [], "r", "v"), "claims")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, name, None)


def test_run_record_reads_by_field_and_round_trips_through_json():
    rec = RunRecord("dcgan", "fashion_mnist", "reference", 0, {"params": {}}, {"flops_total": 1.0},
                    [{"kind": "divergence", "step": 5, "detail": ""}], {"step": [1]}, {"fid": 2.0})
    assert RunRecord.from_json(rec.to_json()) == rec
    assert rec.diverged and rec.model == "dcgan"
    with pytest.raises(TypeError):      # fields only: no string keys
        rec["model"]


def test_run_record_has_every_field_the_report_reads_with_its_type():
    record = {f.name: f.type for f in dataclasses.fields(RunRecord)}
    assert {name: record.get(name) for name in RunFacts.__annotations__} == RunFacts.__annotations__


# -- charts and report are installed together, after the render -------------------------------------------

def _stage_results():
    ev = Evaluated((), {}, {}, {}, {"kind": "build", "profile": "smoke"}, (), "ev-fp")
    return ev, MarketData(None, "2025-01-01", "mkt-fp", None), Verdicts([], [], "reg", "claims-fp")


def _previous_outputs(out: Path) -> None:
    (out / "charts").mkdir(parents=True)
    (out / "charts" / "fig-old.svg").write_text("old chart")
    for name in ("bubblelens-report.pdf", "bubblelens-report.html"):
        (out / name).write_text(f"old {name}")


def _fake_report(monkeypatch, fail: bool) -> list:
    """Draw and render stand-ins; returns the list of what out/charts held each time the render ran."""
    from bubblelens.pipeline import report_stages as RS
    from bubblelens.pipeline.state import Charts

    seen: list = []

    def draw(ctx, ev, md, verdicts, analysis, meta, chart_dir, fp):
        chart_dir.mkdir(parents=True, exist_ok=True)
        (chart_dir / "fig-new.svg").write_text("new chart")
        return Charts({}, meta, chart_dir, fp)

    def render(ctx, inputs, meta, manifest_extra, out_dir):
        seen.append(sorted(p.name for p in (ctx.opts.out_dir / "charts").iterdir()))
        if fail:
            raise RuntimeError("render failed")
        for name in RS.REPORT_FILES:
            (out_dir / name).write_text(f"new {name}")
        return {"pages": 3}

    monkeypatch.setattr(RS, "analyse", lambda ev, md, verdicts: None)
    monkeypatch.setattr(RS, "draw_charts", draw)
    monkeypatch.setattr(RS, "render_stage", render)
    return seen


def test_a_failed_render_leaves_the_previous_charts_and_report(tmp_path, monkeypatch):
    from bubblelens.pipeline import report_stages as RS

    ctx = _ctx(tmp_path)
    out = ctx.opts.out_dir
    _previous_outputs(out)
    _fake_report(monkeypatch, fail=True)
    with pytest.raises(RuntimeError, match="render failed"):
        RS.report_unit(ctx, *_stage_results(), None, "build0", {})
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["fig-old.svg"]
    assert (out / "bubblelens-report.pdf").read_text() == "old bubblelens-report.pdf"
    assert sorted(p.name for p in out.iterdir()) == ["bubblelens-report.html", "bubblelens-report.pdf", "charts"]


def test_a_render_puts_charts_and_report_in_place_together_and_a_rebuild_restores_them(tmp_path, monkeypatch):
    from bubblelens.pipeline import report_stages as RS

    ctx = _ctx(tmp_path)
    out = ctx.opts.out_dir
    _previous_outputs(out)
    seen = _fake_report(monkeypatch, fail=False)
    assert RS.report_unit(ctx, *_stage_results(), None, "build0", {}) == {"pages": 3, "build_id": "build0"}
    assert seen == [["fig-old.svg"]]          # while rendering, the previous charts were still in place
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["fig-new.svg"]
    assert (out / "bubblelens-report.pdf").read_text() == "new bubblelens-report.pdf"
    assert sorted(p.name for p in out.iterdir()) == ["bubblelens-report.html", "bubblelens-report.pdf", "charts"]
    # From the cache: the same files, without drawing or rendering (a render now would fail).
    _fake_report(monkeypatch, fail=True)
    (out / "bubblelens-report.pdf").unlink()
    ctx2 = _ctx(tmp_path)
    assert RS.report_unit(ctx2, *_stage_results(), None, "build0", {})["build_id"] == "build0"
    assert [r.status for r in ctx2.records] == ["cached"]
    assert (out / "bubblelens-report.pdf").read_text() == "new bubblelens-report.pdf"
    # Another build id (another upstream result) is another key: rendered again.
    with pytest.raises(RuntimeError):
        RS.report_unit(_ctx(tmp_path), *_stage_results(), None, "build1", {})
