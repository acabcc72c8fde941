"""The CLI session of each agent step (SPEC 18): recorded on the step, read back for the
interrupted attempts of a step, and forgotten once the run's worktree is created anew."""

from __future__ import annotations

from collections.abc import Callable

from agentloop.core.models import Run
from agentloop.core.types import EventType, Phase, StepStatus
from agentloop.store import StepChange, Store
from agentloop.store.sessions import AgentSession, Sessions


def start_step(store: Store, run: Run, attempt: int) -> str:
    event = store.append_event(
        run.id,
        EventType.STEP_STARTED,
        {"step_id": f"s{attempt}", "phase": "implementation", "attempt": attempt, "iteration": 1},
        step=StepChange(
            phase=Phase.IMPLEMENTATION, iteration=1, attempt=attempt, status=StepStatus.IN_PROGRESS
        ),
    )
    assert event.step_id is not None
    return event.step_id


def test_the_latest_recorded_session_of_the_attempts(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run()
    sessions = Sessions(store)
    first, second, third = (start_step(store, run, n) for n in (1, 2, 3))
    assert sessions.latest(run.id, [first, second, third]) is None
    sessions.record(first, "claude", "s-1")
    sessions.record(second, "codex", "s-2")
    assert sessions.latest(run.id, [first, second, third]) == AgentSession(second, "codex", "s-2")
    assert sessions.latest(run.id, [first]) == AgentSession(first, "claude", "s-1")
    sessions.record(first, "claude", "s-1b")  # a step that started over has a new session
    assert sessions.latest(run.id, [first]) == AgentSession(first, "claude", "s-1b")
    assert store.get_step(first).session_id == "s-1b"
    assert sessions.latest(run.id, []) is None


def test_a_new_worktree_resumes_no_older_session(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run()
    sessions = Sessions(store)
    before = start_step(store, run, 1)
    sessions.record(before, "claude", "old")
    store.append_event(
        run.id,
        EventType.WORKTREE_CREATED,
        {"provider": "git", "worktree_path": "/wt2", "run_branch": "run/x-2"},
    )  # a reset's fresh worktree
    assert sessions.latest(run.id, [before]) is None
    after = start_step(store, run, 2)
    sessions.record(after, "claude", "new")
    assert sessions.latest(run.id, [before, after]) == AgentSession(after, "claude", "new")
