"""The watchdog phase (SPEC 6) and the completion gate (SPEC 2.4e), applied after every
iteration: complete, continue (perhaps with a rewritten prompt), or fail with a reason.

The watchdog normally runs inside the iteration's last step (:mod:`.step_end`), in the
transaction that finishes it; :func:`watchdog` is the step of its own for an iteration whose
last step did not decide (its review waited out a usage limit, or an older workflow)."""

from __future__ import annotations

import re

from agentloop.artifacts.layout import prompt_rewrite
from agentloop.core.clock import now_ms, rfc3339_to_ms
from agentloop.core.plan import read_plan
from agentloop.core.prompts import apply_rewrite, rewrite_note
from agentloop.core.types import (
    EventType,
    Phase,
    RunStatus,
    StepStatus,
    WatchdogExhausted,
    WatchdogSignal,
)
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.notify import notify
from agentloop.engine.outcome import Kind, StepOutcome
from agentloop.engine.phases.lifecycle import agent_chain
from agentloop.engine.prompting import PROMPT_SNAPSHOT, implementation_prompt, worktree_plan_path
from agentloop.engine.recorder import Recorder
from agentloop.engine.signals import (
    ESCALATING,
    GateInput,
    Signal,
    completion_claimed,
    completion_malformed,
    detect_signals,
    gate_passes,
    made_progress,
)

NEEDS_ATTENTION = "needs_attention"
_REWRITE_NAME = re.compile(r"prompt\.rewrite\.(\d+)\.txt")


def watchdog(ctx: RunContext, iteration: int) -> StepOutcome:
    recorder = Recorder(ctx)
    with recorder.batch():
        return watch(ctx, iteration, recorder)


def watch(ctx: RunContext, iteration: int, recorder: Recorder) -> StepOutcome:
    """Record the watchdog step of ``iteration`` (inside ``recorder.batch()``) and decide."""
    handle = recorder.start_step(Phase.WATCHDOG, iteration)
    gate = _gate(ctx, iteration)
    signals = detect_signals(ctx.state.history, gate)
    for signal in signals:
        recorder.event(
            EventType.WATCHDOG_SIGNAL,
            f"signal:{iteration}:{signal.signal.value}",
            of_step=handle.step_id,
            signal=signal.signal.value,
            detail=signal.detail,
        )
    outcome = _decide(ctx, iteration, gate, signals, recorder)
    status = StepStatus.FAILED if outcome.kind is Kind.FAILED else StepStatus.SUCCEEDED
    recorder.finish_step(
        handle,
        status,
        exit_code=0 if status is StepStatus.SUCCEEDED else 1,
        message=outcome.reason or ("complete" if outcome.kind is Kind.ENDED else None),
        state=True,
    )
    return outcome


def _gate(ctx: RunContext, iteration: int) -> GateInput:
    record = ctx.state.record(iteration)
    plan = read_plan(worktree_plan_path(ctx))
    reviewer = bool(ctx.config.reviewer)
    verification_ok = record.verification_ok is not False
    if ctx.config.verify_cmds and record.verification_ok is None:
        verification_ok = False
    return GateInput(
        claimed=completion_claimed(record),
        malformed=completion_malformed(record),
        plan_complete=plan.is_complete(reviewer=reviewer),
        open_tasks=len(plan.open_tasks),
        awaiting_review=len(plan.awaiting_review) if reviewer else 0,
        verification_ok=verification_ok,
    )


def _decide(
    ctx: RunContext, iteration: int, gate: GateInput, signals: list[Signal], recorder: Recorder
) -> StepOutcome:
    if gate_passes(gate):
        merge = bool(ctx.run.worktree.merge_target_branch) and (
            ctx.run.worktree.merge_strategy.value != "none"
        )
        return StepOutcome.ended(RunStatus.COMPLETED.value, merge=merge)
    budget = _budget_exceeded(ctx)
    if budget:
        return StepOutcome.failed(budget)
    escalating = next((s for s in signals if s.signal in ESCALATING), None)
    if escalating is not None and not made_progress(ctx.state.history, ctx.state.start_head):
        decision = _escalate(ctx, iteration, escalating, signals, recorder)
        if decision is not None:
            return decision
    limit = ctx.state.iteration_limit or ctx.config.iterations
    if iteration >= limit:
        return StepOutcome.failed("iteration_limit")
    return StepOutcome.next_iteration()


