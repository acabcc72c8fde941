"""Run control (SPEC 2): pause, resume, cancel, retry, reset.

Each call is idempotent (asking for the state a run is already in answers success) and
raises :class:`Conflict` with the current status when the transition is impossible. The
order inside each matters (ENGINE-NOTES): DBOS is told first, then agent processes are
killed, so the interrupted step ends CANCELLED rather than checkpointing a failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agentloop.core.errors import Conflict, InvalidInput
from agentloop.core.types import EventType, RunStatus
from agentloop.engine import finish as finishing
from agentloop.engine.context import RunContext
from agentloop.engine.history import RunState
from agentloop.engine.inflight import in_flight
from agentloop.engine.recorder import Recorder
from agentloop.engine.run_queue import QUEUE_NAME
from agentloop.engine.runtime import Runtime
from agentloop.engine.settings import WORKFLOW_VERSION
from agentloop.logs import get_logger

_log = logging.getLogger("agentloop.engine")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

ACTIVE = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
_OWN_ENDINGS = frozenset({RunStatus.COMPLETED, RunStatus.FAILED})
"""What only the run's own finish step records (a cancel ends it CANCELED)."""


def run_lock(run_id: str) -> threading.Lock:
    """Serialises control and review actions on one run within this daemon."""
    with _locks_guard:
        return _locks.setdefault(run_id, threading.Lock())


def _context(runtime: Runtime, run_id: str) -> RunContext:
    return RunContext.load(runtime, run_id, step_key=0)


def _refuse(run_status: RunStatus, action: str) -> Conflict:
    return Conflict(f"cannot {action} a run that is {run_status.value}", run_status.value)


def pause(runtime: Runtime, run_id: str) -> None:
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        status = ctx.run.status
        if status is RunStatus.PAUSED:
            return
        if status not in ACTIVE:
            raise _refuse(status, "pause")
        _stop_workflow(runtime, run_id)
        recorder = Recorder(ctx)
        key = f"paused:user:{_control_seq(ctx)}"
        # The interrupted step runs again on resume: a new epoch makes that a new, recorded
        # attempt instead of a replay whose events are already stored.
        ctx.state.epoch += 1
        try:
            recorder.event(
                EventType.RUN_PAUSED,
                key,
                run={"status": RunStatus.PAUSED.value, "reason": "paused", "phase": None},
                state=True,
                reason="user",
                expect=ACTIVE,  # it may have finished since it was read: 409, not a reopened run
            )
        except Conflict:
            _let_its_own_ending_close(runtime, run_id)
            raise
        runtime.store.cancel_open_steps(run_id)


def resume(runtime: Runtime, run_id: str) -> None:
    from dbos import DBOS

    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        status = ctx.run.status
        if status in ACTIVE:
            return
        if status is not RunStatus.PAUSED:
            raise _refuse(status, "resume")
        if ctx.run.reason == "usage_limit" and _workflow_status(run_id) in {"PENDING", "ENQUEUED"}:
            # The workflow is waiting out a usage limit: wake it early.
            DBOS.send(run_id, "resume", topic="resume")
            return
        needed_attention = ctx.run.reason == "needs_attention"
        if needed_attention:
            # The deciding step runs again as a new attempt, with a fresh rewrite budget.
            ctx.state.epoch += 1
            ctx.state.rewrites_used = 0
        Recorder(ctx).event(
            EventType.RUN_RESUMED,
            f"resumed:user:{_control_seq(ctx)}",
            run={"status": RunStatus.PENDING.value, "reason": None, "resume_at": None},
            state=needed_attention,
            reason="user",
        )
        in_flight.wait_ended(run_id)  # the interrupted step ends still knowing it was
        runtime.interrupts.clear(run_id)
        if needed_attention:
            await_workflow_end(run_id)  # it ends right after the step that paused it
        _continue_workflow(ctx)


def cancel(runtime: Runtime, run_id: str) -> None:
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        status = ctx.run.status
        if status is RunStatus.CANCELED:
            return
        if status.is_terminal:
            raise _refuse(status, "cancel")
        _stop_workflow(runtime, run_id)
        ctx = _context(runtime, run_id)
        try:
            ended = finishing.finish_run(ctx, RunStatus.CANCELED, "canceled", close_open_steps=True)
        except Conflict as exc:
            ended = RunStatus(exc.facts["current_status"])
        if ended is not RunStatus.CANCELED:
            _let_its_own_ending_close(runtime, run_id)
            raise _refuse(ended, "cancel")
        _start_cleanup(ctx)


