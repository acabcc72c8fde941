"""The durable run pipeline (SPEC 2): one DBOS workflow per run, one DBOS step per phase.

The workflow body only calls steps and branches on their small results; everything that
touches git, files, clocks or agents happens inside the steps (engine.phases). Replay is
positional: never reorder, rename or drop a step here without bumping WORKFLOW_VERSION.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from agentloop.engine import phases, postmortem
from agentloop.engine.runtime import WORKFLOW_NAME

Outcome = dict[str, Any]


@DBOS.step(name="agentloop.begin")
def begin_step(run_id: str) -> Outcome:
    return phases.guarded(run_id, phases.begin)


@DBOS.step(name="agentloop.prepare")
def prepare_step(run_id: str) -> Outcome:
    return phases.guarded(run_id, phases.prepare)


@DBOS.step(name="agentloop.pause_for_limit")
def pause_for_limit_step(run_id: str, limit: Outcome) -> Outcome:
    return phases.guarded(run_id, phases.pause_for_limit, limit)


@DBOS.step(name="agentloop.resume_after_limit")
def resume_after_limit_step(run_id: str) -> Outcome:
    return phases.guarded(run_id, phases.resume_after_limit)


@DBOS.step(name="agentloop.implementation")
def implementation_step(run_id: str, iteration: int) -> Outcome:
    return phases.guarded(run_id, phases.implementation, iteration)


@DBOS.step(name="agentloop.review")
def review_step(run_id: str, iteration: int) -> Outcome:
    return phases.guarded(run_id, phases.review, iteration)


@DBOS.step(name="agentloop.verification")
def verification_step(run_id: str, iteration: int) -> Outcome:
    return phases.guarded(run_id, phases.verification, iteration)


@DBOS.step(name="agentloop.watchdog")
def watchdog_step(run_id: str, iteration: int) -> Outcome:
    return phases.guarded(run_id, phases.watchdog, iteration)


@DBOS.step(name="agentloop.baseline")
def baseline_step(run_id: str) -> Outcome:
    return phases.guarded(run_id, phases.baseline)


@DBOS.step(name="agentloop.measure")
def measure_step(run_id: str, iteration: int) -> Outcome:
    return phases.guarded(run_id, phases.measure, iteration)


@DBOS.step(name="agentloop.merge")
def merge_step(run_id: str) -> Outcome:
    return phases.guarded(run_id, phases.merge)


@DBOS.step(name="agentloop.finish")
def finish_step(run_id: str, status: str, reason: str | None) -> Outcome:
    return phases.finish_outcome(run_id, status, reason)


@DBOS.step(name="agentloop.after_finish")
def after_finish_step(run_id: str) -> Outcome:
    return phases.after_finish(run_id)


def _wait_out_limit(run_id: str, limit: Outcome) -> Outcome:
    """Pause for a usage limit: switch to a fallback agent, or wait (durably) for the reset.

    ``DBOS.recv`` with a timeout is a durable sleep that a resume call can cut short.
    """
    paused = pause_for_limit_step(run_id, limit)
    if paused.get("stop"):
        return paused
    if paused.get("wait_sec", 0) > 0:
        DBOS.recv("resume", timeout_seconds=paused["wait_sec"])
        return resume_after_limit_step(run_id)
    return paused


@DBOS.workflow(name=WORKFLOW_NAME)
def run_workflow(run_id: str) -> str:
    started = begin_step(run_id)
    if started.get("stop"):
        return str(started.get("status", "STOPPED"))
    outcome = _run_loop(run_id, int(started.get("iteration", 0)) + 1)
    if outcome.get("stop"):
        return str(outcome.get("status", "STOPPED"))
    if outcome["status"] == "COMPLETED" and outcome.get("merge"):
        merged = merge_step(run_id)
        if merged.get("stop"):
            return str(merged.get("status", "STOPPED"))
        if merged.get("failed"):
            outcome = {"status": "FAILED", "reason": merged["reason"]}
    finished = finish_step(run_id, outcome["status"], outcome.get("reason"))
    after_finish_step(run_id)
    postmortem.start_after_finish(run_id)
    return str(finished.get("status", outcome["status"]))


def _run_loop(run_id: str, iteration: int) -> Outcome:
    """Iterate implementation -> review -> verification until the watchdog decides.

    The iteration's last step takes the watchdog's decision itself ("decided"); the watchdog
    runs as a step of its own only when that step did not (a review that waited out a usage
    limit). Outcomes replayed from workflows recorded before the watchdog moved into the
    last step never say "decided", so their watchdog step is called where it was recorded.
    """
    prepared = prepare_step(run_id)
    if prepared.get("stop") or prepared.get("failed"):
        return _as_outcome(prepared)
    if prepared.get("experiment"):
        return _experiment_loop(run_id, iteration)
    while True:
        impl = _implement(run_id, iteration)
        if impl.get("stop") or impl.get("failed"):
            return _as_outcome(impl)
        last = impl
        if impl.get("needs_review"):
            reviewed = review_step(run_id, iteration)
            if reviewed.get("usage_limit"):
                waited = _wait_out_limit(run_id, reviewed)
                if waited.get("stop"):
                    return waited
            elif reviewed.get("stop") or reviewed.get("failed"):
                return _as_outcome(reviewed)
            else:
                last = reviewed
        if impl.get("verify"):
            verified = verification_step(run_id, iteration)
            if verified.get("stop") or verified.get("failed"):
                return _as_outcome(verified)
            last = verified
        decision = last if last.get("decided") else watchdog_step(run_id, iteration)
        if decision.get("stop") or decision.get("failed"):
            return _as_outcome(decision)
        if decision.get("complete"):
            return {"status": "COMPLETED", "merge": bool(decision.get("merge"))}
        iteration += 1


def _experiment_loop(run_id: str, iteration: int) -> Outcome:
    """Experiment mode (SPEC 19): measure the base, then per iteration one change, its
    verification, and a measurement that keeps or reverts it, until the measurements say
    the experiment ends."""
    started = baseline_step(run_id)
    if started.get("stop") or started.get("failed"):
        return _as_outcome(started)
    while True:
        impl = _implement(run_id, iteration)
        if impl.get("stop") or impl.get("failed"):
            return _as_outcome(impl)
        if impl.get("verify"):
            verified = verification_step(run_id, iteration)
            if verified.get("stop") or verified.get("failed"):
                return _as_outcome(verified)
        decision = measure_step(run_id, iteration)
        if decision.get("stop") or decision.get("failed"):
            return _as_outcome(decision)
        if decision.get("end"):
            return {
                "status": decision["status"],
                "reason": decision["reason"],
                "merge": bool(decision.get("merge")),
            }
        iteration += 1


def _implement(run_id: str, iteration: int) -> Outcome:
    """The iteration's implementation step, run again after each usage-limit wait (or the
    switch to a fallback agent); a stopped wait's outcome ends the run."""
    while True:
        impl = implementation_step(run_id, iteration)
        if not impl.get("usage_limit"):
            return impl
        waited = _wait_out_limit(run_id, impl)
        if waited.get("stop"):
            return waited


def _as_outcome(result: Outcome) -> Outcome:
    if result.get("stop"):
        return result
    return {"status": "FAILED", "reason": result.get("reason") or "failed"}
