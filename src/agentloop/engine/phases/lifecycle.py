"""Run lifecycle phases: begin, usage-limit holds and waits, finish, and after-finish."""

from __future__ import annotations

import time

from agentloop.core.clock import now_ms
from agentloop.core.types import EventType, RunStatus
from agentloop.engine import finish as finishing
from agentloop.engine.context import RunContext
from agentloop.engine.notify import notify
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.phases.guard import ending_step
from agentloop.engine.recorder import ACTIVE_STATUSES, Recorder


def begin(ctx: RunContext) -> StepOutcome:
    Recorder(ctx).event(
        EventType.RUN_STARTED,
        "run_started",
        run={"status": RunStatus.RUNNING.value, "started_at": now_ms()},
        worker_id=ctx.runtime.settings.executor_id,
        expect=ACTIVE_STATUSES,  # canceled or paused while queued: stop (Conflict)
    )
    return StepOutcome.done(iteration=ctx.run.iteration)


def agent_chain(ctx: RunContext) -> list[str]:
    chain = [ctx.config.agent.value]
    for fallback in ctx.config.fallback_agents:
        if fallback.value not in chain:
            chain.append(fallback.value)
    return chain


def current_agent(ctx: RunContext) -> str:
    chain = agent_chain(ctx)
    return chain[min(ctx.state.agent_index, len(chain) - 1)]


def check_hold(ctx: RunContext) -> StepOutcome | None:
    """The usage limit belongs to the agent's account: wait when another run hit it."""
    agent = current_agent(ctx)
    resume_at = ctx.runtime.holds.hold_of(agent)
    if resume_at is None or resume_at <= time.time():
        return None
    return StepOutcome.usage_limit(agent, resume_at, held=True)


def pause_for_limit(ctx: RunContext, limit: StepOutcome) -> StepOutcome:
    """Switch to the next fallback agent, or pause until the limit resets."""
    agent = str(limit.agent or current_agent(ctx))
    recorder = Recorder(ctx)
    resume_at = limit.resume_at
    if resume_at is None:
        resume_at = time.time() + ctx.config.usage_limit_wait_sec
    if not limit.held:
        ctx.runtime.holds.note(agent, float(resume_at))
    chain = agent_chain(ctx)
    if ctx.state.agent_index + 1 < len(chain):
        ctx.state.agent_index += 1
        recorder.save_state()
        return StepOutcome.wait(0, chain[ctx.state.agent_index])
    if limit.held:
        recorder.event(
            EventType.AGENT_HOLD, f"hold:{agent}", agent=agent, resume_at=float(resume_at)
        )
    ctx.state.agent_index = 0
    recorder.event(
        EventType.RUN_PAUSED,
        "paused:usage_limit",
        run={
            "status": RunStatus.PAUSED.value,
            "reason": "usage_limit",
            "resume_at": float(resume_at),
        },
        state=True,
        reason="usage_limit",
        resume_at=float(resume_at),
    )
    notify(ctx, "RUN_PAUSED", reason="usage_limit", resume_at=float(resume_at))
    return StepOutcome.wait(max(0.0, float(resume_at) - time.time()))


def resume_after_limit(ctx: RunContext) -> StepOutcome:
    if ctx.run.status is not RunStatus.PAUSED:
        return StepOutcome.done()
    Recorder(ctx).event(
        EventType.RUN_RESUMED,
        "resumed:usage_limit",
        run={"status": RunStatus.RUNNING.value, "reason": None, "resume_at": None},
        reason="usage_limit",
    )
    return StepOutcome.done()


def finish_outcome(run_id: str, status: str, reason: str | None) -> StepOutcome:
    def finish(ctx: RunContext) -> StepOutcome:
        return StepOutcome.ended(finishing.finish_run(ctx, RunStatus(status), reason).value)

    return ending_step(run_id, finish)


def after_finish(run_id: str) -> StepOutcome:
    def clean_up(ctx: RunContext) -> StepOutcome:
        if ctx.run.status.is_terminal:  # not when the finish was refused (a reset won)
            finishing.clean_up(ctx)
        return StepOutcome.done()

    return ending_step(run_id, clean_up)
