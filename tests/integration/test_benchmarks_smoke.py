"""Issue 23: benchmarks that rot. Every script in benchmarks/ runs end to end with `--smoke` (the same code
path at toy sizes, output in temporary folders) and exits 0, so an API change that breaks a benchmark
fails CI instead of the next person who measures something.

Scripts are found, not listed: a new benchmark is covered (and must accept --smoke) the day it lands. A
module there that is not a script goes in NOT_SCRIPTS with the reason. The runs go two at a time (the CI
machines have two cores), each with one torch thread, from a temporary working directory and with a private
cache; all of them together take well under a minute on an idle 2-core machine. None may change a file in
benchmarks/ or data/ (a smoke run must never replace recorded results).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
# File name -> why it is not run: helper modules the scripts import, not scripts themselves.
NOT_SCRIPTS: dict[str, str] = {
    "ref_tree.py": "a helper the side-by-side scripts import: checks a git revision out in a worktree",
}
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in NOT_SCRIPTS)
# Folders no smoke run may write to: recorded results and shipped data.
GUARDED = (BENCHMARKS, ROOT / "data")
JOBS = 2                 # the CI machines' cores; each run uses one torch thread
# The longest runs start first, so that the two lanes finish together (names that no longer exist are ignored).
START_FIRST = ("executors.py", "build_times.py", "mixture_step.py")
TIMEOUT_S = 300          # a hang (a Ray runtime that never answers, say) fails the test rather than CI's job


@dataclass
class SmokeRun:
    script: str
    returncode: int
    seconds: float
    output: str


def run_smoke(script: Path, workdir: Path) -> SmokeRun:
    """`python SCRIPT --smoke` in a fresh process, as a developer would run it, from `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "BUBBLELENS_CACHE": str(workdir / "cache")}
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script), "--smoke"], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        code, output = -1, f"timed out after {TIMEOUT_S} s\n{err.stdout or ''}{err.stderr or ''}"
    return SmokeRun(script.name, code, time.perf_counter() - start, output)


def snapshot(folders) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every file under `folders`, bytecode caches aside."""
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for folder in folders for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory) -> dict[str, SmokeRun]:
    """Every selected script's smoke run, JOBS at a time; prints each one's wall time and the total."""
    selected = sorted({item.callspec.params["script"] for item in request.session.items
                       if getattr(item, "originalname", None) == "test_benchmark_runs_with_smoke"},
                      key=lambda s: (START_FIRST.index(s) if s in START_FIRST else len(START_FIRST), s))
    root = tmp_path_factory.mktemp("benchmarks-smoke")
    before = snapshot(GUARDED)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        runs = dict(zip(selected, pool.map(lambda s: run_smoke(BENCHMARKS / s, root / Path(s).stem), selected)))
    total = time.perf_counter() - start
    print(f"\nbenchmark smoke runs, {JOBS} at a time:")
    for run in runs.values():
        print(f"  {run.script:28s} {run.seconds:6.1f} s  exit {run.returncode}")
    print(f"  {'all (wall)':28s} {total:6.1f} s")
    after = snapshot(GUARDED)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    runs["__guarded__"] = SmokeRun("(guarded folders)", 0 if not changed else 1, total, "\n".join(changed))
    return runs


def test_benchmarks_are_found():
    assert SCRIPTS, f"no scripts found in {BENCHMARKS}"
    stale = [name for name in NOT_SCRIPTS if not (BENCHMARKS / name).is_file()]
    assert not stale, f"NOT_SCRIPTS names files that no longer exist: {stale}"


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_with_smoke(script, smoke_runs):
    run = smoke_runs[script]
    tail = run.output[-4000:]
    if run.returncode == 2 and "unrecognized arguments: --smoke" in run.output:
        pytest.fail(f"benchmarks/{script} has no --smoke flag; every benchmark needs one (tiny sizes, "
                    f"temporary output, seconds)")
    assert run.returncode == 0, f"benchmarks/{script} --smoke exited {run.returncode}:\n{tail}"


@pytest.mark.slow
def test_smoke_runs_leave_recorded_results_alone(smoke_runs):
    if not any(key != "__guarded__" for key in smoke_runs):
        pytest.skip("no smoke run selected")
    guarded = smoke_runs["__guarded__"]
    assert guarded.returncode == 0, f"smoke runs changed files in benchmarks/ or data/:\n{guarded.output}"


def test_a_broken_benchmark_fails_its_smoke_run(tmp_path):
    """The harness sees a failure: a copy of a benchmark with an import that no longer resolves exits
    non-zero, and so does a script without --smoke."""
    source = (BENCHMARKS / SCRIPTS[0]).read_text(encoding="utf-8")
    future = "from __future__ import annotations\n"
    bad = "import bubblelens.no_such_module  # noqa: F401\n"
    broken = tmp_path / "broken.py"
    broken.write_text(source.replace(future, future + bad, 1) if future in source else bad + source, encoding="utf-8")
    run = run_smoke(broken, tmp_path / "work")
    assert run.returncode != 0 and "No module named 'bubblelens.no_such_module'" in run.output
    no_flag = tmp_path / "no_flag.py"
    no_flag.write_text("import argparse\nargparse.ArgumentParser().parse_args()\n", encoding="utf-8")
    assert run_smoke(no_flag, tmp_path / "work2").returncode == 2
