"""The gate every phase step passes (engine.phases.guard): a stopped run runs no phase, a
failing phase fails the run with a reason (and is remembered for a retry), a run stopped
mid-start stops quietly, and a run's lost worktree is rebuilt from its branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentloop.core.errors import AgentloopError, GitError
from agentloop.core.types import EventType, RunStatus
from agentloop.engine import control
from agentloop.engine.context import RunContext
from agentloop.engine.history import RunState
from agentloop.engine.inflight import in_flight
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.phases import begin, guarded, resume_after_limit
from agentloop.engine.recorder import Recorder
from agentloop.engine.runtime import Runtime
from agentloop.engine.settings import DaemonSettings
from agentloop.store import Store

from .conftest import FakeDbos, MakeRun, event_types, git


class Phase:
    """A phase that records that it ran (and what the guard let it see)."""

    def __init__(self, result: StepOutcome | BaseException | None = None) -> None:
        self.result = result if result is not None else StepOutcome.done()
        self.calls: list[RunContext] = []
        self.__name__ = "implementation"

    def __call__(self, ctx: RunContext, *args: object) -> StepOutcome:
        self.calls.append(ctx)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.mark.parametrize("final", [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED])
def test_a_finished_run_runs_no_phase(make_run: MakeRun, final: RunStatus) -> None:
    run_id = make_run(final)
    phase = Phase()

    assert guarded(run_id, phase) == StepOutcome.stopped(final.value)
    assert phase.calls == []


def test_a_paused_run_runs_only_the_usage_limit_steps(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(RunStatus.PAUSED, reason="usage_limit")
    phase = Phase()

    assert guarded(run_id, phase) == StepOutcome.stopped("PAUSED")
    assert phase.calls == []

    assert guarded(run_id, resume_after_limit) == StepOutcome.done()
    assert store.get_run(run_id).status is RunStatus.RUNNING
    assert event_types(store, run_id)[-1] is EventType.RUN_RESUMED


def test_a_phase_runs_marked_in_flight_with_its_arguments(make_run: MakeRun) -> None:
    run_id = make_run()
    seen: list[object] = []

    def implementation(ctx: RunContext, iteration: int) -> StepOutcome:
        seen.append(iteration)
        seen.append(in_flight.running(ctx.run_id))
        return StepOutcome.done(iteration=iteration + 1)

    assert guarded(run_id, implementation, 4) == StepOutcome.done(iteration=5)
    assert seen == [4, True]
    assert not in_flight.running(run_id)


def test_our_error_fails_the_run_with_its_message_and_remembers_the_step(
    make_run: MakeRun, store: Store
) -> None:
    run_id = make_run()
    phase = Phase(GitError("git worktree add failed", args=["worktree"], returncode=128))

    outcome = guarded(run_id, phase)

    assert outcome == StepOutcome.failed("git worktree add failed")
    assert not in_flight.running(run_id)
    # outside a DBOS step the step key is 0: recorded, so a retry rewinds to it
    assert RunState.from_json(store.get_run_state(run_id)).failed_step == 0


def test_an_unexpected_exception_becomes_an_internal_error_reason(make_run: MakeRun) -> None:
    run_id = make_run()

    outcome = guarded(run_id, Phase(KeyError("iteration")))

    assert outcome == StepOutcome.failed("internal_error: KeyError: 'iteration'")
    assert not in_flight.running(run_id)


def test_a_failure_does_not_erase_the_rest_of_the_state(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(state=RunState(epoch=2, rewrites_used=1, start_head="abc"))

    guarded(run_id, Phase(AgentloopError("boom")))

    state = RunState.from_json(store.get_run_state(run_id))
    assert (state.epoch, state.rewrites_used, state.start_head) == (2, 1, "abc")


def test_a_run_canceled_while_its_step_starts_stops_quietly(
    make_run: MakeRun, store: Store
) -> None:
    """The guard saw RUNNING; the cancel landed before the step's first write."""
    run_id = make_run(RunStatus.PENDING)

    def canceled_under_it(ctx: RunContext) -> StepOutcome:
        store.update_run(run_id, status=RunStatus.CANCELED.value)
        return begin(ctx)

    canceled_under_it.__name__ = "begin"

    assert guarded(run_id, canceled_under_it) == StepOutcome.stopped("CANCELED")
    run = store.get_run(run_id)
    assert run.status is RunStatus.CANCELED
    assert run.started_at is None
    assert EventType.RUN_STARTED not in event_types(store, run_id)


