"""The watchdog phase (SPEC 6) and the completion gate (SPEC 2.4e), applied after every
iteration: complete, continue (perhaps with a rewritten prompt), or fail with a reason.

The watchdog normally runs inside the iteration's last step (:mod:`.step_end`), in the
transaction that finishes it; :func:`watchdog` is the step of its own for an iteration whose
last step did not decide (its review waited out a usage limit, or an older workflow)."""

from __future__ import annotations

import time

from agentloop.core.plan import read_plan
from agentloop.core.prompts import apply_rewrite, rewrite_note
from agentloop.core.types import EventType, Phase, StepStatus, WatchdogSignal
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.phases.guard import Outcome
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
)
from agentloop.store.rows import rfc3339_to_ms


def watchdog(ctx: RunContext, iteration: int) -> Outcome:
    recorder = Recorder(ctx)
    with recorder.batch():
        return watch(ctx, iteration, recorder)


def watch(ctx: RunContext, iteration: int, recorder: Recorder) -> Outcome:
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
    status = StepStatus.FAILED if outcome.get("failed") else StepStatus.SUCCEEDED
    recorder.finish_step(
        handle,
        status,
        exit_code=0 if status is StepStatus.SUCCEEDED else 1,
        message=outcome.get("reason") or ("complete" if outcome.get("complete") else None),
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
) -> Outcome:
    if gate_passes(gate):
        merge = bool(ctx.run.worktree.merge_target_branch) and (
            ctx.run.worktree.merge_strategy.value != "none"
        )
        return {"complete": True, "merge": merge}
    budget = _budget_exceeded(ctx)
    if budget:
        return {"failed": True, "reason": budget}
    for signal in signals:
        if signal.signal not in ESCALATING:
            continue
        if ctx.state.rewrites_used >= ctx.config.watchdog_max_rewrites:
            return {"failed": True, "reason": signal.signal.value}
        _rewrite(ctx, signal, recorder)
        break
    limit = ctx.state.iteration_limit or ctx.config.iterations
    if iteration >= limit:
        return {"failed": True, "reason": "iteration_limit"}
    return {}


def _budget_exceeded(ctx: RunContext) -> str | None:
    run = ctx.run  # loaded at this step's start, after the iteration's agent steps
    if ctx.config.max_cost_usd is not None and run.cost_usd >= ctx.config.max_cost_usd:
        return "budget_cost"
    if ctx.config.max_runtime_sec is not None:
        started = rfc3339_to_ms(run.started_at) if run.started_at else None
        if started and time.time() * 1000 - started >= ctx.config.max_runtime_sec * 1000:
            return "budget_time"
    return None


def _rewrite(ctx: RunContext, signal: Signal, recorder: Recorder) -> None:
    files = RunFiles(ctx)
    before_name = ctx.state.prompt_path or PROMPT_SNAPSHOT
    before_text = implementation_prompt(ctx)
    k = ctx.state.rewrites_used + 1
    after_name = f"prompt.rewrite.{k}.txt"
    after_text = apply_rewrite(before_text, [rewrite_note(signal.signal, signal.detail)])
    after_path = files.write(after_name, after_text)
    ctx.state.rewrites_used = k
    ctx.state.prompt_path = after_name
    recorder.event(
        EventType.WATCHDOG_REWRITE,
        f"rewrite:{k}",
        state=True,
        signal=signal.signal.value,
        prompt_before=str(files.path(before_name)),
        prompt_after=str(after_path),
    )


__all__ = ["WatchdogSignal", "watchdog"]
