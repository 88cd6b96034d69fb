"""Top-level functions for the executor tests (worker processes import them by module name)."""
from __future__ import annotations

import os
from pathlib import Path


def die_once(marker: str, value: int) -> int:
    """Kill the worker process the first time (as an out-of-memory kill would), succeed the second."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(9)
    return value * 2


def boom() -> None:
    raise RuntimeError("unit failed on purpose")


def threads_and_pid() -> tuple[int, int]:
    import torch

    return torch.get_num_threads(), os.getpid()


def gc_thresholds() -> tuple[int, int, int]:
    import gc

    return gc.get_threshold()


def parent_pid() -> int:
    return os.getppid()


def sleepy(seconds: float, value: int, progress=None) -> int:
    """A unit that takes `seconds` and reports ten progress steps (for node-removal tests)."""
    import time

    for step in range(1, 11):
        time.sleep(seconds / 10)
        if progress is not None:
            progress(step, 10, {})
    return value


def shape_and_scratch(images, ckpt_dir=None):
    """What a unit received: its array's shape (and that it can write into it) and its scratch directory."""
    images[0, 0] = 1
    return images.shape, ckpt_dir