def test_begin_starts_a_pending_run(make_run: MakeRun, store: Store) -> None:
    run_id = make_run(RunStatus.PENDING)

    assert guarded(run_id, begin) == StepOutcome.done(iteration=0)

    run = store.get_run(run_id)
    assert run.status is RunStatus.RUNNING
    assert run.started_at is not None
    assert event_types(store, run_id) == [EventType.RUN_CREATED, EventType.RUN_STARTED]


def test_a_lost_worktree_is_rebuilt_from_the_run_branch_before_the_phase(
    make_run: MakeRun, workspace: Path, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt" / "demo"
    git(workspace, "worktree", "add", "-q", "-b", "run/demo", str(worktree), "main")
    (worktree / "work.txt").write_text("done by the agent\n")
    git(worktree, "add", "work.txt")
    git(worktree, "commit", "-q", "-m", "agent work")
    git(workspace, "worktree", "remove", "--force", str(worktree))
    assert not worktree.exists()
    run_id = make_run(worktree=worktree, run_branch="run/demo")
    seen: list[str] = []

    def implementation(ctx: RunContext) -> StepOutcome:
        seen.append((worktree / "work.txt").read_text())
        return StepOutcome.done()

    assert guarded(run_id, implementation) == StepOutcome.done()
    assert seen == ["done by the agent\n"]
    assert git(worktree, "rev-parse", "--abbrev-ref", "HEAD") == "run/demo"


class SeesInterrupt(Phase):
    """A phase that records whether it started with the run marked interrupted here, and
    whether its agent would start already stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted: list[tuple[bool, bool]] = []

    def __call__(self, ctx: RunContext, *args: object) -> StepOutcome:
        interrupts = ctx.runtime.interrupts
        self.interrupted.append(
            (interrupts.was_interrupted(ctx.run_id), interrupts.cancel_event(ctx.run_id).is_set())
        )
        return super().__call__(ctx, *args)


def test_a_run_paused_here_and_resumed_on_another_host_runs_here_uninterrupted(
    make_run: MakeRun, runtime: Runtime, settings: DaemonSettings, fake_dbos: FakeDbos
) -> None:
    """The pause marks this host; the resume on another host cannot clear that mark, and
    the resumed workflow may be dequeued here: its agent must not start already canceled."""
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"
    control.pause(runtime, run_id)
    other_host = Runtime(settings=settings, store=runtime.store)
    control.resume(other_host, run_id)
    assert fake_dbos.statuses[run_id] == "ENQUEUED"
    phase = SeesInterrupt()

    assert guarded(run_id, phase) == StepOutcome.done()
    assert phase.interrupted == [(False, False)]


def test_a_pause_landing_as_a_step_starts_still_interrupts_it(
    make_run: MakeRun, runtime: Runtime, store: Store, fake_dbos: FakeDbos
) -> None:
    """Marked, its workflow not yet CANCELLED and not resumed since: the mark holds."""
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"
    runtime.interrupts.mark(run_id, store.last_seq(run_id))
    phase = SeesInterrupt()

    guarded(run_id, phase)
    assert phase.interrupted == [(True, False)]  # woken once the workflow is CANCELLED


def test_a_mark_older_than_a_resume_stays_while_its_workflow_is_cancelled(
    make_run: MakeRun, runtime: Runtime, settings: DaemonSettings, fake_dbos: FakeDbos
) -> None:
    """A step of the execution the pause stopped (DBOS began it before the cancel) is
    still superseded after another host's resume recorded RUN_RESUMED, until the workflow
    is resumed."""
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"
    control.pause(runtime, run_id)
    Recorder(RunContext.load(runtime, run_id, step_key=0)).event(
        EventType.RUN_RESUMED, "resumed:elsewhere", run={"status": "PENDING"}, reason="user"
    )
    phase = SeesInterrupt()

    assert guarded(run_id, phase) == StepOutcome.stopped("PENDING")
    assert phase.calls == []
    assert runtime.interrupts.was_interrupted(run_id)
