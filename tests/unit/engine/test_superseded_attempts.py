"""A step of an attempt that a control call replaced writes nothing more (SPEC 2, control).

A pause, retry or reset starts a new attempt (a new epoch); a cancel ends the run. Until its
agent or command is killed, the interrupted step goes on, and DBOS may have started a step
just before the call cancelled the workflow. Whatever such a step records afterwards would
be history of an attempt that is over: a finished run a reset had reopened, a worktree and
branch of the old attempt on the new one, a CANCELED step turned SUCCEEDED, the engine
state of the old epoch restored. These tests land the control call at each of those points.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentloop.core.errors import Conflict
from agentloop.core.models import Event
from agentloop.core.types import EventType, Phase, RunStatus, StepStatus
from agentloop.engine import control, phases
from agentloop.engine import finish as finishing
from agentloop.engine.context import RunContext
from agentloop.engine.history import RunState
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.recorder import Recorder
from agentloop.engine.runtime import Runtime
from agentloop.store import Store

from .conftest import FakeDbos, MakeRun, ends_as_it_is_cancelled, event_types, git

TERMINAL_EVENTS = {EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELED}
prepare_module = importlib.import_module("agentloop.engine.phases.prepare")  # not the phase


def after_last_reset(store: Store, run_id: str) -> list[Event]:
    """The run's events after its last reset's RUN_RESUMED."""
    history = store.events_after(run_id)
    resets = [
        i
        for i, e in enumerate(history)
        if e.event_type is EventType.RUN_RESUMED and e.payload.get("reason") == "reset"
    ]
    assert resets, [e.event_type for e in history]
    return history[resets[-1] + 1 :]


def worktrees_of(workspace: Path) -> list[str]:
    listed = git(workspace, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listed.splitlines() if line.startswith("worktree ")]


# -- 1. a reset racing the run's finish -----------------------------------------------------
def test_a_reset_while_the_finish_step_writes_the_run_files_wins(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = make_run(state=RunState(epoch=1))
    fake_dbos.statuses[run_id] = "PENDING"
    finishing_files, reset_done = threading.Event(), threading.Event()
    write_run_files = finishing.write_run_files

    def slow_files(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        finishing_files.set()
        reset_done.wait(1.0)  # the reset lands now, unless it waits for this step
        return write_run_files(*args, **kwargs)

    monkeypatch.setattr(finishing, "write_run_files", slow_files)
    outcomes: list[dict[str, Any]] = []
    finish = threading.Thread(
        target=lambda: outcomes.append(phases.finish_outcome(run_id, "COMPLETED", None))
    )
    finish.start()
    assert finishing_files.wait(10)
    control.reset(runtime, run_id)
    reset_done.set()
    finish.join(10)

    run = store.get_run(run_id)
    assert (run.status, run.finished_at) == (RunStatus.PENDING, None)
    assert not {e.event_type for e in after_last_reset(store, run_id)} & TERMINAL_EVENTS
    assert RunState.from_json(store.get_run_state(run_id)).epoch == 2


def test_a_finish_that_read_the_run_before_a_cancel_leaves_one_ending(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()
    stale = RunContext.load(runtime, run_id, step_key=9)  # the finish step read the run RUNNING...
    control.cancel(runtime, run_id)  # ...and a cancel ended it first

    with pytest.raises(Conflict):
        finishing.finish_run(stale, RunStatus.COMPLETED, None)

    assert store.get_run(run_id).status is RunStatus.CANCELED
    assert [t for t in event_types(store, run_id) if t in TERMINAL_EVENTS] == [
        EventType.RUN_CANCELED
    ]


def test_a_cancel_that_lost_the_race_to_the_runs_own_finish_is_refused(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
) -> None:
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"
    ends_as_it_is_cancelled(fake_dbos, runtime, run_id)

    with pytest.raises(Conflict) as refused:
        control.cancel(runtime, run_id)

    assert refused.value.facts["current_status"] == "COMPLETED"
    assert store.get_run(run_id).status is RunStatus.COMPLETED


# -- 2. a reset during prepare ----------------------------------------------------------------
def test_a_prepare_dbos_began_before_a_reset_stops_without_a_trace(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DBOS started the old workflow's prepare, which reads the run only once the reset has
    started over (after the reset waited for the steps in flight): it must not take the
    new attempt's prepare for its own."""
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"
    outcomes: list[dict[str, Any]] = []
    clear_interrupt = runtime.interrupts.clear

    def old_prepare_gets_here(run: str) -> None:
        outcomes.append(phases.guarded(run_id, phases.prepare))
        clear_interrupt(run)

    monkeypatch.setattr(runtime.interrupts, "clear", old_prepare_gets_here)

    control.reset(runtime, run_id)

    assert outcomes == [StepOutcome.stopped("PENDING")]
    assert after_last_reset(store, run_id) == []
    assert store.get_run(run_id).worktree.worktree_path is None
    assert worktrees_of(workspace) == [str(workspace)]


