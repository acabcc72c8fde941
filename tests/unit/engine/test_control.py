"""Run control (SPEC 2, engine.control): pause, resume, cancel, retry, reset. Each is
idempotent, refuses an impossible transition with Conflict (HTTP 409) carrying the current
status, and tells DBOS before it kills the run's processes (ENGINE-NOTES)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentloop.core.errors import Conflict, InvalidInput
from agentloop.core.models import Run
from agentloop.core.types import CleanupStatus, EventType, Phase, RunStatus, StepStatus
from agentloop.engine import cleanup, control
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.history import RunState
from agentloop.engine.recorder import Recorder
from agentloop.engine.run_queue import QUEUE_NAME
from agentloop.engine.runtime import Runtime, current
from agentloop.store import Store

from .conftest import FakeDbos, MakeRun, ends_as_it_is_cancelled, event_types, events_of, git


def state_of(store: Store, run_id: str) -> RunState:
    return RunState.from_json(store.get_run_state(run_id))


def open_step(run_id: str) -> str:
    """An implementation step in progress, as the agent step leaves it while it runs."""
    ctx = RunContext.load(current(), run_id, step_key=5)
    return Recorder(ctx).start_step(Phase.IMPLEMENTATION, 1).step_id


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a background effect (the cleanup thread a cancel starts) to be stored."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


# -- legality (reset is legal from every status: it starts over) ----------------------------
LEGAL = {
    "pause": {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.PAUSED},
    "resume": {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.PAUSED},
    "cancel": {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.CANCELED},
    "retry": {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELED},
}


ILLEGAL = [(a, s) for a in sorted(LEGAL) for s in RunStatus if s not in LEGAL[a]]


@pytest.mark.parametrize(("action", "status"), ILLEGAL)
def test_an_impossible_transition_is_a_conflict_that_changes_nothing(
    action: str,
    status: RunStatus,
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
) -> None:
    run_id = make_run(status)
    before = store.get_run(run_id)
    seq = store.last_seq(run_id)

    with pytest.raises(Conflict) as raised:
        getattr(control, action)(runtime, run_id)

    assert raised.value.facts["current_status"] == status.value
    assert status.value in str(raised.value)
    assert store.get_run(run_id).status is before.status
    assert store.last_seq(run_id) == seq  # no event
    assert fake_dbos.calls == []  # DBOS untouched, nothing killed


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("pause", RunStatus.PAUSED),
        ("resume", RunStatus.RUNNING),
        ("resume", RunStatus.PENDING),
        ("cancel", RunStatus.CANCELED),
        ("retry", RunStatus.RUNNING),
        ("retry", RunStatus.PENDING),
    ],
)
def test_asking_for_the_state_a_run_is_in_changes_nothing(
    action: str,
    status: RunStatus,
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
) -> None:
    run_id = make_run(status)
    seq = store.last_seq(run_id)

    getattr(control, action)(runtime, run_id)

    assert store.get_run(run_id).status is status
    assert store.last_seq(run_id) == seq
    assert fake_dbos.calls == []


def test_retry_refuses_a_scrapped_run(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(RunStatus.FAILED, reason="iteration_limit")
    store.update_run(run_id, review_status="scrapped")

    with pytest.raises(Conflict, match="scrapped"):
        control.retry(runtime, run_id)
    assert store.get_run(run_id).status is RunStatus.FAILED
    assert fake_dbos.calls == []


@pytest.mark.parametrize("action", ["pause", "cancel", "reset"])
def test_the_agent_is_woken_only_once_the_workflow_is_cancelled(
    make_run: MakeRun,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    """Stopped earlier, the agent's step would end while it still owned the workflow and
    DBOS would checkpoint it as stopped: the resume replays that as the run's end (fuzz
    seed 4253: a resumed run stayed PENDING for good)."""
    run_id = make_run(state=RunState(epoch=1))
    fake_dbos.statuses[run_id] = "PENDING"
    agent_stop = runtime.interrupts.cancel_event(run_id)
    seen: list[tuple[bool, bool]] = []
    cancel_workflow = fake_dbos.cancel_workflow

    def cancel_seeing(workflow_id: str) -> None:
        seen.append((runtime.interrupts.was_interrupted(run_id), agent_stop.is_set()))
        cancel_workflow(workflow_id)

    monkeypatch.setattr("dbos.DBOS.cancel_workflow", staticmethod(cancel_seeing))

    getattr(control, action)(runtime, run_id)

    assert seen == [(True, False)]  # marked (superseding late steps), the agent not stopped
    if action != "reset":
        assert agent_stop.is_set()


@pytest.mark.parametrize("action", ["pause", "cancel"])
@pytest.mark.parametrize("ending", [RunStatus.COMPLETED, RunStatus.FAILED])
def test_a_run_that_ends_on_its_own_as_it_is_stopped_still_runs_its_closing_steps(
    make_run: MakeRun,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    action: str,
    ending: RunStatus,
) -> None:
    """The run's finish step records its ending just before the call cancels the workflow:
    the call is refused, and the workflow goes on (on the capped queue, so a restart
    recovers it) to its worktree cleanup and postmortem. Fuzz seed 7089: after a pause
    that lost this race the worktree of the COMPLETED run stayed for good."""
    run_id = make_run(state=RunState(epoch=1))
    fake_dbos.statuses[run_id] = "PENDING"
    ends_as_it_is_cancelled(fake_dbos, runtime, run_id, ending)

    with pytest.raises(Conflict) as refused:
        getattr(control, action)(runtime, run_id)

    assert refused.value.facts["current_status"] == ending.value
    assert fake_dbos.calls[-1] == ("resume_workflow", run_id, {"queue_name": QUEUE_NAME})
    assert not runtime.interrupts.was_interrupted(run_id)  # its closing steps are not stopped


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_a_run_whose_workflow_ended_before_the_stop_is_left_as_it_ended(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    action: str,
) -> None:
    run_id = make_run(state=RunState(epoch=1))
    fake_dbos.statuses[run_id] = "SUCCESS"  # DBOS does not cancel an ended workflow
    ends_as_it_is_cancelled(fake_dbos, runtime, run_id)

    with pytest.raises(Conflict):
        getattr(control, action)(runtime, run_id)

    assert "resume_workflow" not in fake_dbos.names()
    assert store.get_run(run_id).status is RunStatus.COMPLETED
    assert not runtime.interrupts.was_interrupted(run_id)


# -- pause ----------------------------------------------------------------------------------
def test_pause_cancels_the_workflow_then_kills_and_closes_the_open_step(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(state=RunState(epoch=1))
    step_id = open_step(run_id)
    fake_dbos.statuses[run_id] = "PENDING"

    control.pause(runtime, run_id)

    assert fake_dbos.names() == ["cancel_workflow", "kill"]  # this order (ENGINE-NOTES)
    run = store.get_run(run_id)
    assert (run.status, run.reason, run.phase) == (RunStatus.PAUSED, "paused", None)
    assert store.get_step(step_id).status is StepStatus.CANCELED
    assert events_of(store, run_id, EventType.RUN_PAUSED) == [{"reason": "user"}]
    assert state_of(store, run_id).epoch == 2  # the interrupted step runs again as new
    assert runtime.interrupts.was_interrupted(run_id)


def test_pause_twice_records_one_pause(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()
    control.pause(runtime, run_id)
    control.pause(runtime, run_id)

    assert event_types(store, run_id).count(EventType.RUN_PAUSED) == 1
    assert fake_dbos.names() == ["cancel_workflow", "kill"]


# -- resume ---------------------------------------------------------------------------------
def test_resume_after_a_user_pause_resumes_the_workflow_on_the_capped_queue(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()
    control.pause(runtime, run_id)
    fake_dbos.calls.clear()

    control.resume(runtime, run_id)

    assert fake_dbos.calls == [("resume_workflow", run_id, {"queue_name": QUEUE_NAME})]
    run = store.get_run(run_id)
    assert (run.status, run.reason) == (RunStatus.PENDING, None)
    assert events_of(store, run_id, EventType.RUN_RESUMED)[-1] == {"reason": "user"}
    assert not runtime.interrupts.was_interrupted(run_id)


def test_resume_during_a_usage_limit_wait_wakes_the_waiting_workflow(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(RunStatus.PAUSED, reason="usage_limit")
    fake_dbos.statuses[run_id] = "PENDING"  # sleeping in DBOS.recv until the reset time

    control.resume(runtime, run_id)

    assert fake_dbos.calls == [("send", run_id, "resume", "resume")]
    # the workflow's own resume_after_limit step records the resume
    assert store.get_run(run_id).status is RunStatus.PAUSED
    assert EventType.RUN_RESUMED not in event_types(store, run_id)


def test_resume_from_needs_attention_renews_the_budget_and_rewinds_to_the_deciding_step(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    state = RunState(epoch=3, rewrites_used=2, failed_step=42, attention_iteration=7)
    run_id = make_run(RunStatus.PAUSED, reason="needs_attention", state=state)
    fake_dbos.statuses[run_id] = "SUCCESS"  # it ended right after the pausing step

    control.resume(runtime, run_id)

    assert fake_dbos.calls == [
        (
            "rewind_workflow",
            run_id,
            {
                "start_step": 42,
                "queue_name": QUEUE_NAME,
                "queue_partition_key": store.get_run(run_id).workspace_root,
            },
        )
    ]
    after = state_of(store, run_id)
    assert (after.epoch, after.rewrites_used) == (4, 0)
    assert after.attention_iteration == 7  # the step goes on instead of pausing again
    assert store.get_run(run_id).status is RunStatus.PENDING


# -- cancel ---------------------------------------------------------------------------------
def test_cancel_ends_the_run_with_its_files_and_closes_the_open_step(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()
    step_id = open_step(run_id)
    fake_dbos.statuses[run_id] = "PENDING"

    control.cancel(runtime, run_id)

    # the worktree cleanup, as a workflow of its own: a restart recovers it
    assert fake_dbos.names() == ["cancel_workflow", "kill", "start_workflow"]
    assert fake_dbos.calls[-1] == ("start_workflow", "cleanup_workflow", run_id, 0)
    run = store.get_run(run_id)
    assert (run.status, run.reason) == (RunStatus.CANCELED, "canceled")
    assert run.finished_at is not None
    assert store.get_step(step_id).status is StepStatus.CANCELED
    assert event_types(store, run_id)[-1] is EventType.RUN_CANCELED
    files = RunFiles(RunContext.load(runtime, run_id, step_key=0))
    summary = json.loads(files.path("summary.json").read_text())
    assert (summary["run_id"], summary["reason"]) == (run_id, "canceled")
    assert files.exists("report.tsv") and files.exists("run.log")
    wait_for(lambda: store.get_run(run_id).worktree_cleanup_status is not None)


def test_cancel_of_a_paused_run_is_final(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(RunStatus.PAUSED, reason="paused")

    control.cancel(runtime, run_id)
    wait_for(lambda: store.get_run(run_id).worktree_cleanup_status is not None)

    assert store.get_run(run_id).status is RunStatus.CANCELED
    with pytest.raises(Conflict):
        control.resume(runtime, run_id)


def test_cancel_removes_the_worktree_and_keeps_its_uncommitted_work(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    workspace: Path,
    tmp_path: Path,
) -> None:
    worktree = tmp_path / "wt" / "demo"
    git(workspace, "worktree", "add", "-q", "-b", "run/demo", str(worktree), "main")
    (worktree / "half-done.txt").write_text("not committed yet\n")
    run_id = make_run(worktree=worktree, run_branch="run/demo")

    control.cancel(runtime, run_id)
    wait_for(lambda: store.get_run(run_id).worktree_cleanup_status is not None)

    assert store.get_run(run_id).worktree_cleanup_status is CleanupStatus.CLEANED
    assert not worktree.exists()
    [removed] = events_of(store, run_id, EventType.WORKTREE_REMOVED)
    assert git(workspace, "show", f"{removed['wip_commit']}:half-done.txt") == "not committed yet"


@pytest.mark.parametrize(
    ("status", "epoch"),
    [(RunStatus.CANCELED, 2), (RunStatus.PENDING, 1), (RunStatus.RUNNING, 1)],
    ids=["retried-then-canceled-again", "retried", "running-again"],
)
def test_the_cleanup_after_a_cancel_leaves_a_run_that_went_on_its_worktree(
    make_run: MakeRun, store: Store, workspace: Path, tmp_path: Path, status: RunStatus, epoch: int
) -> None:
    """Retried (or reset) before the cleanup ran, e.g. a restart later: the worktree is the
    new attempt's."""
    worktree = tmp_path / "wt" / "demo"
    git(workspace, "worktree", "add", "-q", "-b", "run/demo", str(worktree), "main")
    run_id = make_run(status, state=RunState(epoch=epoch), worktree=worktree, run_branch="run/demo")

    assert cleanup.cleanup_step(run_id, 1) == cleanup.SUPERSEDED  # canceled in epoch 1

    assert worktree.exists()
    assert store.get_run(run_id).worktree_cleanup_status is None


