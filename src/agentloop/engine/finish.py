"""The one way a run ends (SPEC 2.6): report.tsv, summary.json and run.log, then the
terminal status and its event in one transaction (run.log is written again through that
event); afterwards the worktree cleanup.

Called by the workflow's finish step and by a cancel, so every exit writes the same files
and events. Safe to call twice: a run that is already terminal keeps its first ending.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from agentloop.artifacts.layout import REPORT, RUN_LOG, SUMMARY
from agentloop.artifacts.report import report_rows, step_task_counts, write_report
from agentloop.artifacts.run_log import run_log_text, write_run_log
from agentloop.artifacts.summary import build_summary, write_summary
from agentloop.core.clock import now_ms
from agentloop.core.errors import AgentloopError
from agentloop.core.experiment import COMPLETED_REASONS
from agentloop.core.types import CleanupStatus, EventType, RunStatus, WorktreeProviderName
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.notify import notify
from agentloop.engine.recorder import Recorder

_log = logging.getLogger("agentloop.engine")

_NOT_ENDED = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.PAUSED})
_TERMINAL_EVENT = {
    RunStatus.COMPLETED: EventType.RUN_COMPLETED,
    RunStatus.FAILED: EventType.RUN_FAILED,
    RunStatus.CANCELED: EventType.RUN_CANCELED,
}


def finish_run(
    ctx: RunContext, status: RunStatus, reason: str | None, *, close_open_steps: bool = False
) -> RunStatus:
    """End the run; ``close_open_steps`` (a cancel) marks its unfinished steps CANCELED in
    the transaction that writes the terminal status, so no step starts unseen in between.
    Returns the status the run ended with: a run that has ended already keeps its first
    ending (Conflict when it ended while this call wrote its files)."""
    ctx.runtime.release_run(ctx.run_id)
    if ctx.run.status.is_terminal:
        return ctx.run.status
    if status is RunStatus.COMPLETED and reason not in COMPLETED_REASONS:
        reason = None  # a completed plan needs no reason; an experiment says why it ended
    event_type = _TERMINAL_EVENT[status]
    payload: dict[str, Any] = {}
    if status is RunStatus.COMPLETED:
        payload["mode"] = ctx.config.completion_mode.value
    elif status is RunStatus.FAILED:
        payload["reason"] = reason or "failed"
    elif reason:
        payload["reason"] = reason
    indexed = write_run_files(ctx, status, reason, ending=(event_type, payload))
    with ctx.store.transaction() as conn:
        if close_open_steps:
            ctx.store.cancel_open_steps(ctx.run_id, conn=conn)
        if indexed:
            ctx.store.index_artifacts(ctx.run_id, indexed, conn=conn)
        terminal = Recorder(ctx).event(
            event_type,
            f"finish:{status.value}",
            run={
                "status": status.value,
                "reason": reason,
                "finished_at": now_ms(),
                "phase": None,
                "resume_at": None,
            },
            conn=conn,
            # ended meanwhile (its own finish racing a cancel): the first ending stands
            expect=_NOT_ENDED,
            **payload,
        )
    if terminal is not None:
        _write_run_log(ctx, through_seq=terminal.seq)
    if status is not RunStatus.CANCELED:  # the user canceled it: nobody to tell
        notify(ctx, event_type.value, reason=reason)
    return status


def write_run_files(
    ctx: RunContext,
    status: RunStatus,
    reason: str | None,
    *,
    ending: tuple[EventType, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """report.tsv, summary.json and run.log from the stored steps and events, ``ending``
    (the terminal event about to be recorded) as run.log's last line; their index rows are
    returned for the terminal event's transaction. A write failure is logged, never allowed
    to keep the run from reaching its terminal status."""
    try:
        files = RunFiles(ctx)
        files.writer.ensure_dirs()
        run = ctx.store.get_run(ctx.run_id)
        steps = ctx.store.list_steps(ctx.run_id)
        events = ctx.store.events_after(ctx.run_id)
        end_ms = now_ms()
        rows = report_rows(
            steps,
            tasks_done=run.tasks_done,
            tasks_total=run.tasks_total,
            counts=step_task_counts(events),
        )
        write_report(files.writer, rows, index=False)
        if ctx.config.summary_json:
            ended = run.model_copy(update={"status": status, "reason": reason})
            summary = build_summary(
                ended,
                steps,
                files.run_dir,
                end_ms=end_ms,
                completion_mode=ctx.config.completion_mode.value,
            )
            write_summary(files.writer, summary, index=False)
        last = None if ending is None else (end_ms, ending[0].value, ending[1])
        # Not fsynced: rewritten atomically once the terminal event is in (_write_run_log);
        # this copy stands only if the daemon dies in between, and a kill keeps the page
        # cache. Killed halfway through, the run is not terminal: this runs again.
        text = run_log_text(events, ending=last)
        write_run_log(files.writer, text, atomic=False, index=False)
        return files.writer.index_rows([REPORT, SUMMARY, RUN_LOG])
    except (AgentloopError, OSError) as exc:
        _log.error("run %s: could not write report/summary/run.log: %s", ctx.run_id, exc)
        return []


def _write_run_log(ctx: RunContext, *, through_seq: int) -> None:
    """run.log again, from the store through the recorded terminal event: an event written
    while the run was ending (the STEP_FINISHED of a step a cancel interrupted) is in it.
    The first write, before the terminal event, stands if the daemon dies in between."""
    try:
        lived = ctx.store.events_after(ctx.run_id, 0, through_seq)  # seqs are gap-free
        write_run_log(RunFiles(ctx).writer, run_log_text(lived))
    except (AgentloopError, OSError) as exc:
        _log.error("run %s: could not write run.log: %s", ctx.run_id, exc)


def awaits_review(ctx: RunContext) -> bool:
    """A completed run with nothing merged waits for a person to merge or scrap it."""
    return ctx.run.status is RunStatus.COMPLETED and not ctx.run.merge_commit


def clean_up(ctx: RunContext) -> CleanupStatus:
    discard_leftover_merge(ctx)
    worktree = ctx.worktree
    if not ctx.config.worktree_cleanup or worktree is None:
        status = CleanupStatus.SKIPPED
    elif awaits_review(ctx):
        status = CleanupStatus.DEFERRED
    else:
        status = remove_worktree(ctx, worktree)
    ctx.store.update_run(ctx.run_id, worktree_cleanup_status=status.value, expect_epoch=ctx.attempt)
    return status


def discard_leftover_merge(ctx: RunContext) -> None:
    """The temporary worktree of the run's merge that a killed loopd left (fuzz seed 13271:
    killed mid-merge, the run was reset and canceled without merging again)."""
    from agentloop.vcs.merge import discard_leftover

    discard_leftover(ctx.workspace, ctx.runtime.settings.merge_tmp_dir, ctx.run_id)


def remove_worktree(ctx: RunContext, worktree: Path) -> CleanupStatus:
    from agentloop.vcs.provider import select_provider
    from agentloop.vcs.wip import WIP_REF_PREFIX, save_uncommitted
    from agentloop.vcs.worktree import Worktree

    info = ctx.run.worktree
    wip: str | None = None
    try:
        if worktree.is_dir():
            wip = save_uncommitted(worktree, ctx.run_id)  # removing it must lose nothing
        provider = select_provider(info.provider or "git", ctx.config.worktrunk_bin)
        provider.remove(
            ctx.workspace,
            Worktree(
                path=worktree,
                branch=info.run_branch or "",
                base_branch=info.base_branch or "",
                provider=WorktreeProviderName(info.provider or "git"),
            ),
        )
    except (AgentloopError, OSError) as exc:
        _log.warning("run %s: worktree cleanup failed: %s", ctx.run_id, exc)
        return CleanupStatus.FAILED
    Recorder(ctx).event(
        EventType.WORKTREE_REMOVED,
        "worktree_removed",
        worktree_path=str(worktree),
        wip_ref=f"{WIP_REF_PREFIX}{ctx.run_id}" if wip else None,
        wip_commit=wip,
    )
    return CleanupStatus.CLEANED
