"""Preloaded by multiprocessing's forkserver (lifeline.start_forkserver) to make the forkserver die with the
build that started it (pipeline/lifeline.py explains why). Importing it anywhere else does nothing.

The build's pid arrives in an environment variable, removed here so that workers do not inherit it. Workers
forked by this forkserver inherit ARMED_PID, the forkserver's pid, as the parent to arm their own death
signal against.
"""
from __future__ import annotations

import os

from bubblelens.pipeline.lifeline import PARENT_ENV, die_with_parent

ARMED_PID: int | None = None

_build = os.environ.pop(PARENT_ENV, None)
if _build is not None and _build.isdigit() and die_with_parent(int(_build)):
    ARMED_PID = os.getpid()
