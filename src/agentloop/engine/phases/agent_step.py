"""The agent phases: implementation and review (SPEC 2.4a-b, 4).

One step runs the agent once (with the retry policy), streams its output, and records what
the iteration produced: the new HEAD, the plan's state, the task named, the completion token.
After a crash or a pause the step runs again: any agent left over from the previous daemon
is killed first, then the agent resumes its own session where it was interrupted, or starts
over on a clean worktree (``phases.resume``).
"""

from __future__ import annotations

import hashlib
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentloop.agents import AgentRequest, AgentResult, RetryPolicy, run_with_retries
from agentloop.core.agent_model import agent_model
from agentloop.core.completion import completion_status
from agentloop.core.plan import Plan, read_plan
from agentloop.core.prompts import user_notes_block, with_user_notes
from agentloop.core.types import AgentName, EventType, Phase, StepStatus
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.history import IterationRecord
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.phases.lifecycle import check_hold, current_agent
from agentloop.engine.phases.resume import Attempt, begin_attempt, resuming, run_resuming
from agentloop.engine.phases.step_end import end_step, replay_finished
from agentloop.engine.prompting import implementation_prompt, review_prompt, worktree_plan_path
from agentloop.engine.recorder import Recorder, StepHandle
from agentloop.engine.run_env import run_env
from agentloop.engine.sink import EngineSink, log_names
from agentloop.store.notes import Notes
from agentloop.store.sessions import Sessions
from agentloop.vcs.escape import changed_since, snapshot_primary
from agentloop.vcs.head import head_sha
from agentloop.vcs.hunks import HunkDigests, hunk_digests

RUNNER_NOTES = "runner-notes.txt"
_TASK_NAMED = re.compile(
    r"^\s*(?:Completed|Reviewed)\s+(.+?)\.\s+\d+\s+(?:tasks?\s+remain|awaiting)",
    re.IGNORECASE | re.MULTILINE,
)
# Claude Code refuses --dangerously-skip-permissions for root unless IS_SANDBOX=1 (SPEC 4).
_ROOT_REFUSAL = "cannot be used with root/sudo privileges"
_ROOT_HINT = (
    "loopd runs as root: set IS_SANDBOX=1 in loopd's environment, or run loopd as a normal user"
)
# Shared by every run: starting a thread per step cost more than the git call it ran.
_GIT_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="step-git-read")


@dataclass
class AgentRun:
    handle: StepHandle
    result: AgentResult
    plan: Plan | None
    escaped: list[str]
    agent_ms: float
    artifacts: list[dict[str, Any]]
    note_ids: tuple[str, ...] = ()  # the user's notes this step's prompt carried
    head: str | None = None  # the worktree's HEAD once the agent ended
    hunks: Future[HunkDigests] | None = None  # what an implementation step's commits changed


def implementation(ctx: RunContext, iteration: int) -> StepOutcome:
    replayed = replay_finished(ctx, iteration)
    if replayed is not None:
        return replayed
    ran = _run_agent(ctx, Phase.IMPLEMENTATION, iteration, implementation_prompt(ctx))
    if isinstance(ran, StepOutcome):
        return ran
    record = ctx.state.record(iteration)
    record.completion = completion_status(ran.result.final_text, ctx.config.completion_mode).value
    record.task = _task_named(ran.result.final_text)
    ctx.state.pending_notes = []
    return _finish_agent_step(
        ctx,
        ran,
        iteration,
        StepOutcome.done(
            needs_review=_needs_review(ctx, ran.plan), verify=bool(ctx.config.verify_cmds)
        ),
    )


