"""The watchdog's pure rules (SPEC 6): progress decides, circular_diff, the gate."""

from __future__ import annotations

from agentloop.core.types import WatchdogSignal
from agentloop.engine.history import IterationRecord
from agentloop.engine.signals import (
    GateInput,
    completion_claimed,
    completion_malformed,
    detect_signals,
    gate_passes,
    made_progress,
)

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


def stuck(i: int, **kw) -> IterationRecord:
    return IterationRecord(iteration=i, head="h", plan_digest="p", tasks_done=1, **kw)


def found(history: list[IterationRecord], gate: GateInput = GATE) -> dict[WatchdogSignal, str]:
    return {s.signal: s.detail for s in detect_signals(history, gate)}


def test_no_progress_needs_three_iterations_without_a_commit_or_plan_change():
    assert WatchdogSignal.NO_PROGRESS not in found([stuck(1), stuck(2)])
    assert WatchdogSignal.NO_PROGRESS in found([stuck(1), stuck(2), stuck(3)])
    # a new commit, or a plan change, inside the window: progress of a kind
    moved = IterationRecord(iteration=3, head="h2", plan_digest="p", tasks_done=1)
    assert WatchdogSignal.NO_PROGRESS not in found([stuck(1), stuck(2), moved])
    edited = IterationRecord(iteration=3, head="h", plan_digest="p2", tasks_done=1)
    assert WatchdogSignal.NO_PROGRESS not in found([stuck(1), stuck(2), edited])
    # only the newest window counts
    assert WatchdogSignal.NO_PROGRESS in found([moved, stuck(4), stuck(5), stuck(6)])


def test_repeated_task_needs_the_same_named_task_three_times_in_a_row():
    named = [rec(i, f"h{i}", i, i - 1, task="write docs") for i in (1, 2, 3)]
    assert "'write docs' named in 3" in found(named)[WatchdogSignal.REPEATED_TASK]
    other = [*named[:2], rec(3, "h3", 3, 2, task="fix tests")]
    assert WatchdogSignal.REPEATED_TASK not in found(other)
    unnamed = [rec(i, f"h{i}", i, i - 1) for i in (1, 2, 3)]  # no task seen: not a repeat
    assert WatchdogSignal.REPEATED_TASK not in found(unnamed)


def test_a_malformed_token_is_a_signal_but_not_a_claim():
    record = rec(1, "b", 1, 0, completion="malformed")
    assert not completion_claimed(record)
    assert completion_malformed(record)
    gate = GateInput(False, True, True, 0, 0, True)
    assert WatchdogSignal.MALFORMED_COMPLETE in found([record], gate)
    assert not gate_passes(gate)


def test_a_reviewers_token_is_a_claim_and_wins_over_a_malformed_one():
    record = rec(1, "b", 1, 0, completion="malformed", review_completion="complete")
    assert completion_claimed(record)
    assert not completion_malformed(record)


def test_false_complete_says_what_is_missing():
    gate = GateInput(True, False, False, 2, 1, False)
    detail = found([rec(1, "b", 1, 0)], gate)[WatchdogSignal.FALSE_COMPLETE]
    assert detail == (
        "completion claimed but 2 open task(s) remain; 1 task(s) await review; "
        "the last verification failed"
    )
    assert WatchdogSignal.FALSE_COMPLETE not in found([rec(1, "b", 1, 0)], GATE)  # no claim


def test_a_worktree_escape_lists_at_most_ten_paths():
    paths = [f"f{i}.py" for i in range(12)]
    detail = found([rec(1, "b", 1, 0, escaped_paths=paths)])[WatchdogSignal.WORKTREE_ESCAPE]
    assert "f9.py" in detail
    assert "f10.py" not in detail


def test_the_first_iteration_compares_with_the_start_head():
    assert made_progress([rec(1, "b", 1, None)], start_head="a")  # done count from 0
    assert not made_progress([rec(1, "a", 1, 0)], start_head="a")
    # a verification that never failed before passing is not a recovery
    assert not made_progress([rec(1, "a", 0, 0, verification_ok=True)], start_head="a")


def test_no_history_no_signals():
    assert detect_signals([], GATE) == []
