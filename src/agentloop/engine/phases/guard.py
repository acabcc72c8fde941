"""What every phase step shares: stop when the run was stopped, never checkpoint during a
drain, and turn any error into a run failure instead of a stuck workflow."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import structlog

from agentloop.core.errors import AgentloopError, Conflict
from agentloop.core.types import RunStatus
from agentloop.engine.context import RunContext
from agentloop.engine.history import RunState
from agentloop.engine.inflight import in_flight
from agentloop.engine.outcome import Kind, StepOutcome
from agentloop.engine.runtime import Runtime, current

_log = logging.getLogger("agentloop.engine")

ALLOWED_WHILE_PAUSED = frozenset({"resume_after_limit", "pause_for_limit"})


def guarded(run_id: str, phase: Callable[..., StepOutcome], *args: Any) -> StepOutcome:
    """Run ``phase`` for ``run_id``; every log line it writes carries the run and step."""
    with structlog.contextvars.bound_contextvars(
        run_id=run_id, phase=phase.__name__, step_id=None, iteration=None
    ):
        return _guarded(run_id, phase, *args)


def _guarded(run_id: str, phase: Callable[..., StepOutcome], *args: Any) -> StepOutcome:
    runtime = current()
    forget_stale_interrupt(runtime, run_id)
    # In flight before the run is read: see superseded().
    with in_flight.step(run_id):
        ctx = RunContext.load(runtime, run_id, fenced=True)
        status = ctx.run.status
        if (
            status.is_terminal
            or (status is RunStatus.PAUSED and phase.__name__ not in ALLOWED_WHILE_PAUSED)
            or superseded(ctx)
        ):
            return StepOutcome.stopped(status.value)
        try:
            restore_worktree(ctx)
            outcome = phase(ctx, *args)
        except Conflict as exc:
            # The run was paused, canceled or reset since this step began: stop quietly.
            outcome = StepOutcome.stopped(str(exc.facts.get("current_status")))
        except AgentloopError as exc:
            _log.warning("run %s: %s failed: %s", run_id, phase.__name__, exc)
            outcome = StepOutcome.failed(str(exc))
        except Exception as exc:
            _log.exception("run %s: %s raised", run_id, phase.__name__)
            outcome = StepOutcome.failed(f"internal_error: {type(exc).__name__}: {exc}")
        if outcome.kind is Kind.FAILED:
            _remember_failed_step(ctx)
    if runtime.shutting_down:
        _block_until_exit()
    return outcome


def ending_step(run_id: str, work: Callable[[RunContext], StepOutcome]) -> StepOutcome:
    """Run ``work`` as one of the run's closing steps (finish, after-finish) as phases run:
    in flight, its writes fenced to its attempt, stopped quietly once that was superseded."""
    runtime = current()
    forget_stale_interrupt(runtime, run_id)
    with in_flight.step(run_id):
        ctx = RunContext.load(runtime, run_id, fenced=True)
        if superseded(ctx):
            return StepOutcome.stopped(ctx.run.status.value)
        try:
            return work(ctx)
        except Conflict as exc:
            return StepOutcome.stopped(str(exc.facts.get("current_status")))


def forget_stale_interrupt(runtime: Runtime, run_id: str) -> None:
    """Clear this host's mark of a pause or cancel once the run was resumed since, on any
    host: a step of the resumed workflow starts here uninterrupted. A mark stays while the
    workflow is CANCELLED, since the step then belongs to the execution it stopped."""
    fence = runtime.interrupts.fence(run_id)
    if fence is None:
        return
    from dbos import DBOS

    status = DBOS.get_workflow_status(run_id)
    if status is None or status.status == "CANCELLED":
        return
    if not runtime.store.resumed_after(run_id, fence):
        return  # a pause or cancel is landing: the workflow is not CANCELLED yet
    in_flight.wait_ended(run_id)  # the interrupted step ends still knowing it was
    runtime.interrupts.clear(run_id, fence=fence)


def superseded(ctx: RunContext) -> bool:
    """Whether this step belongs to a workflow execution that a control call of this daemon
    has stopped (pause, cancel, reset). DBOS had started the step before the call cancelled
    the workflow, but the step was not yet in flight, so the call did not wait for it and
    may already have moved the run on: read after a reset, the run looks like a fresh
    attempt, with a new epoch that no fence would refuse."""
    if not ctx.runtime.interrupts.was_interrupted(ctx.run_id):
        return False
    from dbos import DBOS

    status = DBOS.get_workflow_status(ctx.run_id)
    return status is not None and status.status == "CANCELLED"


def restore_worktree(ctx: RunContext) -> None:
    """Re-create a run's worktree from its branch when it is gone (cleaned up after a
    failure that is now retried, or deleted by hand); the branch holds all the work."""
    info = ctx.run.worktree
    path = ctx.worktree
    if path is None or path.exists() or not info.run_branch:
        return
    from agentloop.vcs.provider import select_provider

    config = ctx.config
    provider = select_provider(
        info.provider or config.worktree_provider.value,
        config.worktrunk_bin,
        config.worktrunk_config_path,
        config.worktrunk_copy_ignored,
    )
    provider.create(ctx.workspace, path, info.run_branch, info.base_branch or "main")
    _log.info("run %s: restored worktree %s", ctx.run_id, path)


def _remember_failed_step(ctx: RunContext) -> None:
    """A retry rewinds the workflow to the step that failed."""
    try:
        state = RunState.from_json(ctx.store.get_run_state(ctx.run_id))
        state.failed_step = ctx.step_key
        ctx.store.update_run(ctx.run_id, state=state.to_json(), expect_epoch=ctx.attempt)
    except Conflict:
        pass  # a retry or reset started another attempt: this one's failure is moot
    except AgentloopError:
        _log.exception("run %s: could not record the failed step", ctx.run_id)


def _block_until_exit() -> None:
    """The daemon is draining: the agent was stopped on purpose, not by failure. Returning
    would checkpoint this step as done; blocking lets the process exit with the step still
    pending, so it runs again on the next start."""
    threading.Event().wait()
