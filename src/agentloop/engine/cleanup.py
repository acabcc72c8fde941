"""The worktree cleanup (SPEC 2.6) of a run that ended outside its workflow's own cleanup
step, as a DBOS workflow of its own.

A cancel ends the run from the control call, after cancelling the run's workflow, so the
workflow's cleanup step never runs (nor does it for a workflow of an outdated version,
which no host may replay). Done in a thread, the cleanup died with a killed daemon and the
worktree stayed for good; a workflow is recovered on the next start, or by the host that
takes over a dead one's workflows.

It first waits for this host's step of the run that was interrupted (its agent may still
be writing in the worktree, or a prepare still creating it), then removes the worktree,
unless the run was retried or reset meanwhile (a new epoch): the worktree is the new
attempt's then. Its id, ``<run id>-cleanup-e<epoch>``, makes it one per ended attempt.
"""

from __future__ import annotations

import logging

from dbos import DBOS, SetWorkflowID

from agentloop.engine import finish as finishing
from agentloop.engine.context import RunContext
from agentloop.engine.inflight import in_flight
from agentloop.engine.runtime import current

__all__ = ["WORKFLOW_NAME", "start"]

_log = logging.getLogger("agentloop.engine")

WORKFLOW_NAME = "agentloop.cleanup"
SUPERSEDED = "superseded"


def start(run_id: str, epoch: int) -> None:
    """Start the cleanup of the run that ended in ``epoch`` (recorded before this returns)."""
    with SetWorkflowID(f"{run_id}-cleanup-e{epoch}"):
        DBOS.start_workflow(cleanup_workflow, run_id, epoch)


@DBOS.workflow(name=WORKFLOW_NAME)
def cleanup_workflow(run_id: str, epoch: int) -> str:
    return cleanup_step(run_id, epoch)


@DBOS.step(name="agentloop.cleanup")
def cleanup_step(run_id: str, epoch: int) -> str:
    """The cleanup's status (a CleanupStatus value), or SUPERSEDED when the run went on."""
    from agentloop.engine.control import run_lock

    runtime = current()
    if not in_flight.wait_ended(run_id):
        _log.warning("run %s: a step still runs 30 s after it ended; cleaning up", run_id)
    with run_lock(run_id):  # a retry or reset on this host waits, or is seen
        ctx = RunContext.load(runtime, run_id, step_key=0)
        if not ctx.run.status.is_terminal or ctx.state.epoch != epoch:
            return SUPERSEDED
        return finishing.clean_up(ctx).value
