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
