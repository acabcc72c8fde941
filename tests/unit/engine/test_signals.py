"""The watchdog's pure rules (SPEC 6): progress decides, circular_diff, the gate."""

from __future__ import annotations

from agentloop.core.types import WatchdogSignal
from agentloop.engine.history import IterationRecord
from agentloop.engine.signals import GateInput, detect_signals, gate_passes, made_progress

GATE = GateInput(
    claimed=False,
    malformed=False,
    plan_complete=False,
    open_tasks=2,
    awaiting_review=0,
    verification_ok=True,
)


def rec(i: int, head: str, done: int | None, before: int | None = None, **kw) -> IterationRecord:
    return IterationRecord(iteration=i, head=head, tasks_done=done, done_before=before, **kw)


def test_a_commit_that_ticks_a_task_is_progress():
    assert made_progress([rec(1, "b", 1, 0)], start_head="a")
    assert made_progress([rec(1, "b", 1, 0), rec(2, "c", 2)], start_head="a")


def test_a_commit_without_a_tick_is_not_progress():
    assert not made_progress([rec(1, "b", 0, 0)], start_head="a")


def test_a_tick_without_a_commit_is_not_progress():
    assert not made_progress([rec(1, "a", 1, 0)], start_head="a")
    assert not made_progress([rec(1, "b", 1, 0), rec(2, "b", 2, 1)], start_head="a")


def test_a_verification_that_passes_again_is_progress():
    history = [rec(1, "b", 1, 0, verification_ok=False), rec(2, "b", 1, 1, verification_ok=True)]
    assert made_progress(history, start_head="a")


def test_nothing_is_no_progress():
    assert not made_progress([], start_head="a")


def test_circular_diff_when_an_iteration_removes_what_an_earlier_one_added():
    history = [
        rec(1, "b", 1, 0, added_hunks=["h1", "h2"]),
        rec(2, "c", 1, 1, added_hunks=["h3"], removed_hunks=["h2"]),
    ]
    found = {s.signal for s in detect_signals(history, GATE)}
    assert WatchdogSignal.CIRCULAR_DIFF in found


def test_no_circular_diff_for_new_changes():
    history = [rec(1, "b", 1, 0, added_hunks=["h1"]), rec(2, "c", 2, 1, removed_hunks=["h9"])]
    assert WatchdogSignal.CIRCULAR_DIFF not in {s.signal for s in detect_signals(history, GATE)}


def test_false_complete_is_raised_even_with_progress():
    claimed = GateInput(True, False, False, 1, 0, True)
    history = [rec(1, "b", 1, 0)]
    assert WatchdogSignal.FALSE_COMPLETE in {s.signal for s in detect_signals(history, claimed)}
    assert made_progress(history, start_head="a")  # ... so it is recorded, not acted on


def test_gate_needs_token_plan_and_verification():
    assert gate_passes(GateInput(True, False, True, 0, 0, True))
    assert not gate_passes(GateInput(True, False, True, 0, 0, False))
    assert not gate_passes(GateInput(False, False, True, 0, 0, True))
    assert not gate_passes(GateInput(True, False, False, 1, 0, True))
