"""Progress and logging on stderr: rich bars on a terminal, plain log lines otherwise, silence with --quiet.

Results go to stdout (the CLI prints them); everything here writes to stderr only.
"""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger("bubblelens")

Callback = Callable[[int, int, dict], None]


def setup_logging(quiet: bool, debug: bool) -> None:
    level = logging.DEBUG if debug else (logging.ERROR if quiet else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if not debug else "%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("bubblelens")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Reporter:
    """One object the pipeline talks to; it decides how (and whether) progress is shown."""

    def __init__(self, quiet: bool = False, force_plain: bool = False):
        self.quiet = quiet
        self.interactive = (not quiet) and (not force_plain) and sys.stderr.isatty()
        self._progress = None
        if self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                console=Console(stderr=True), transient=False,
            )

    def info(self, message: str) -> None:
        if not self.quiet:
            log.info(message)

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callback]:
        """Yields a callback(step, total, values) that advances a bar or logs every ~10 %."""
        if self.quiet:
            yield lambda step, tot, values: None
            return
        start = time.perf_counter()
        if self._progress is not None:
            self._progress.start()
            tid = self._progress.add_task(description, total=max(total, 1), info="")

            def advance(step: int, tot: int, values: dict) -> None:
                info = "  ".join(f"{k}={v:.3g}" for k, v in values.items())
                self._progress.update(tid, completed=step, total=max(tot, 1), info=info)

            try:
                yield advance
            finally:
                self._progress.update(tid, completed=self._progress.tasks[tid].total)
                self._progress.stop()
            return
        last = [-1]

        def log_line(step: int, tot: int, values: dict) -> None:
            decile = int(10 * step / max(tot, 1))
            if decile > last[0]:
                last[0] = decile
                info = " ".join(f"{k}={v:.3g}" for k, v in values.items())
                log.info(f"  {description}: {step}/{tot} {info}".rstrip())

        yield log_line
        log.info(f"  {description}: done in {time.perf_counter() - start:.1f} s")