def retry(runtime: Runtime, run_id: str) -> None:
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        status = ctx.run.status
        if status in ACTIVE:
            return
        if status not in {RunStatus.FAILED, RunStatus.CANCELED}:
            raise _refuse(status, "retry")
        if ctx.run.review_status == "scrapped":
            raise Conflict("cannot retry a scrapped run: its branch is gone", status.value)
        state = ctx.state
        failed_step = state.failed_step
        state.epoch += 1
        state.reset_counters()
        if ctx.run.reason == "iteration_limit":
            state.iteration_limit = ctx.run.iteration + ctx.config.iterations
        Recorder(ctx).event(
            EventType.RUN_RESUMED,
            f"retry:{state.epoch}",
            run={
                "status": RunStatus.PENDING.value,
                "reason": None,
                "finished_at": None,
                "worktree_cleanup_status": None,
            },
            state=True,
            reason="retry",
        )
        in_flight.wait_ended(run_id)  # the interrupted step ends still knowing it was
        runtime.interrupts.clear(run_id)
        _rewind(ctx, failed_step)


def reset(runtime: Runtime, run_id: str) -> None:
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        if ctx.run.status in ACTIVE or ctx.run.status is RunStatus.PAUSED:
            _stop_workflow(runtime, run_id)
            runtime.store.cancel_open_steps(run_id)
        in_flight.wait_ended(run_id)
        ctx = _context(runtime, run_id)
        _remove_old_worktree(ctx)
        fresh = RunState(epoch=ctx.state.epoch + 1)
        ctx = replace(ctx, state=fresh)
        Recorder(ctx).event(
            EventType.RUN_RESUMED,
            f"reset:{fresh.epoch}",
            run={
                "status": RunStatus.PENDING.value,
                "reason": None,
                "phase": None,
                "iteration": 0,
                "tasks_done": 0,
                "finished_at": None,
                "merge_commit": None,
                "run_branch": None,
                "worktree_path": None,
                "worktree_cleanup_status": None,
                "resume_at": None,
            },
            state=True,
            reason="reset",
        )
        in_flight.wait_ended(run_id)  # the interrupted step ends still knowing it was
        runtime.interrupts.clear(run_id)
        _rewind(ctx, 1)


def requeue_after_host_death(runtime: Runtime, run_id: str, host: str) -> None:
    """A dead host's run goes back to PENDING (its open steps closed, a new epoch so the
    interrupted step runs again as a recorded attempt) before another host takes it over:
    never shown RUNNING with nothing running."""
    with run_lock(run_id):
        ctx = RunContext.load(runtime, run_id, step_key=0)
        if ctx.run.status not in ACTIVE:
            return
        ctx.state.epoch += 1
        with ctx.store.transaction() as conn:
            ctx.store.cancel_open_steps(run_id, message=f"host {host} died", conn=conn)
            Recorder(ctx).event(
                EventType.RUN_RESUMED,
                f"failover:{ctx.state.epoch}",
                run={"status": RunStatus.PENDING.value, "phase": None},
                state=True,
                conn=conn,
                expect=ACTIVE,
                reason="host_failover",
                host=host,
            )


ACTIONS: dict[str, tuple[Callable[[Runtime, str], None], str]] = {
    "pause": (pause, "paused"),
    "resume": (resume, "resumed"),
    "cancel": (cancel, "canceled"),
    "retry": (retry, "retried"),
    "reset": (reset, "reset"),
}
"""The control calls a client may make, by name, with the word that says it is done."""


def apply(runtime: Runtime, run_id: str, action: str, **log_fields: Any) -> None:
    """Make the control call ``action`` (a key of :data:`ACTIONS`) on a run, as a client
    asks for it (HTTP, MCP): then wake the queue, since a resume, retry or reset enqueued
    the run again, and log the call as an INFO line (SPEC 17; DBOS's own cancel noise is
    filtered out) with ``log_fields``."""
    try:
        call, done = ACTIONS[action]
    except KeyError:
        raise InvalidInput(f"unknown control action {action!r}") from None
    call(runtime, run_id)
    runtime.queue.wake()
    get_logger(run_id=run_id).info(f"run {done}", action=action, **log_fields)


def _remove_old_worktree(ctx: RunContext) -> None:
    """A reset starts over on a fresh branch and worktree: the old worktree goes (what it
    held uncommitted is saved first, see finish.remove_worktree), with what a killed merge
    left; its branch stays."""
    finishing.discard_leftover_merge(ctx)
    worktree = ctx.worktree
    if worktree is not None and worktree.exists():
        finishing.remove_worktree(ctx, worktree)


