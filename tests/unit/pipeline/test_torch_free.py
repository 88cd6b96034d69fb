"""Issue 25: a rebuild that trains and evaluates nothing (one curated CSV edited) does not import torch,
which cost it 1.2-1.5 s of 2 cores' time before anything was looked up. What makes that true: unit functions
named, not imported (work.py: UnitFunction); report-side units that leave torch alone (run_unit); the
device, library versions and machine description read without torch (devices.py, cache.py, manifest.py);
and the mixture runs' mode metrics cached as a unit (evaluation/units.py: mixture_eval_unit). The
end-to-end check is tests/integration/test_build.py's CSV-edit rebuild."""
from __future__ import annotations

import math
import pickle
import subprocess
import sys

import numpy as np

from bubblelens.evaluation import units as eval_units
from bubblelens.pipeline.work import UnitFunction, run_unit
from bubblelens.training.names import CHECKPOINT_SAMPLES, nfe_array


def _fresh(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _os_path():
    import os.path

    return os.path


def test_a_unit_function_is_named_and_imported_where_it_runs():
    fn = UnitFunction(_os_path, "basename")
    assert pickle.loads(pickle.dumps(fn)) == fn
    assert fn(p="a/b.txt") == "b.txt"
    value, seconds, _ = run_unit(fn, {"p": "x/y"}, threads=1)
    assert value == "y" and seconds >= 0


def test_the_build_modules_device_and_versions_need_no_torch():
    """`auto` is resolved without torch only where the installed torch is a CPU build (this project's
    install); with another build it asks torch, and the check covers the rest."""
    code = ("import sys; import bubblelens.pipeline.build, bubblelens.pipeline.report_stages; "
            "from bubblelens.pipeline.cache import library_versions; "
            "from bubblelens.pipeline.manifest import hardware_description; "
            "from bubblelens.core.devices import cpu_only_torch, resolve_device; "
            "d = resolve_device('auto') if cpu_only_torch() else 'cpu'; "
            "hardware_description(d, 1); print('torch' in sys.modules)")
    assert _fresh(code) == "False"


def test_null_metrics_of_the_cache_form_are_nan_again():
    """metrics.csv writes a NaN metric as an empty value and drops a null one: a side-by-side smoke build
    lost two PacGAN runs' mode_kl rows before the mixture metrics were read back as NaN."""
    from bubblelens.pipeline.model_stages import nan_for_null

    back = nan_for_null({"modes": 8.0, "mode_kl": None, "high_quality": 0.0})
    assert back["modes"] == 8.0 and back["high_quality"] == 0.0 and math.isnan(back["mode_kl"])


def test_library_versions_are_the_imported_libraries_versions():
    import pandas
    import torch

    from bubblelens.pipeline.cache import library_versions

    assert library_versions() == {"torch": torch.__version__, "numpy": np.__version__, "pandas": pandas.__version__}


def test_a_torch_free_unit_leaves_torch_alone_and_any_loaded_torch_at_the_unit_thread_count():
    code = ("import sys; from bubblelens.pipeline.work import run_unit; "
            "print(run_unit(lambda: 'torch' in sys.modules, {}, 1, uses_torch=False)[0])")
    assert _fresh(code) == "False"
    code = ("import torch; from bubblelens.pipeline.work import run_unit; torch.set_num_threads(2); "
            "inside = run_unit(torch.get_num_threads, {}, 1, uses_torch=False)[0]; "
            "print(inside, torch.get_num_threads())")
    assert _fresh(code) == "1 2"


def _run(dataset: str, seed: int, nfes: tuple[int, ...] = ()) -> dict:
    rng = np.random.default_rng(seed)
    means, std = eval_units.mixture_spec(dataset)
    near = means[rng.integers(len(means), size=300)] + rng.normal(0, std, (300, 2))
    extras = {CHECKPOINT_SAMPLES: np.stack([rng.normal(0, 3, (300, 2)), near]),
              **{nfe_array(k): near + rng.normal(0, 0.1 * k, near.shape) for k in nfes}}
    return {"dataset": dataset, "samples": near, "extras": extras, "checkpoint_steps": [100, 200], "steps": 200,
            "flops_per_step": 1e6}


def test_the_mixture_unit_gives_each_runs_metrics_in_their_cache_form():
    """The unit's numbers are those of mixture_metrics and target_metrics on each run (the computation the
    build did in its own process before), with a non-finite value as the cache writes it (None)."""
    runs = {"mlp_gan-ring8-vanilla-s0": _run("ring8", 0),
            "flow-grid25-rectified-s1": _run("grid25", 1, nfes=(1, 4)),
            "mlp_gan-ring8-vanilla-s2": {**_run("ring8", 2), "samples": np.full((50, 2), np.nan)}}
    result, arrays = eval_units.mixture_eval_unit(runs, ["ring8", "grid25"], 400)
    for rid, run in runs.items():
        expected = eval_units.mixture_metrics(run["samples"], run["dataset"])
        expected |= eval_units.target_metrics(run["extras"][CHECKPOINT_SAMPLES], run["checkpoint_steps"],
                                              run["steps"], run["flops_per_step"], run["dataset"])
        got = result["runs"][rid]["metrics"]
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == (None if isinstance(value, float) and math.isnan(value) else value), (rid, key)
    assert result["runs"]["mlp_gan-ring8-vanilla-s2"]["metrics"]["mode_kl"] is None        # no finite sample
    nfe_rows = result["runs"]["flow-grid25-rectified-s1"]["nfe"]
    assert [row["nfe"] for row in nfe_rows] == [1, 4]
    assert nfe_rows[1] == {"nfe": 4, **eval_units.mixture_metrics(runs["flow-grid25-rectified-s1"]["extras"]
                                                                  [nfe_array(4)], "grid25")}
    check, true = eval_units.true_mixture_check("grid25", 400)
    assert result["mixtures"]["grid25"]["modes"] == check["modes"] == 25
    np.testing.assert_array_equal(arrays["real-grid25__samples"], true)
