"""A verification that ends while a pause or cancel is under way (SPEC 2.4c, ENGINE-NOTES):
stopped only once its workflow is CANCELLED in DBOS. Between the interrupt's mark and the
cancel, DBOS still checkpoints the step's outcome; a STOPPED outcome checkpointed there is
replayed by the resume, which then ends the workflow at once and leaves the run PENDING
with nothing running (fuzz seed 56100)."""

from __future__ import annotations

from pathlib import Path

from agentloop.core.types import Phase, StepStatus
from agentloop.engine.outcome import Kind
from agentloop.engine.phases import guarded
from agentloop.engine.phases.verify import verification
from agentloop.engine.runtime import Runtime
from agentloop.store import Store

from .conftest import FakeDbos, MakeRun


def _stopping(runtime: Runtime, store: Store, fake_dbos: FakeDbos, run_id: str) -> None:
    """A pause or cancel of the run has marked it; its workflow is not CANCELLED yet."""
    fake_dbos.statuses[run_id] = "PENDING"
    runtime.interrupts.mark(run_id, store.last_seq(run_id))


def _verification_status(store: Store, run_id: str) -> StepStatus:
    [step] = [s for s in store.list_steps(run_id) if s.phase is Phase.VERIFICATION]
    return step.status


def test_a_verification_that_ended_before_the_cancel_reached_dbos_keeps_its_result(
    make_run: MakeRun, runtime: Runtime, store: Store, workspace: Path, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(worktree=workspace, verify_cmds=("true",))
    _stopping(runtime, store, fake_dbos, run_id)

    outcome = guarded(run_id, verification, 1)

    assert outcome.kind is not Kind.STOPPED, outcome
    assert _verification_status(store, run_id) is StepStatus.SUCCEEDED


def test_a_verification_ending_once_its_workflow_is_cancelled_is_stopped(
    make_run: MakeRun, runtime: Runtime, store: Store, workspace: Path, fake_dbos: FakeDbos
) -> None:
    run_id = make_run(worktree=workspace, verify_cmds=("true",))
    _stopping(runtime, store, fake_dbos, run_id)
    runtime.interrupts.wake(run_id)  # the cancel reached DBOS: its result is thrown away

    outcome = guarded(run_id, verification, 1)

    assert outcome.kind is Kind.STOPPED, outcome
    assert _verification_status(store, run_id) is StepStatus.CANCELED


def test_a_verify_command_starting_after_the_stop_does_not_run(
    make_run: MakeRun, runtime: Runtime, store: Store, workspace: Path, fake_dbos: FakeDbos
) -> None:
    """The stop's kill found nothing to kill: the verification's next command would run to
    its end under a paused run (fuzz seed 73018: the merged tree's `sleep 1` outlived the
    pause, and with it the merge's temporary worktree)."""
    ran = workspace / "ran"
    run_id = make_run(worktree=workspace, verify_cmds=(f"touch {ran}",))
    _stopping(runtime, store, fake_dbos, run_id)
    runtime.interrupts.wake(run_id)

    outcome = guarded(run_id, verification, 1)

    assert outcome.kind is Kind.STOPPED, outcome
    assert not ran.exists()