def review(ctx: RunContext, iteration: int) -> StepOutcome:
    replayed = replay_finished(ctx, iteration)
    if replayed is not None:
        return replayed
    before = read_plan(worktree_plan_path(ctx))
    ran = _run_agent(ctx, Phase.REVIEW, iteration, review_prompt(ctx))
    if isinstance(ran, StepOutcome):
        return ran
    record = ctx.state.record(iteration)
    record.review_completion = completion_status(
        ran.result.final_text, ctx.config.completion_mode
    ).value
    sent_back = ran.plan is not None and len(ran.plan.open_tasks) > len(before.open_tasks)
    record.review_sent_back = sent_back
    failed_review = ran.result.failure is not None or sent_back
    if failed_review:
        ctx.state.consecutive_review_failures += 1
    else:
        ctx.state.consecutive_review_failures = 0
    limit = ctx.config.max_consecutive_review_failures
    success = StepOutcome.done(verify=bool(ctx.config.verify_cmds))
    if limit and ctx.state.consecutive_review_failures >= limit:
        # Only a review whose agent succeeded gets here: a failed agent is its own reason.
        success = StepOutcome.failed("consecutive_review_failures")
    return _finish_agent_step(ctx, ran, iteration, success)


def _run_agent(
    ctx: RunContext, phase: Phase, iteration: int, prompt: str
) -> AgentRun | StepOutcome:
    """The agent's run, or the outcome that ends the step before the agent starts."""
    worktree = ctx.worktree
    if worktree is None:
        return StepOutcome.failed("internal_error: run has no worktree")
    held = check_hold(ctx)
    if held is not None:
        return held
    recorder = Recorder(ctx)
    agent_name = current_agent(ctx)
    start = begin_attempt(ctx, phase, iteration, worktree, agent_name)
    log_name, events_name = log_names(phase, iteration)
    files = RunFiles(ctx)
    handle = recorder.start_step(
        phase,
        iteration,
        start.attempt,
        output_path=str(files.path(log_name)),
        resumed_session=start.session,
    )
    if start.session is not None:  # the step's session from its start, resumed or not
        Sessions(ctx.store).record(handle.step_id, agent_name, start.session)
    notes, note_ids = _user_notes(ctx)
    prompt = with_user_notes(prompt, notes) if notes else prompt
    request = resuming(_request(ctx, phase, iteration, prompt, agent_name), start, notes)
    snapshot = ctx.runtime.primary_snapshots.pop(ctx.run_id, None) or snapshot_primary(
        ctx.workspace
    )
    sink = EngineSink(ctx, handle, log_name, events_name, agent=agent_name)
    agent_started = time.perf_counter()
    try:
        attempt = _attempt(ctx, recorder, handle, sink, worktree, agent_name)
        result = run_resuming(attempt, request, prompt)
    except BaseException:
        sink.close()
        raise
    agent_ms = (time.perf_counter() - agent_started) * 1000
    head = head_sha(worktree)
    hunks = _read_hunks(ctx, phase, iteration, worktree, head)
    plan_path = worktree_plan_path(ctx)
    plan = read_plan(plan_path) if plan_path.exists() else None
    escaped: list[str] = []
    if phase is Phase.IMPLEMENTATION and result.failure is None and _needs_review(ctx, plan):
        # The review's check, against the same snapshot, covers this step too: one
        # `git status` per iteration instead of one per agent step.
        artifacts = sink.close(index_now=False)
    else:
        # `git status` of the user's checkout runs while the logs are closed.
        escape_check = _GIT_READS.submit(changed_since, snapshot)
        artifacts = sink.close(index_now=False)
        escaped = escape_check.result()
    if not escaped:
        # Unchanged: it is also the state before the run's next agent step. Only our own
        # quick bookkeeping runs in between.
        ctx.runtime.primary_snapshots[ctx.run_id] = snapshot
    return AgentRun(handle, result, plan, escaped, agent_ms, artifacts, note_ids, head, hunks)


