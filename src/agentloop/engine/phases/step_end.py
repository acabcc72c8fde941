"""How an iteration step ends, and what it does when it runs again.

The iteration's last step (implementation, review or verification, whichever comes last)
also takes the watchdog's decision: the step's STEP_FINISHED, the watchdog's step and
signals and the engine state are written in one transaction, so an iteration costs one
DBOS step fewer and one transaction fewer, and no crash can fall between the two.

The engine state remembers that step (:class:`FinishedStep`). When the same DBOS step runs
again, its recorded work is not done twice:

- a crash after the step's transaction, before DBOS checkpointed its result: same epoch,
  so the recorded outcome is returned as it was;
- a retry of a run that the decision failed (iteration limit, watchdog, budget), or a resume
  after a pause that came after the work was recorded: a new epoch, so the work stands and
  only the decision is taken again, as a new attempt.

A step whose work failed or was interrupted runs again in full.
"""

from __future__ import annotations

from agentloop.core.types import RunMode
from agentloop.engine.context import RunContext
from agentloop.engine.history import FinishedStep
from agentloop.engine.phases.guard import Outcome
from agentloop.engine.phases.watchdog import watch
from agentloop.engine.recorder import Recorder


def ends_iteration(work: Outcome) -> bool:
    """No review or verification follows this step's work in its iteration."""
    return not (work.get("needs_review") or work.get("verify"))


def went_well(work: Outcome) -> bool:
    return not (work.get("failed") or work.get("stop") or work.get("usage_limit"))


def end_step(ctx: RunContext, iteration: int, recorder: Recorder, work: Outcome) -> Outcome:
    """Inside ``recorder.batch()``, after the step's STEP_FINISHED was queued: decide the
    iteration when this step ends it, and remember the step with the state."""
    outcome = work
    # An experiment's iteration is decided by its measurement, not by the watchdog.
    if went_well(work) and ends_iteration(work) and ctx.config.mode is RunMode.PLAN:
        outcome = {**work, **watch(ctx, iteration, recorder), "decided": True}
    ctx.state.finished_step = FinishedStep(ctx.step_key, ctx.state.epoch, work, outcome)
    recorder.save_state()
    return outcome


def replay_finished(ctx: RunContext, iteration: int) -> Outcome | None:
    """The outcome of this step when its work is already recorded; None to run it."""
    done = ctx.state.finished_step
    if done is None or done.key != ctx.step_key:
        return None
    if done.epoch == ctx.state.epoch:
        return done.outcome
    if not went_well(done.work):
        return None
    recorder = Recorder(ctx)
    with recorder.batch():
        return end_step(ctx, iteration, recorder, done.work)
