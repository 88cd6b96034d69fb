"""One training run's record, `RunResult`, and the names in it that other modules read.

A module without torch: the build reads every cached run through it, and a rebuild that trains nothing (one
curated CSV edited) should not import torch to do so. The trainers build it (training/loop.py re-exports it).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

from bubblelens.core.config import canonical

# Result names (keys of RunResult.history / failure_events) that other modules read.
KEY_STEP, KEY_D_LOSS, KEY_G_LOSS = "step", "d_loss", "g_loss"
KEY_LOSS, KEY_RECON, KEY_KL = "loss", "recon", "kl"
EVENT_NON_FINITE, EVENT_D_OVERPOWERING, EVENT_DIVERGENCE = "non_finite", "d_overpowering", "divergence"


@dataclass(eq=False)
class RunResult:
    """One training run. Its cache form is `to_json()` and `arrays()`; `from_parts` rebuilds an equal one."""

    model: str
    dataset: str
    variant: str
    seed: int
    config: dict
    history: dict[str, list[float]]
    compute: dict
    failure_events: list[dict]
    samples: np.ndarray
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict:
        """Everything but the arrays (samples, extras), as plain JSON-ready data."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("samples", "extras")}
        out["array_names"] = ["samples", *sorted(self.extras)]
        return out

    @classmethod
    def from_parts(cls, data: dict, arrays: Mapping[str, np.ndarray]) -> "RunResult":
        """Rebuild from `to_json()` output and the arrays ('samples' plus extras by name), e.g. from a cache
        (whose extras stay unread until used: core/lazy_arrays.py)."""
        kw = {f.name: data[f.name] for f in fields(cls) if f.name not in ("samples", "extras")}
        # A lazy mapping (core/lazy_arrays.py, duck-typed: trainers' code versions need not cover it) keeps
        # the extras unread.
        lazy_without = getattr(arrays, "without", None)
        extras = lazy_without("samples") if lazy_without else {k: v for k, v in arrays.items() if k != "samples"}
        return cls(samples=arrays["samples"], extras=extras, **kw)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"samples": self.samples, **self.extras}

    def __eq__(self, other: object) -> bool:
        """Equal records (as JSON: NaN equals NaN) and equal arrays by value: what a cache round trip keeps."""
        if not isinstance(other, RunResult):
            return NotImplemented
        mine, theirs = self.arrays(), other.arrays()
        same = [json.dumps(canonical(r.to_json()), default=str) for r in (self, other)]
        return same[0] == same[1] and mine.keys() == theirs.keys() and all(
            mine[k].dtype == theirs[k].dtype and np.array_equal(mine[k], theirs[k], equal_nan=mine[k].dtype.kind in "fc")
            for k in mine)