def _read_hunks(
    ctx: RunContext, phase: Phase, iteration: int, worktree: Path, head: str | None
) -> Future[HunkDigests] | None:
    """``git diff`` of what the implementation step committed (circular_diff reads its hunks),
    started at once so that it runs while the step's logs close and the user's checkout is
    checked; None when the step committed nothing."""
    if phase is not Phase.IMPLEMENTATION:
        return None
    record = ctx.state.record(iteration)
    before = record.head  # set when this step ran before: its own earlier end
    if before is None:
        before = ctx.state.history[-2].head if len(ctx.state.history) > 1 else None
    before = before or ctx.state.start_head
    if not before or not head or head == before:
        return None
    return _GIT_READS.submit(hunk_digests, worktree, before, head)


def _attempt(
    ctx: RunContext,
    recorder: Recorder,
    handle: StepHandle,
    sink: EngineSink,
    worktree: Path,
    agent_name: str,
) -> Attempt:
    """The step's attempt: ``run`` runs the agent under the run's retry policy."""

    def run(request: AgentRequest) -> AgentResult:
        return run_with_retries(
            ctx.runtime.agents(agent_name),
            request,
            sink,
            RetryPolicy(ctx.config.agent_retries, ctx.config.agent_retry_backoff_sec),
            sleep=ctx.runtime.interrupts.interruptible_sleep(ctx.run_id),
            on_retry=lambda attempt, reason, backoff_ms: _record_retry(
                recorder, handle, attempt, reason, backoff_ms
            ),
        )

    return Attempt(ctx, recorder, handle, sink, worktree, run)


def _user_notes(ctx: RunContext) -> tuple[str, tuple[str, ...]]:
    """The block of the user's undelivered notes (SPEC 18) for the prompt, which also goes
    into runner-notes.txt; and their ids, marked delivered when the step has run."""
    pending = Notes(ctx.store).of_run(ctx.run_id, undelivered=True)
    if not pending:
        return "", ()
    block = user_notes_block([(note.text, note.file, note.line) for note in pending])
    files = RunFiles(ctx)
    notes = files.read(RUNNER_NOTES) if files.exists(RUNNER_NOTES) else ""
    files.write(RUNNER_NOTES, (notes.rstrip("\n") + "\n\n" if notes.strip() else "") + block + "\n")
    return block, tuple(note.id for note in pending)


def _needs_review(ctx: RunContext, plan: Plan | None) -> bool:
    return bool(ctx.config.reviewer and plan is not None and plan.awaiting_review)


def _record_retry(
    recorder: Recorder, handle: StepHandle, attempt: int, reason: str, backoff_ms: float
) -> None:
    recorder.event(
        EventType.AGENT_RETRY,
        f"retry:{handle.phase.value}:{handle.iteration}:{attempt}",
        of_step=handle.step_id,
        attempt=attempt,
        reason=reason,
        backoff_ms=int(backoff_ms),
    )


def _request(
    ctx: RunContext, phase: Phase, iteration: int, prompt: str, agent_name: str
) -> AgentRequest:
    model = agent_model(ctx.config, AgentName(agent_name), review=phase is Phase.REVIEW)
    env = run_env(ctx, iteration)
    extra = {"permission_mode": str(ctx.config.permission_mode.value)}
    if ctx.config.agent_cmd:
        extra["agent_cmd"] = ctx.config.agent_cmd
    return AgentRequest(
        prompt=prompt,
        model=model,
        cwd=ctx.worktree,  # type: ignore[arg-type]
        timeout_sec=float(ctx.config.agent_timeout_sec),
        env=env,
        run_id=ctx.run_id,
        phase=phase,
        iteration=iteration,
        cancel=ctx.runtime.interrupts.cancel_event(ctx.run_id),
        extra=extra,
    )


