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

This is not a second checkpoint layer beside DBOS's: DBOS checkpoints the step's outcome
only after the step returned, so the first case is one DBOS cannot see, and without this
record the iteration's agent would run (and be paid for) twice; DBOS's rewind (retry,
resume) re-runs the whole step, and the second case keeps its work.
"""

from __future__ import annotations

from agentloop.core.types import RunMode
from agentloop.engine.context import RunContext
from agentloop.engine.history import FinishedStep
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.phases.watchdog import watch
from agentloop.engine.recorder import Recorder


def end_step(ctx: RunContext, iteration: int, recorder: Recorder, work: StepOutcome) -> StepOutcome:
    """Inside ``recorder.batch()``, after the step's STEP_FINISHED was queued: decide the
    iteration when this step ends it (the outcome is then the watchdog's: the next
    iteration, the end, a failure or a pause), and remember the step with the state."""
    outcome = work
    # An experiment's iteration is decided by its measurement, not by the watchdog.
    if work.went_well and work.ends_iteration and ctx.config.mode is RunMode.PLAN:
        outcome = watch(ctx, iteration, recorder)
    ctx.state.finished_step = FinishedStep(ctx.step_key, ctx.state.epoch, work, outcome)
    recorder.save_state()
    return outcome


def replay_finished(ctx: RunContext, iteration: int) -> StepOutcome | None:
    """The outcome of this step when its work is already recorded; None to run it."""
    done = ctx.state.finished_step
    if done is None or done.key != ctx.step_key:
        return None
    if done.epoch == ctx.state.epoch:
        return done.outcome
    if not done.work.went_well:
        return None
    recorder = Recorder(ctx)
    with recorder.batch():
        return end_step(ctx, iteration, recorder, done.work)
