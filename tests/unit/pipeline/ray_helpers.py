"""What the Ray tests share: the units they run and a check that two backends returned the same values."""
from __future__ import annotations

import numpy as np

from bubblelens.core.config import MixtureParams
from bubblelens.pipeline.cache import code_version
from bubblelens.pipeline.work import Unit
from bubblelens.training import units as train_units

TINY_MIX = MixtureParams(steps=40, batch_size=20, g_hidden=8, d_hidden=8, n_samples=30)
TRAIN_ENTRY = ("bubblelens.training.units",)


def collect(executor, units):
    out = {}
    executor.run(units, lambda o: out.__setitem__(o.key, o))
    return out


def mixture_units(params: MixtureParams = TINY_MIX) -> list[Unit]:
    """The four mixture ensembles, with the training stage's code version as the build passes it."""
    code = (TRAIN_ENTRY, code_version(TRAIN_ENTRY))
    return [Unit(f"{d}-{v}", train_units.train_mixture_unit,
                 {"params": params, "dataset": d, "variant": v, "seeds": (0, 1), "device": "cpu"}, threads=1,
                 progress=True, code=code)
            for d in ("ring8", "grid25") for v in ("vanilla", "pacgan")]


def assert_same_values(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        (rec_a, arr_a), (rec_b, arr_b) = a[key].value, b[key].value
        assert [r["history"] for r in rec_a["runs"]] == [r["history"] for r in rec_b["runs"]], key
        assert arr_a.keys() == arr_b.keys()
        for name in arr_a:
            np.testing.assert_array_equal(arr_a[name], arr_b[name])