def _finish_agent_step(
    ctx: RunContext, ran: AgentRun, iteration: int, success: StepOutcome
) -> StepOutcome:
    result = ran.result
    record = ctx.state.record(iteration)
    worktree = ctx.worktree
    record.head = ran.head
    record.plan_digest = _plan_digest(ctx)
    _note_progress(ctx, record, ran)
    if ran.escaped:
        record.escaped_paths = sorted(set(record.escaped_paths) | set(ran.escaped))
        ctx.state.pending_notes = [
            "Reminder: work only inside your worktree "
            f"({worktree}); the user's primary checkout changed while you ran "
            f"({', '.join(ran.escaped[:10])})."
        ]
    status, outcome = _classify(ctx, result, success)
    plan = ran.plan
    run_changes: dict[str, Any] = {
        "tokens_in": ctx.run.tokens_in + (result.tokens_in or 0),
        "tokens_out": ctx.run.tokens_out + (result.tokens_out or 0),
    }
    if result.cost_usd is not None:  # a run no agent priced has no cost (None), not $0
        run_changes["cost_usd"] = round((ctx.run.cost_usd or 0.0) + result.cost_usd, 6)
    if plan is not None:
        run_changes["tasks_done"] = plan.tasks_done
        run_changes["tasks_total"] = plan.tasks_total
    recorder = Recorder(ctx)
    with recorder.batch():
        recorder.finish_step(
            ran.handle,
            status,
            exit_code=result.exit_code,
            tokens_in=result.tokens_in or 0,
            tokens_out=result.tokens_out or 0,
            cost_usd=result.cost_usd,
            message=result.message or _first_line(result.final_text),
            run=run_changes,
            # An interrupted step leaves the engine state to whoever interrupted it: a pause
            # has just started a new epoch, which this step's stale copy must not overwrite.
            state=status is not StepStatus.CANCELED,
            artifacts=ran.artifacts,
            agent_ms=round(ran.agent_ms, 3),
        )
        if status is not StepStatus.CANCELED:
            # The watchdog's budget check and its own step's task counts see this step's
            # cost and counts: both read the context, the recorder's included.
            ctx = replace(ctx, run=ctx.run.model_copy(update=run_changes))
            recorder.ctx = ctx
            outcome = end_step(ctx, iteration, recorder, outcome)
    if status is not StepStatus.CANCELED:
        ctx.runtime.interrupts.mark_clean(ctx.run_id)
        if ran.note_ids:
            Notes(ctx.store).mark_delivered(ctx.run_id, ran.note_ids, ran.handle.step_id)
    return outcome


def _note_progress(ctx: RunContext, record: IterationRecord, ran: AgentRun) -> None:
    """What the watchdog's progress rule and circular_diff read: done counts before and
    after, and the hunks an implementation step's commits added and removed."""
    if record.done_before is None:
        record.done_before = ctx.run.tasks_done  # as the previous step left it
    if ran.plan is not None:
        record.tasks_done = ran.plan.tasks_done
    if ran.hunks is not None:
        digests = ran.hunks.result()
        record.added_hunks, record.removed_hunks = digests.added, digests.removed


def _classify(
    ctx: RunContext, result: AgentResult, success: StepOutcome
) -> tuple[StepStatus, StepOutcome]:
    failure = result.failure
    if failure is None:
        return StepStatus.SUCCEEDED, success
    if failure == "cancelled":
        return StepStatus.CANCELED, StepOutcome.stopped("CANCELED")
    if failure == "usage_limit":
        return StepStatus.FAILED, StepOutcome.usage_limit(current_agent(ctx), result.resume_at)
    if failure == "permanent":
        return StepStatus.FAILED, StepOutcome.failed(_with_hint(result.message))
    reason = f"agent_{failure}"
    if result.message:
        reason += f": {result.message}"
    return StepStatus.FAILED, StepOutcome.failed(reason)


def _with_hint(message: str) -> str:
    """A permanent failure's reason: the agent's own words, and what to do when they say."""
    if _ROOT_REFUSAL in message:
        return f"{message} ({_ROOT_HINT})"
    return message or "agent_error"


def _plan_digest(ctx: RunContext) -> str | None:
    path = worktree_plan_path(ctx)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def _task_named(text: str) -> str | None:
    match = _TASK_NAMED.search(text or "")
    return match.group(1).strip() if match else None


def _first_line(text: str) -> str | None:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:500]
    return None