def _escalate(
    ctx: RunContext, iteration: int, signal: Signal, signals: list[Signal], recorder: Recorder
) -> StepOutcome | None:
    """No progress and a signal: rewrite the prompt, else switch to the next fallback agent,
    else pause for the user's attention (or fail, per ``watchdog_exhausted``). None: the
    escalation decides nothing, the iteration limit still may."""
    if ctx.state.rewrites_used < ctx.config.watchdog_max_rewrites:
        _rewrite(ctx, signal, recorder)
        return None
    chain = agent_chain(ctx)
    if ctx.state.agent_index + 1 < len(chain):
        ctx.state.agent_index += 1
        recorder.event(
            EventType.WATCHDOG_ESCALATED,
            f"escalated:{iteration}",
            state=True,
            signal=signal.signal.value,
            to_agent=chain[ctx.state.agent_index],
        )
        return None
    if ctx.config.watchdog_exhausted is WatchdogExhausted.FAIL:
        return StepOutcome.failed(signal.signal.value)
    if ctx.state.attention_iteration == iteration:
        return None  # the user has seen this iteration and resumed: go on (with their notes)
    return _pause_for_attention(ctx, iteration, signals, recorder)


def _pause_for_attention(
    ctx: RunContext, iteration: int, signals: list[Signal], recorder: Recorder
) -> StepOutcome:
    """PAUSED ``needs_attention`` with the signals (SPEC 6, 18). The workflow ends here; a
    resume rewinds it to this step, which decides again with a fresh rewrite budget."""
    shown = [{"signal": s.signal.value, "detail": s.detail} for s in signals]
    ctx.state.failed_step = ctx.step_key
    ctx.state.attention_iteration = iteration
    recorder.event(
        EventType.RUN_PAUSED,
        f"paused:needs_attention:{iteration}",
        run={"status": RunStatus.PAUSED.value, "reason": NEEDS_ATTENTION, "phase": None},
        state=True,
        reason=NEEDS_ATTENTION,
        signals=shown,
    )
    notify(ctx, "RUN_PAUSED", reason=NEEDS_ATTENTION, signals=shown)
    return StepOutcome.stopped(RunStatus.PAUSED.value)


def _budget_exceeded(ctx: RunContext) -> str | None:
    run = ctx.run  # loaded at this step's start, after the iteration's agent steps
    cost, budget = run.cost_usd, ctx.config.max_cost_usd
    if budget is not None and cost is not None and cost >= budget:
        return "budget_cost"
    if ctx.config.max_runtime_sec is not None:
        started = rfc3339_to_ms(run.started_at) if run.started_at else None
        if started and now_ms() - started >= ctx.config.max_runtime_sec * 1000:
            return "budget_time"
    return None


def _rewrite(ctx: RunContext, signal: Signal, recorder: Recorder) -> None:
    files = RunFiles(ctx)
    before_name = ctx.state.prompt_path or PROMPT_SNAPSHOT
    before_text = implementation_prompt(ctx)
    k = _next_rewrite_number(ctx.state.prompt_path, ctx.state.rewrites_used)
    after_name = prompt_rewrite(k)
    after_text = apply_rewrite(before_text, [rewrite_note(signal.signal, signal.detail)])
    after_path = files.write(after_name, after_text)
    ctx.state.rewrites_used += 1
    ctx.state.prompt_path = after_name
    recorder.event(
        EventType.WATCHDOG_REWRITE,
        f"rewrite:{k}",
        state=True,
        signal=signal.signal.value,
        prompt_before=str(files.path(before_name)),
        prompt_after=str(after_path),
    )


def _next_rewrite_number(prompt_path: str | None, rewrites_used: int) -> int:
    """A resume (or retry) renews the rewrite budget, not the file names: numbering goes on
    from the last rewrite, so none overwrites an earlier one that its event points at."""
    last = _REWRITE_NAME.fullmatch(prompt_path or "")
    return max(rewrites_used, int(last.group(1)) if last else 0) + 1


__all__ = ["WatchdogSignal", "watchdog"]
