"""The durable run pipeline (SPEC 2): one DBOS workflow per run, one DBOS step per phase.

The workflow body only calls steps and matches on the :class:`StepOutcome` each returns;
everything that touches git, files, clocks or agents happens inside the steps
(engine.phases). Replay is positional: never reorder, rename or drop a step here, nor change
what a step returns, without bumping WORKFLOW_VERSION.
"""

from __future__ import annotations

from dbos import DBOS

from agentloop.engine import phases, postmortem
from agentloop.engine.outcome import Kind, StepOutcome
from agentloop.engine.run_queue import WORKFLOW_NAME


@DBOS.step(name="agentloop.begin")
def begin_step(run_id: str) -> StepOutcome:
    return phases.guarded(run_id, phases.begin)


@DBOS.step(name="agentloop.prepare")
def prepare_step(run_id: str) -> StepOutcome:
    return phases.guarded(run_id, phases.prepare)


@DBOS.step(name="agentloop.pause_for_limit")
def pause_for_limit_step(run_id: str, limit: StepOutcome) -> StepOutcome:
    return phases.guarded(run_id, phases.pause_for_limit, limit)


@DBOS.step(name="agentloop.resume_after_limit")
def resume_after_limit_step(run_id: str) -> StepOutcome:
    return phases.guarded(run_id, phases.resume_after_limit)


@DBOS.step(name="agentloop.implementation")
def implementation_step(run_id: str, iteration: int) -> StepOutcome:
    return phases.guarded(run_id, phases.implementation, iteration)


@DBOS.step(name="agentloop.review")
def review_step(run_id: str, iteration: int) -> StepOutcome:
    return phases.guarded(run_id, phases.review, iteration)


@DBOS.step(name="agentloop.verification")
def verification_step(run_id: str, iteration: int) -> StepOutcome:
    return phases.guarded(run_id, phases.verification, iteration)


@DBOS.step(name="agentloop.watchdog")
def watchdog_step(run_id: str, iteration: int) -> StepOutcome:
    return phases.guarded(run_id, phases.watchdog, iteration)


@DBOS.step(name="agentloop.baseline")
def baseline_step(run_id: str) -> StepOutcome:
    return phases.guarded(run_id, phases.baseline)


@DBOS.step(name="agentloop.measure")
def measure_step(run_id: str, iteration: int) -> StepOutcome:
    return phases.guarded(run_id, phases.measure, iteration)


@DBOS.step(name="agentloop.merge")
def merge_step(run_id: str) -> StepOutcome:
    return phases.guarded(run_id, phases.merge)


@DBOS.step(name="agentloop.finish")
def finish_step(run_id: str, status: str, reason: str | None) -> StepOutcome:
    return phases.finish_outcome(run_id, status, reason)


@DBOS.step(name="agentloop.after_finish")
def after_finish_step(run_id: str) -> StepOutcome:
    return phases.after_finish(run_id)


def _wait_out_limit(run_id: str, limit: StepOutcome) -> StepOutcome:
    """Pause for a usage limit: switch to a fallback agent, or wait (durably) for the reset.

    ``DBOS.recv`` with a timeout is a durable sleep that a resume call can cut short.
    """
    paused = pause_for_limit_step(run_id, limit)
    if paused.kind is Kind.WAIT and paused.wait_sec > 0:
        DBOS.recv("resume", timeout_seconds=paused.wait_sec)
        return resume_after_limit_step(run_id)
    return paused


@DBOS.workflow(name=WORKFLOW_NAME)
def run_workflow(run_id: str) -> str:
    started = begin_step(run_id)
    if started.kind is Kind.STOPPED:
        return started.status or "STOPPED"
    ending = _run_loop(run_id, started.iteration + 1)
    match ending.kind:
        case Kind.STOPPED:
            return ending.status or "STOPPED"
        case Kind.ENDED if ending.status == "COMPLETED" and ending.merge:
            merged = merge_step(run_id)
            match merged.kind:
                case Kind.STOPPED:
                    return merged.status or "STOPPED"
                case Kind.FAILED:
                    ending = StepOutcome.ended("FAILED", merged.reason)
    status = ending.status or "FAILED"
    finished = finish_step(run_id, status, ending.reason)
    after_finish_step(run_id)
    postmortem.start_after_finish(run_id)
    return finished.status or status


def _run_loop(run_id: str, iteration: int) -> StepOutcome:
    """Iterate implementation -> review -> verification until the watchdog decides; the
    loop's last outcome is ENDED (status, reason, merge) or STOPPED.

    The iteration's last step takes the watchdog's decision itself (its outcome is then
    NEXT_ITERATION, ENDED, FAILED or STOPPED instead of DONE); the watchdog runs as a step
    of its own only when that step did not (a review that waited out a usage limit).
    """
    prepared = prepare_step(run_id)
    if prepared.kind is not Kind.DONE:
        return prepared.as_ending()
    if prepared.experiment:
        return _experiment_loop(run_id, iteration)
    while True:
        impl = _implement(run_id, iteration)
        if impl.kind in (Kind.STOPPED, Kind.FAILED):
            return impl.as_ending()
        last = impl
        if impl.needs_review:
            reviewed = review_step(run_id, iteration)
            match reviewed.kind:
                case Kind.USAGE_LIMIT:
                    waited = _wait_out_limit(run_id, reviewed)
                    if waited.kind is Kind.STOPPED:
                        return waited
                case Kind.STOPPED | Kind.FAILED:
                    return reviewed.as_ending()
                case _:
                    last = reviewed
        if impl.verify:
            verified = verification_step(run_id, iteration)
            if verified.kind in (Kind.STOPPED, Kind.FAILED):
                return verified.as_ending()
            last = verified
        decision = watchdog_step(run_id, iteration) if last.kind is Kind.DONE else last
        match decision.kind:
            case Kind.STOPPED | Kind.FAILED | Kind.ENDED:
                return decision.as_ending()
        iteration += 1


def _experiment_loop(run_id: str, iteration: int) -> StepOutcome:
    """Experiment mode (SPEC 19): measure the base, then per iteration one change, its
    verification, and a measurement that keeps or reverts it, until the measurements say
    the experiment ends."""
    started = baseline_step(run_id)
    if started.kind in (Kind.STOPPED, Kind.FAILED):
        return started.as_ending()
    while True:
        impl = _implement(run_id, iteration)
        if impl.kind in (Kind.STOPPED, Kind.FAILED):
            return impl.as_ending()
        if impl.verify:
            verified = verification_step(run_id, iteration)
            if verified.kind in (Kind.STOPPED, Kind.FAILED):
                return verified.as_ending()
        decision = measure_step(run_id, iteration)
        match decision.kind:
            case Kind.STOPPED | Kind.FAILED | Kind.ENDED:
                return decision.as_ending()
        iteration += 1


def _implement(run_id: str, iteration: int) -> StepOutcome:
    """The iteration's implementation step, run again after each usage-limit wait (or the
    switch to a fallback agent); a stopped wait's outcome ends the run."""
    while True:
        impl = implementation_step(run_id, iteration)
        if impl.kind is not Kind.USAGE_LIMIT:
            return impl
        waited = _wait_out_limit(run_id, impl)
        if waited.kind is Kind.STOPPED:
            return waited