def test_a_prepare_superseded_after_it_created_the_worktree_removes_it(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reset is another host's: it cannot wait for this host's prepare, which chose its
    branch and path before the reset and creates the worktree after it."""
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"
    monkeypatch.setattr(control.in_flight, "wait_ended", lambda *_args, **_kw: True)
    select_provider = prepare_module.select_provider

    def resetting_first(*args: Any) -> Any:
        provider = select_provider(*args)

        class ResetFirst:
            name = provider.name

            def create(self, *create_args: Any) -> Any:
                control.reset(runtime, run_id)
                return provider.create(*create_args)

            def remove(self, *remove_args: Any, **kwargs: Any) -> None:
                provider.remove(*remove_args, **kwargs)

        return ResetFirst()

    monkeypatch.setattr(prepare_module, "select_provider", resetting_first)

    outcome = phases.guarded(run_id, phases.prepare)

    assert outcome == StepOutcome.stopped("PENDING")
    assert after_last_reset(store, run_id) == []
    run = store.get_run(run_id)
    assert (run.worktree.run_branch, run.worktree.worktree_path) == (None, None)
    assert worktrees_of(workspace) == [str(workspace)]  # the old attempt's worktree went
    assert RunState.from_json(store.get_run_state(run_id)).epoch == 1


# -- 3. a step finishing after the control call closed it -----------------------------------
def step_ending_as(
    runtime: Runtime, call: Callable[[Runtime, str], None], status: StepStatus
) -> Callable[[RunContext], StepOutcome]:
    """A phase whose work ends with ``status`` just as the control ``call`` lands."""

    def implementation(ctx: RunContext) -> StepOutcome:
        recorder = Recorder(ctx)
        handle = recorder.start_step(Phase.IMPLEMENTATION, 1)
        call(runtime, ctx.run_id)
        ctx.state.record(1).head = "abc"
        recorder.finish_step(handle, status, exit_code=0, message="Completed it.", state=True)
        return StepOutcome.done()

    return implementation


def test_a_step_finishing_after_a_pause_records_nothing_of_its_attempt(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(state=RunState(epoch=1))
    fake_dbos.statuses[run_id] = "PENDING"

    outcome = phases.guarded(run_id, step_ending_as(runtime, control.pause, StepStatus.SUCCEEDED))

    assert outcome == StepOutcome.stopped("PAUSED")
    [step] = store.list_steps(run_id)
    assert step.status is StepStatus.CANCELED
    assert event_types(store, run_id)[-1] is EventType.RUN_PAUSED
    state = RunState.from_json(store.get_run_state(run_id))
    assert (state.epoch, state.history) == (2, [])  # the pause's new epoch stands


def test_a_step_finishing_after_a_cancel_stays_canceled(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()
    fake_dbos.statuses[run_id] = "PENDING"

    phases.guarded(run_id, step_ending_as(runtime, control.cancel, StepStatus.SUCCEEDED))

    [step] = store.list_steps(run_id)
    assert (step.status, step.exit_code) == (StepStatus.CANCELED, 0)
    assert store.get_run(run_id).status is RunStatus.CANCELED
