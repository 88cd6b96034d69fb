"""The progress board every backend feeds: counts, ETA, plain log lines, and the throttled sender."""
from __future__ import annotations

import logging
import queue
import threading
import time

from bubblelens.pipeline import unit_board
from bubblelens.pipeline.progress import Reporter
from bubblelens.pipeline.unit_board import END, START, STEP, ThrottledSender, UnitBoard, UnitState


def test_counts_follow_the_events(caplog):
    board = UnitBoard(Reporter(force_plain=True), ["a", "b", "c"])
    assert board.counts() == (0, 0, 3)
    with caplog.at_level(logging.INFO, logger="bubblelens"):
        board.handle((START, "a", "node 1234abcd (host)"))
        board.handle((STEP, "a", 5, 10))
        board.handle((START, "b", "worker 7"))
        assert board.counts() == (0, 2, 1)
        board.finish("a", 2.0)
    assert board.counts() == (1, 1, 1)
    text = caplog.text
    assert "started a on node 1234abcd (host)" in text
    assert "a: 5/10 steps on node 1234abcd (host), ETA" in text
    assert "1 done, 1 running, 1 queued; a took 2.0 s on node 1234abcd (host)" in text


def test_a_restarted_unit_counts_its_attempts_and_restarts_its_clock():
    board = UnitBoard(None, ["a"])
    board.start("a", "node x")
    board.step("a", 3, 10)
    board.start("a", "node y")
    unit = board.units["a"]
    assert unit.attempts == 2 and unit.step == 0 and unit.where == "node y"


def test_eta_is_the_mean_rate_so_far():
    unit = UnitState("a", started=100.0, step=25, total=100)
    assert unit.eta(110.0) == 30.0
    assert UnitState("b").eta(5.0) is None


def test_quiet_board_logs_nothing(caplog):
    board = UnitBoard(Reporter(quiet=True), ["a"])
    with caplog.at_level(logging.INFO, logger="bubblelens"):
        board.start("a", "here")
        board.finish("a", 1.0)
    assert caplog.text == ""


def test_sender_throttles_but_always_sends_the_last_step(monkeypatch):
    clock = iter([0.0, 0.1, 0.2, 0.7, 0.8])
    monkeypatch.setattr(unit_board.time, "monotonic", lambda: next(clock))
    sent = []
    sender = ThrottledSender(sent.append, "k")
    for step in (1, 2, 3, 4, 10):
        sender(step, 10, {})
    assert sent == [(STEP, "k", 1, 10), (STEP, "k", 4, 10), (STEP, "k", 10, 10)]


def _take(events: queue.Queue, timeout: float) -> list[tuple]:
    try:
        return [events.get(timeout=timeout)]
    except queue.Empty:
        return []


def test_finishing_waits_for_the_last_steps_that_arrive_after_the_result():
    """The pool's race (CI, 2026-12-02): a worker's result came back before its queued last STEP, and the
    board showed a finished unit at step 1 of 10. The driver now waits for the unit's END event."""
    board = UnitBoard(None, ["a"])
    board.handle((START, "a", "worker 1"))
    board.handle((STEP, "a", 1, 10))
    events: queue.Queue = queue.Queue()

    def late_worker_flush():
        time.sleep(0.3)
        events.put((STEP, "a", 10, 10))
        events.put((END, "a", "worker 1"))

    threading.Thread(target=late_worker_flush).start()
    board.wait_for_end("a", lambda t: _take(events, t))
    board.finish("a", 1.0)
    assert board.units["a"].step == 10 and board.units["a"].ended and board.units["a"].done


def test_waiting_for_an_end_that_never_comes_gives_up(monkeypatch):
    monkeypatch.setattr(unit_board, "END_WAIT_S", 0.2)
    board = UnitBoard(None, ["a"])
    board.handle((START, "a", "worker 1"))
    start = time.monotonic()
    board.wait_for_end("a", lambda t: _take(queue.Queue(), t))
    assert 0.2 <= time.monotonic() - start < 2.0 and not board.units["a"].ended


def test_a_gone_channel_ends_the_wait_at_once():
    board = UnitBoard(None, ["a"])
    board.handle((START, "a", "worker 1"))
    start = time.monotonic()
    assert board.wait_for_end("a", lambda t: None) is False
    assert time.monotonic() - start < 0.5


def test_late_events_of_another_attempt_change_nothing():
    """An END from an earlier attempt's worker does not end the current attempt's wait, and events that
    arrive after a unit finished (a lost attempt's START or steps) do not reopen it."""
    board = UnitBoard(None, ["a"])
    board.handle((START, "a", "worker 1"))
    board.handle((START, "a", "worker 2"))               # resubmitted after worker 1 died
    board.handle((END, "a", "worker 1"))
    assert not board.units["a"].ended
    board.handle((STEP, "a", 10, 10))
    board.handle((END, "a", "worker 2"))
    assert board.units["a"].ended
    board.finish("a", 1.0)
    board.handle((START, "a", "worker 3"))
    board.handle((STEP, "a", 1, 10))
    u = board.units["a"]
    assert u.done and u.where == "worker 2" and u.step == 10 and u.attempts == 2
