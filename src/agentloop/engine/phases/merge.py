"""The merge phase (SPEC 8): squash or merge the run branch into the target through a
temporary worktree, verifying the merged tree before the target moves."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from agentloop.artifacts.tee import TeeLog
from agentloop.core.errors import Conflict, GitError, MergeConflictError, MergeVerificationError
from agentloop.core.types import EventType, MergeStrategy, Phase, RunStatus, StepStatus
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.recorder import Recorder
from agentloop.engine.run_env import run_env
from agentloop.engine.verifier import run_verification
from agentloop.vcs.merge import MergeResult, VerifyOutcome, merge_run

VERIFY_MERGE_LOG = "verify-merge.log"
CONTROL_WAIT_SEC = 5.0


def merge(ctx: RunContext) -> StepOutcome:
    info = ctx.run.worktree
    target = info.merge_target_branch
    if not target or not info.run_branch:
        return StepOutcome.done()
    recorder = Recorder(ctx)
    handle = recorder.start_step(Phase.MERGE, ctx.run.iteration)
    with contextlib.ExitStack() as held:
        still_running = _StillRunning(ctx, held)
        try:
            result = merge_into(ctx, target, info.merge_strategy, before_move=still_running)
            # The target did not move (its merge was there already, or nothing to merge):
            # the merge is recorded under the same condition as one that moved it.
            still_running()
        except MergeConflictError as exc:
            recorder.finish_step(handle, StepStatus.FAILED, exit_code=1, message=str(exc))
            return StepOutcome.failed("merge_conflict")
        except MergeVerificationError:
            # Paused or canceled: killed, not failed.
            if ctx.runtime.interrupts.workflow_stopped(ctx.run_id):
                recorder.finish_step(handle, StepStatus.CANCELED, exit_code=None)
                return StepOutcome.stopped("CANCELED")
            recorder.finish_step(
                handle,
                StepStatus.FAILED,
                exit_code=1,
                message="verification failed on the merged tree",
            )
            return StepOutcome.failed("merge_verification_failed")
        except GitError as exc:
            # The run fails on it (the guard's reason); its step must not stay open.
            recorder.finish_step(handle, StepStatus.FAILED, exit_code=1, message=str(exc))
            raise
        recorder.event(
            EventType.MERGE_COMPLETED,
            "merge_completed",
            of_step=handle.step_id,
            run={"merge_commit": result.commit},
            target=target,
            strategy=info.merge_strategy.value,
            commit=result.commit,
        )
        recorder.finish_step(handle, StepStatus.SUCCEEDED, exit_code=0, message=result.commit)
    return StepOutcome.done()  # the merge commit is in the run row (and the event)


class _StillRunning:
    """Before the target moves (and before any merge is recorded): the run still runs, and
    a pause or cancel now waits until the merge is recorded (the run's control lock, kept in
    ``held`` until the step has finished). A control call holding the lock for long (a
    resume waiting for this very step to end) makes the merge give up as interrupted, the
    target unchanged. Checks once; calls after the first do nothing."""

    def __init__(self, ctx: RunContext, held: contextlib.ExitStack) -> None:
        self._ctx = ctx
        self._held = held
        self._checked = False

    def __call__(self) -> None:
        if self._checked:
            return
        from agentloop.engine.control import run_lock

        ctx = self._ctx
        lock = run_lock(ctx.run_id)
        if not lock.acquire(timeout=CONTROL_WAIT_SEC):
            raise Conflict("a control call holds the run", ctx.run.status.value)
        self._held.callback(lock.release)
        self._checked = True
        # A pause or cancel made here holds the lock while it changes the status; one made
        # on another host has changed it in the store.
        status = ctx.store.get_run(ctx.run_id).status
        if status is not RunStatus.RUNNING:
            raise Conflict("the run was stopped before its merge", status.value)


def merge_into(
    ctx: RunContext,
    target: str,
    strategy: MergeStrategy,
    *,
    before_move: Callable[[], None] | None = None,
) -> MergeResult:
    """Merge the run branch into ``target`` (verifying the merged tree when the run's config
    asks for it): the one merge of the engine's merge phase and of ``POST /runs/{id}/merge``.

    Raises what :func:`merge_run` raises (conflict, failed verification, git errors)."""
    info = ctx.run.worktree
    if not info.run_branch:
        raise GitError("the run has no branch to merge", args=["merge"])
    verify = None
    if ctx.config.verify_cmds and ctx.config.verify_merge:
        verify = _merged_tree_verifier(ctx, RunFiles(ctx))
    return merge_run(
        ctx.workspace,
        run_id=ctx.run_id,
        run_branch=info.run_branch,
        target=target,
        base=info.base_branch or "main",
        strategy=strategy,
        message=_message(ctx),
        verify=verify,
        tmp_parent=ctx.runtime.settings.merge_tmp_dir,
        before_move=before_move,
    )


def _merged_tree_verifier(ctx: RunContext, files: RunFiles):  # type: ignore[no-untyped-def]
    def verify(tree: Path) -> VerifyOutcome:
        log = TeeLog(files.run_dir, VERIFY_MERGE_LOG)
        try:
            result = run_verification(
                ctx.config.verify_cmds,
                tree,
                timeout_sec=float(ctx.config.verify_timeout_sec),
                on_line=log.write_line,
                owner=ctx.run_id,
                cancel=ctx.runtime.interrupts.cancel_event(ctx.run_id),
                env=run_env(ctx, ctx.run.iteration),
            )
        finally:
            ctx.store.index_artifacts(ctx.run_id, files.finish_logs(log, None))
        return VerifyOutcome(ok=result.ok, detail=result.failure_context())

    return verify


def _message(ctx: RunContext) -> str:
    run = ctx.run
    return (
        f"agentloop: {run.name}\n\n"
        f"Spec: {Path(run.spec_path).name}\n"
        f"Tasks: {run.tasks_done}/{run.tasks_total}\n"
    )