# -- DBOS plumbing ---------------------------------------------------------------------------
def _stop_workflow(runtime: Runtime, run_id: str) -> None:
    """Mark the run interrupted, cancel the workflow, then wake and kill what the run is
    running (this order; see the module doc and engine/interrupts.py)."""
    from dbos import DBOS

    runtime.interrupts.mark(run_id, runtime.store.last_seq(run_id))
    try:
        DBOS.cancel_workflow(run_id)
    except Exception:
        _log.exception("run %s: cancel_workflow failed", run_id)
    runtime.interrupts.wake(run_id)
    runtime.interrupts.kill_processes(run_id)


def _workflow_status(run_id: str) -> str | None:
    from dbos import DBOS

    status = DBOS.get_workflow_status(run_id)
    return status.status if status else None


def _continue_workflow(ctx: RunContext) -> None:
    from dbos import DBOS

    state = _workflow_status(ctx.run_id)
    if state == "CANCELLED" and not workflow_outdated(ctx.run_id):
        in_flight.wait_ended(ctx.run_id)  # the paused step must end before it runs again
        DBOS.resume_workflow(ctx.run_id, queue_name=QUEUE_NAME)
    elif state in {"CANCELLED", "SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}:
        _rewind(ctx, ctx.state.failed_step)


def _rewind(ctx: RunContext, start_step: int | None) -> None:
    """Run the workflow again from ``start_step`` (the failed step), on the capped queue.

    A run's terminal status is written before its workflow's last step (the worktree
    cleanup) ends: let that finish first, so it cannot remove what the rewind restores.
    """
    from dbos import DBOS

    await_workflow_end(ctx.run_id)
    in_flight.wait_ended(ctx.run_id)  # a canceled step still winding down must not overlap
    if _workflow_status(ctx.run_id) in {"PENDING", "ENQUEUED"}:
        DBOS.cancel_workflow(ctx.run_id)
    version: dict[str, str] = {}
    if workflow_outdated(ctx.run_id):
        # Its recorded outcomes do not replay in this version's workflow: it runs again
        # from its first step, as this version's (begin and prepare are safe to run again:
        # they find the run's branch, worktree and iteration, so its work stands).
        start_step, version = 1, {"application_version": WORKFLOW_VERSION}
    DBOS.rewind_workflow(
        ctx.run_id,
        start_step=start_step or _first_unfinished_step(ctx.run_id),
        queue_name=QUEUE_NAME,
        queue_partition_key=ctx.run.workspace_root,
        **version,
    )


def workflow_outdated(run_id: str) -> bool:
    """The run's workflow was recorded under another ``WORKFLOW_VERSION``: this loopd
    neither recovers nor dequeues it, nor can it replay its steps (engine.boot)."""
    from dbos import DBOS

    status = DBOS.get_workflow_status(run_id)
    version = getattr(status, "app_version", None) if status is not None else None
    return version is not None and version != WORKFLOW_VERSION


def await_workflow_end(run_id: str, timeout_sec: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_sec
    while _workflow_status(run_id) in {"PENDING", "ENQUEUED"} and time.monotonic() < deadline:
        time.sleep(0.05)


def _first_unfinished_step(run_id: str) -> int:
    from dbos import DBOS

    steps = DBOS.list_workflow_steps(run_id, load_output=False)
    for step in steps:
        if step.get("error") is not None or step.get("completed_at_epoch_ms") is None:
            return int(step["function_id"])
    return max((int(s["function_id"]) for s in steps), default=0) + 1


def _control_seq(ctx: RunContext) -> int:
    return int(ctx.store.last_seq(ctx.run_id))


def _let_its_own_ending_close(runtime: Runtime, run_id: str) -> None:
    """A pause or cancel stopped the workflow of a run that had just ended on its own
    (COMPLETED or FAILED by its finish step): the workflow's closing steps (the worktree
    cleanup, the postmortem's start) were cancelled with it. Resume the workflow to run
    them, durably (a restart recovers it, where a cleanup thread would be lost); this
    host's interrupt mark goes first, or those steps would be taken as the stopped
    execution's. A run ended otherwise (canceled or paused by another host) is left to
    that host's call."""
    from dbos import DBOS

    if RunContext.load(runtime, run_id, step_key=0).run.status not in _OWN_ENDINGS:
        return
    in_flight.wait_ended(run_id)
    runtime.interrupts.clear(run_id)
    if _workflow_status(run_id) != "CANCELLED":
        return  # it ended before the cancel could stop it
    if workflow_outdated(run_id):  # no host may run its steps: only the cleanup here
        _start_cleanup(RunContext.load(runtime, run_id, step_key=0))
        return
    DBOS.resume_workflow(run_id, queue_name=QUEUE_NAME)


def _start_cleanup(ctx: RunContext) -> None:
    from agentloop.engine import cleanup

    cleanup.start(ctx.run_id, ctx.state.epoch)
