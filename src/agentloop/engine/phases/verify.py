"""The verification phase: run `verify_cmds` in the worktree, feed failures to the next
iteration through runner-notes.txt, and count consecutive failures (SPEC 2.4c, 6, 7)."""

from __future__ import annotations

from agentloop.core.types import EventType, Phase, RunMode, StepStatus
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.phases.step_end import end_step, replay_finished
from agentloop.engine.recorder import Recorder
from agentloop.engine.run_env import run_env
from agentloop.engine.sink import EngineSink, log_names
from agentloop.engine.verifier import run_verification


def verification(ctx: RunContext, iteration: int) -> StepOutcome:
    replayed = replay_finished(ctx, iteration)
    if replayed is not None:
        return replayed
    worktree = ctx.worktree
    if worktree is None:
        return StepOutcome.failed("internal_error: run has no worktree")
    recorder = Recorder(ctx)
    files = RunFiles(ctx)
    log_name, _ = log_names(Phase.VERIFICATION, iteration)
    handle = recorder.start_step(
        Phase.VERIFICATION, iteration, output_path=str(files.path(log_name))
    )
    sink = EngineSink(ctx, handle, log_name)
    try:
        result = run_verification(
            ctx.config.verify_cmds,
            worktree,
            timeout_sec=float(ctx.config.verify_timeout_sec),
            on_line=sink.output,
            owner=ctx.run_id,
            cancel=ctx.runtime.interrupts.cancel_event(ctx.run_id),
            env=run_env(ctx, iteration),
        )
    except BaseException:
        sink.close()
        raise
    artifacts = sink.close(index_now=False)
    if ctx.runtime.interrupts.workflow_stopped(ctx.run_id):
        recorder.finish_step(
            handle, StepStatus.CANCELED, exit_code=result.exit_code, artifacts=artifacts
        )
        return StepOutcome.stopped("CANCELED")
    record = ctx.state.record(iteration)
    record.verification_ok = result.ok
    if result.ok:
        ctx.state.consecutive_verification_failures = 0
        files.write("runner-notes.txt", "")
    else:
        ctx.state.consecutive_verification_failures += 1
        files.write("runner-notes.txt", result.failure_context())
    limit = ctx.config.max_consecutive_verification_failures
    if ctx.config.mode is RunMode.EXPERIMENT:
        limit = 0  # a failing verification only means the attempt is not kept
    work = StepOutcome.done()
    if limit and ctx.state.consecutive_verification_failures >= limit:
        work = StepOutcome.failed("consecutive_verification_failures")
    with recorder.batch():
        if not result.ok:
            recorder.event(
                EventType.VERIFICATION_FAILED,
                f"verification_failed:{iteration}",
                of_step=handle.step_id,
                command=result.command,
                exit_code=result.exit_code,
            )
        recorder.finish_step(
            handle,
            StepStatus.SUCCEEDED if result.ok else StepStatus.FAILED,
            exit_code=result.exit_code if not result.ok else 0,
            message=None if result.ok else f"{result.command} exited {result.exit_code}",
            state=True,
            artifacts=artifacts,
        )
        return end_step(ctx, iteration, recorder, work)