@pytest.mark.parametrize("action", ["cancel", "reset"])
def test_a_merge_worktree_a_killed_loopd_left_goes_with_a_cancel_or_reset(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    workspace: Path,
    action: str,
) -> None:
    """Fuzz seed 13271: loopd killed in a merge, the run reset and canceled before it
    merged again; only the run's next merge removed the merge's temporary worktree."""
    run_id = make_run(state=RunState(epoch=1))
    leftover = runtime.settings.merge_tmp_dir / f"agentloop-merge-{run_id}"
    git(workspace, "worktree", "add", "-q", "--detach", str(leftover), "main")

    getattr(control, action)(runtime, run_id)
    if action == "cancel":
        wait_for(lambda: store.get_run(run_id).worktree_cleanup_status is not None)

    assert not leftover.exists()
    assert str(leftover) not in git(workspace, "worktree", "list")


# -- retry ----------------------------------------------------------------------------------
def test_retry_after_the_iteration_limit_extends_it_and_rewinds_to_the_failed_step(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    state = RunState(epoch=1, rewrites_used=2, consecutive_verification_failures=2, failed_step=9)
    state.record(5)
    run_id = make_run(RunStatus.FAILED, reason="iteration_limit", state=state, iterations=5)
    store.update_run(run_id, iteration=5, finished_at=store.now_ms())
    fake_dbos.statuses[run_id] = "SUCCESS"

    control.retry(runtime, run_id)

    after = state_of(store, run_id)
    assert after.epoch == 2
    assert after.iteration_limit == 10  # five more iterations
    assert (after.rewrites_used, after.consecutive_verification_failures) == (0, 0)
    assert after.history == []
    run = store.get_run(run_id)
    assert (run.status, run.reason, run.finished_at) == (RunStatus.PENDING, None, None)
    assert events_of(store, run_id, EventType.RUN_RESUMED) == [{"reason": "retry"}]
    [(name, workflow_id, options)] = fake_dbos.calls
    assert (name, workflow_id) == ("rewind_workflow", run_id)
    assert options == {
        "start_step": 9,
        "queue_name": QUEUE_NAME,
        "queue_partition_key": run.workspace_root,
    }


def test_retry_of_a_canceled_run_keeps_its_iteration_limit(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(RunStatus.CANCELED, reason="canceled")
    fake_dbos.statuses[run_id] = "CANCELLED"

    control.retry(runtime, run_id)

    assert state_of(store, run_id).iteration_limit is None
    assert store.get_run(run_id).status is RunStatus.PENDING
    assert fake_dbos.names() == ["rewind_workflow"]


# -- reset ----------------------------------------------------------------------------------
def test_reset_starts_over_with_a_fresh_state_from_the_first_step(
    make_run: MakeRun,
    store: Store,
    runtime: Runtime,
    fake_dbos: FakeDbos,
    workspace: Path,
    tmp_path: Path,
) -> None:
    worktree = tmp_path / "wt" / "demo"
    git(workspace, "worktree", "add", "-q", "-b", "run/demo", str(worktree), "main")
    state = RunState(epoch=4, rewrites_used=1, agent_index=1, start_head="abc")
    run_id = make_run(RunStatus.FAILED, reason="no_progress", state=state, worktree=worktree)
    store.update_run(run_id, run_branch="run/demo", iteration=6, tasks_done=1)
    fake_dbos.statuses[run_id] = "SUCCESS"

    control.reset(runtime, run_id)

    assert state_of(store, run_id) == RunState(epoch=5)
    run: Run = store.get_run(run_id)
    assert (run.status, run.reason, run.iteration, run.tasks_done) == (
        RunStatus.PENDING,
        None,
        0,
        0,
    )
    assert run.worktree.run_branch is None and run.worktree.worktree_path is None
    assert not worktree.exists()
    assert git(workspace, "branch", "--list", "run/demo")  # the old branch stays
    assert fake_dbos.calls[-1][2]["start_step"] == 1


def test_reset_of_a_running_run_stops_it_first(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()
    step_id = open_step(run_id)
    fake_dbos.statuses[run_id] = "PENDING"

    control.reset(runtime, run_id)

    assert fake_dbos.names() == ["cancel_workflow", "kill", "rewind_workflow"]
    assert store.get_step(step_id).status is StepStatus.CANCELED
    assert store.get_run(run_id).status is RunStatus.PENDING
    assert events_of(store, run_id, EventType.RUN_RESUMED) == [{"reason": "reset"}]


# -- by name (HTTP, MCP) ----------------------------------------------------------------------
def test_a_control_call_by_name_makes_that_call(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()

    control.apply(runtime, run_id, "pause")

    assert store.get_run(run_id).status is RunStatus.PAUSED
    with pytest.raises(Conflict):
        control.apply(runtime, run_id, "retry")


def test_an_unknown_control_call_is_refused_before_anything_happens(
    make_run: MakeRun, store: Store, runtime: Runtime, fake_dbos: FakeDbos
) -> None:
    run_id = make_run()

    with pytest.raises(InvalidInput, match="unknown control action 'stop'"):
        control.apply(runtime, run_id, "stop")
    assert store.get_run(run_id).status is RunStatus.RUNNING
    assert fake_dbos.calls == []
