"""Run state (SPEC 2): which statuses are final, what the engine remembers between steps
(engine.history), and the store's guard that a late step never reopens a stopped run."""

from __future__ import annotations

import pytest

from agentloop.core.errors import Conflict
from agentloop.core.types import TERMINAL_RUN_STATUSES, Phase, RunStatus
from agentloop.engine.context import RunContext
from agentloop.engine.history import HISTORY_WINDOW, FinishedStep, IterationRecord, RunState
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.recorder import Recorder
from agentloop.engine.runtime import Runtime
from agentloop.store import Store

from .conftest import MakeRun


def test_only_completed_failed_and_canceled_are_terminal() -> None:
    assert {s for s in RunStatus if s.is_terminal} == {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELED,
    }
    assert {s for s in RunStatus if s.is_terminal} == TERMINAL_RUN_STATUSES
    assert not RunStatus.PAUSED.is_terminal  # a paused run resumes


def test_run_state_survives_a_json_round_trip() -> None:
    state = RunState(epoch=3, rewrites_used=1, agent_index=1, failed_step=7, start_head="abc")
    record = state.record(1)
    record.head, record.tasks_done, record.escaped_paths = "def", 2, ["README.md"]
    state.finished_step = FinishedStep(
        key=7, epoch=3, work=StepOutcome.done(verify=True), outcome=StepOutcome.failed("x")
    )

    again = RunState.from_json(state.to_json())

    assert again == state
    assert isinstance(again.history[0], IterationRecord)
    assert isinstance(again.finished_step, FinishedStep)


def test_run_state_ignores_keys_it_does_not_know() -> None:
    """A state written by a newer (or older) daemon still loads: unknown keys are dropped."""
    data = RunState(epoch=2).to_json()
    data["from_the_future"] = True
    data["history"] = [{"iteration": 1, "head": "abc", "not_a_field": 1}]

    state = RunState.from_json(data)

    assert state.epoch == 2
    assert state.history == [IterationRecord(iteration=1, head="abc")]
    assert RunState.from_json(None) == RunState()
    assert RunState.from_json({}) == RunState()


def test_record_returns_the_same_record_for_an_iteration() -> None:
    state = RunState()
    first = state.record(4)
    first.task = "write docs"
    assert state.record(4) is first
    assert [r.iteration for r in state.history] == [4]


def test_history_keeps_only_the_newest_window() -> None:
    state = RunState()
    for iteration in range(1, HISTORY_WINDOW + 4):
        state.record(iteration)
    kept = [r.iteration for r in state.history]
    assert kept == list(range(4, HISTORY_WINDOW + 4))
    assert len(kept) == HISTORY_WINDOW >= 3  # the longest look-back of any signal


def test_reset_counters_starts_the_failure_policy_afresh_but_keeps_the_epoch() -> None:
    state = RunState(
        epoch=5,
        rewrites_used=2,
        consecutive_verification_failures=2,
        consecutive_review_failures=1,
        failed_step=9,
        start_head="abc",
    )
    state.record(1)

    state.reset_counters()

    assert state.rewrites_used == 0
    assert state.consecutive_verification_failures == 0
    assert state.consecutive_review_failures == 0
    assert state.history == []
    assert state.failed_step is None
    assert state.epoch == 5
    assert state.start_head == "abc"


def test_event_keys_change_with_the_epoch_and_step_ids_do_not_change_on_reload(
    make_run: MakeRun, runtime: Runtime
) -> None:
    """A crash-replayed step writes nothing twice (same keys); a retry (new epoch) does."""
    run_id = make_run()
    first = RunContext.load(runtime, run_id, step_key=4)
    again = RunContext.load(runtime, run_id, step_key=4)
    assert first.key("x") == again.key("x")
    assert first.step_id("implementation", 1) == again.step_id("implementation", 1)
    assert first.step_id("implementation", 1) != first.step_id("implementation", 2)

    again.state.epoch += 1
    assert again.key("x") != first.key("x")
    assert again.step_id("implementation", 1) != first.step_id("implementation", 1)


@pytest.mark.parametrize("stopped", [RunStatus.PAUSED, RunStatus.CANCELED, RunStatus.FAILED])
def test_a_step_that_starts_after_the_run_stopped_cannot_reopen_it(
    make_run: MakeRun, store: Store, runtime: Runtime, stopped: RunStatus
) -> None:
    run_id = make_run()
    ctx = RunContext.load(runtime, run_id, step_key=3)  # loaded while RUNNING ...
    store.update_run(run_id, status=stopped.value)  # ... stopped before its first write

    with pytest.raises(Conflict) as raised:
        Recorder(ctx).start_step(Phase.IMPLEMENTATION, 1)

    assert raised.value.facts["current_status"] == stopped.value
    assert store.get_run(run_id).status is stopped
    assert store.list_steps(run_id) == []


def test_a_step_start_makes_the_run_running_with_its_phase_and_iteration(
    make_run: MakeRun, store: Store, runtime: Runtime
) -> None:
    run_id = make_run(RunStatus.PENDING)
    ctx = RunContext.load(runtime, run_id, step_key=3)

    handle = Recorder(ctx).start_step(Phase.IMPLEMENTATION, 2)

    run = store.get_run(run_id)
    assert (run.status, run.phase, run.iteration) == (
        RunStatus.RUNNING,
        Phase.IMPLEMENTATION,
        2,
    )
    [step] = store.list_steps(run_id)
    assert step.id == handle.step_id
    assert step.status.value == "IN_PROGRESS"
