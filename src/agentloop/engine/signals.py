"""Watchdog signals (SPEC 6) and the completion gate (SPEC 2.4e), as pure functions of the
run's stored history. The watchdog phase applies what these decide."""

from __future__ import annotations

from dataclasses import dataclass

from agentloop.core.types import WatchdogSignal
from agentloop.engine.history import IterationRecord

NO_PROGRESS_WINDOW = 3
REPEATED_TASK_WINDOW = 3

ESCALATING = frozenset(
    {
        WatchdogSignal.NO_PROGRESS,
        WatchdogSignal.REPEATED_TASK,
        WatchdogSignal.MALFORMED_COMPLETE,
        WatchdogSignal.FALSE_COMPLETE,
        WatchdogSignal.CIRCULAR_DIFF,
    }
)
"""Signals that escalate when the iteration made no progress (SPEC 6): rewrite the prompt,
then a fallback agent, then pause for attention (or fail). A failed verification has its own
counter; a worktree escape is never acted on (the user may be editing)."""


@dataclass(frozen=True)
class Signal:
    signal: WatchdogSignal
    detail: str


@dataclass(frozen=True)
class GateInput:
    claimed: bool
    malformed: bool
    plan_complete: bool
    open_tasks: int
    awaiting_review: int
    verification_ok: bool


def completion_claimed(record: IterationRecord) -> bool:
    return "complete" in (record.completion, record.review_completion)


def completion_malformed(record: IterationRecord) -> bool:
    return not completion_claimed(record) and "malformed" in (
        record.completion,
        record.review_completion,
    )


def gate_passes(gate: GateInput) -> bool:
    """Complete only with the token, a finished plan, and a passing last verification."""
    return gate.claimed and gate.plan_complete and gate.verification_ok


def made_progress(history: list[IterationRecord], start_head: str | None) -> bool:
    """Whether the newest iteration made progress: the run branch got a new commit and the
    plan's done count rose, or a verification that failed before now passes."""
    if not history:
        return False
    latest = history[-1]
    previous = history[-2] if len(history) > 1 else None
    if previous is not None and previous.verification_ok is False and latest.verification_ok:
        return True
    head_before = previous.head if previous is not None else start_head
    committed = latest.head is not None and latest.head != head_before
    before = latest.done_before
    if before is None and previous is not None:
        before = previous.tasks_done
    rose = latest.tasks_done is not None and latest.tasks_done > (before or 0)
    return committed and rose


def detect_signals(history: list[IterationRecord], gate: GateInput) -> list[Signal]:
    """Signals raised by the newest iteration of ``history``."""
    if not history:
        return []
    latest = history[-1]
    found: list[Signal] = []
    recent = history[-NO_PROGRESS_WINDOW:]
    if len(recent) == NO_PROGRESS_WINDOW and _no_progress(recent):
        found.append(
            Signal(
                WatchdogSignal.NO_PROGRESS,
                f"no new commit and no plan change in {NO_PROGRESS_WINDOW} iterations",
            )
        )
    tasks = [r.task for r in history[-REPEATED_TASK_WINDOW:]]
    if len(tasks) == REPEATED_TASK_WINDOW and tasks[0] and all(t == tasks[0] for t in tasks):
        found.append(
            Signal(
                WatchdogSignal.REPEATED_TASK,
                f"task {tasks[0]!r} named in {REPEATED_TASK_WINDOW} consecutive outputs",
            )
        )
    if latest.verification_ok is False:
        found.append(Signal(WatchdogSignal.VERIFICATION_FAILED, "verification failed"))
    if gate.malformed:
        found.append(
            Signal(
                WatchdogSignal.MALFORMED_COMPLETE,
                "completion token found, but not where the completion mode requires it",
            )
        )
    if gate.claimed and not gate_passes(gate):
        found.append(Signal(WatchdogSignal.FALSE_COMPLETE, _false_complete_detail(gate)))
    undone = _undone_hunks(history)
    if undone:
        found.append(
            Signal(
                WatchdogSignal.CIRCULAR_DIFF,
                f"this iteration undid {undone} change(s) an earlier iteration made",
            )
        )
    if latest.escaped_paths:
        shown = ", ".join(latest.escaped_paths[:10])
        found.append(Signal(WatchdogSignal.WORKTREE_ESCAPE, f"primary checkout changed: {shown}"))
    return found


def _undone_hunks(history: list[IterationRecord]) -> int:
    """How many of the newest iteration's removed hunks an earlier iteration had added."""
    latest = history[-1]
    if not latest.removed_hunks:
        return 0
    earlier = {digest for record in history[:-1] for digest in record.added_hunks}
    return len(set(latest.removed_hunks) & earlier)


def _no_progress(records: list[IterationRecord]) -> bool:
    heads = {r.head for r in records}
    plans = {r.plan_digest for r in records}
    return len(heads) == 1 and len(plans) == 1


def _false_complete_detail(gate: GateInput) -> str:
    reasons = []
    if gate.open_tasks:
        reasons.append(f"{gate.open_tasks} open task(s) remain")
    if gate.awaiting_review:
        reasons.append(f"{gate.awaiting_review} task(s) await review")
    if not gate.verification_ok:
        reasons.append("the last verification failed")
    return "completion claimed but " + ("; ".join(reasons) or "the plan is not complete")
