"""What the executors show while units run: done / running / queued, each running unit's ETA and where it runs.

Every backend (serial, pool, Ray) feeds one `UnitBoard` with the same events — a unit started somewhere,
advanced to step k of n, finished — so the display is the same whichever runs the work. Workers send
their events through `ThrottledSender` (at most a few per second per unit, whatever the training loop's
own rate), over the backend's channel: a call in this process, a multiprocessing queue, a Ray queue.

On a terminal it is one rich bar per running unit plus a units line; otherwise plain log lines on stderr:
one when a unit starts or finishes, and one per tenth of a unit's steps with its ETA. Quiet shows nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

START, STEP, END = "start", "step", "end"   # (START, key, where), (STEP, key, step, total), (END, key, where)
SEND_EVERY_S = 0.5
END_WAIT_S = 5.0       # the longest a driver waits for a finished unit's last events


@dataclass
class UnitState:
    key: str
    where: str = ""
    started: float | None = None
    step: int = 0
    total: int = 0
    attempts: int = 0
    done: bool = False
    decile: int = -1
    ended: bool = False           # the worker's last event (END) has arrived: no STEP of this attempt is in flight

    def eta(self, now: float) -> float | None:
        """Seconds left at the unit's mean rate so far; None until it has made progress."""
        if self.started is None or self.step <= 0 or self.total <= 0:
            return None
        return (now - self.started) * max(self.total - self.step, 0) / self.step


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    m, s = divmod(int(round(seconds)), 60)
    return f"ETA {m}m{s:02d}s" if m else f"ETA {s}s"


class UnitBoard:
    """The state of one batch of units, and its display through the build's Reporter (or none)."""

    def __init__(self, reporter: Any, keys: list[str]) -> None:
        self.reporter = reporter
        self.units = {k: UnitState(k) for k in keys}
        self.quiet = reporter is None or getattr(reporter, "quiet", False)
        self._rich = None if self.quiet else getattr(reporter, "_progress", None)
        self._bars: dict[str, int] = {}
        if self._rich is not None:
            self._rich.start()
            self._overall = self._rich.add_task("units", total=len(keys), info=self._counts_text())

    # -- counts ---------------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int, int]:
        """(done, running, queued)."""
        done = sum(u.done for u in self.units.values())
        running = sum(u.started is not None and not u.done for u in self.units.values())
        return done, running, len(self.units) - done - running

    def _counts_text(self) -> str:
        done, running, queued = self.counts()
        return f"{done} done, {running} running, {queued} queued"

    # -- events ---------------------------------------------------------------------------------------
    def handle(self, event: tuple) -> None:
        """One event from a worker: (START, key, where), (STEP, key, step, total) or (END, key, where).
        Events for a unit already finished are late ones (of a lost attempt, say) and change nothing; an END
        counts only from where the unit's current attempt started."""
        u = self.units[event[1]]
        if u.done:
            return
        if event[0] == START:
            self.start(event[1], event[2])
        elif event[0] == STEP:
            self.step(event[1], event[2], event[3])
        elif event[0] == END and event[2] == u.where:
            u.ended = True

    def start(self, key: str, where: str) -> None:
        u = self.units[key]
        u.where, u.started, u.step, u.decile, u.ended = where, time.perf_counter(), 0, -1, False
        u.attempts += 1
        again = f" (attempt {u.attempts})" if u.attempts > 1 else ""
        if self._rich is not None:
            if key in self._bars:
                self._rich.remove_task(self._bars.pop(key))
            self._bars[key] = self._rich.add_task(key, total=1, info=where)
            self._rich.update(self._overall, info=self._counts_text())
        elif not self.quiet:
            self.reporter.info(f"  units: {self._counts_text()}; started {key} on {where}{again}")

    def step(self, key: str, step: int, total: int) -> None:
        u = self.units[key]
        if u.done:
            return
        u.step, u.total = step, total
        eta = _duration(u.eta(time.perf_counter()))
        if self._rich is not None and key in self._bars:
            self._rich.update(self._bars[key], completed=step, total=max(total, 1), info=f"{eta} on {u.where}")
        elif not self.quiet:
            decile = int(10 * step / max(total, 1))
            if decile > u.decile:
                u.decile = decile
                self.reporter.info(f"  {key}: {step}/{total} steps on {u.where}, {eta}")

    def wait_for_end(self, key: str, take: Callable[[float], list[tuple] | None]) -> bool:
        """Handle events from `take(timeout)` (a list, possibly empty; None when the channel is gone) until
        `key`'s END has arrived, so that its last steps are on the board before it is marked finished. A
        backend's channel may deliver a worker's events after its result (a multiprocessing queue flushes
        from a feeder thread as the worker exits), so this waits a moment at most, and gives up after
        END_WAIT_S: progress is a display, never a result. Returns False when the channel is gone."""
        deadline = time.monotonic() + END_WAIT_S
        while not self.units[key].ended and (left := deadline - time.monotonic()) > 0:
            events = take(min(left, 0.1))
            if events is None:
                return False
            for event in events:
                self.handle(event)
            if not events:
                time.sleep(0.02)         # a channel that answers at once when empty (Ray's) is not spun on
        return True

    def finish(self, key: str, seconds: float, where: str = "") -> None:
        u = self.units[key]
        u.done, u.where = True, where or u.where
        if self._rich is not None:
            if key in self._bars:
                self._rich.remove_task(self._bars.pop(key))
            self._rich.update(self._overall, completed=self.counts()[0], info=self._counts_text())
        elif not self.quiet:
            self.reporter.info(f"  units: {self._counts_text()}; {key} took {seconds:.1f} s on {u.where}")

    def close(self) -> None:
        if self._rich is not None:
            for tid in self._bars.values():
                self._rich.remove_task(tid)
            self._rich.remove_task(self._overall)
            self._bars.clear()
            self._rich.stop()
            self._rich = None


class ThrottledSender:
    """A unit's `progress(step, total, values)` callback that sends (STEP, key, step, total) through
    `send` at most every SEND_EVERY_S seconds (and always the last step): the channel may be a remote call."""

    def __init__(self, send: Callable[[tuple], None], key: str) -> None:
        self.send, self.key, self._last = send, key, float("-inf")

    def __call__(self, step: int, total: int, values: dict | None = None) -> None:
        now = time.monotonic()
        if step >= total or now - self._last >= SEND_EVERY_S:
            self._last = now
            self.send((STEP, self.key, step, total))
