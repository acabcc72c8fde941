"""``summary.json``: the figures of a finished run, computed from its stored run and steps.

:func:`build_summary` is pure (run, steps, run dir in; a dict out) so the finish step can
compute it, and tests can check it, without touching disk; :func:`write_summary` writes it
atomically to every location and indexes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentloop.artifacts.layout import PROMPT, REPORT, RUN_LOG, SUMMARY, RunDir, iter_log, iter_tail
from agentloop.artifacts.writer import ArtifactWriter
from agentloop.core.clock import rfc3339_to_ms
from agentloop.core.models import Artifact, Run, Step
from agentloop.core.types import Phase, RunStatus, StepStatus

SUMMARY_FIELDS = (
    "run_id", "start_ms", "end_ms", "total_duration_ms", "iterations_run",
    "completed_iteration", "avg_duration_ms", "last_exit_code", "completion_mode", "model",
    "exit_reason", "reason", "tokens_in", "tokens_out", "cost_usd", "run_log", "run_report",
    "prompt_snapshot", "last_iteration_log", "last_iteration_tail",
)  # fmt: skip

_FINISHED = frozenset({StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.CANCELED})


def _exit_reason(run: Run) -> str | None:
    """Why the run ended in the reference's words (SPEC 20): ``complete_plan`` for a plan
    done; ours otherwise (``iteration_limit``, ``budget_cost``, an experiment's
    ``target_reached``...), which the reference shares."""
    if run.status == RunStatus.COMPLETED:
        return run.reason or "complete_plan"
    if run.reason:
        return run.reason
    return run.status.value.lower() if run.status.is_terminal else None


def build_summary(
    run: Run,
    steps: Sequence[Step],
    run_dir: RunDir,
    *,
    end_ms: int | None = None,
    exit_reason: str | None = None,
    completion_mode: str | None = None,
    completed_iteration: int | None = None,
) -> dict[str, Any]:
    """The summary of ``run`` from its steps (implementation steps are the iterations).

    ``end_ms`` defaults to the run's ``finished_at``; the keyword overrides serve the finish
    step, which writes the summary before the terminal event (so it passes the run with
    the status and reason it is ending with). ``cost_usd`` is None when no step reported
    a cost.
    """
    start = rfc3339_to_ms(run.started_at or run.created_at)
    if end_ms is None:
        end_ms = rfc3339_to_ms(run.finished_at or run.updated_at)
    iterations = [
        step for step in steps if step.phase == Phase.IMPLEMENTATION and step.status in _FINISHED
    ]
    durations = [step.duration_ms for step in iterations if step.duration_ms is not None]
    exit_codes = [step.exit_code for step in iterations if step.exit_code is not None]
    last_iteration = max((step.iteration for step in iterations), default=None)
    if completed_iteration is None and run.status == RunStatus.COMPLETED:
        completed_iteration = last_iteration if last_iteration is not None else run.iteration
    tokens_in, tokens_out, cost = run.tokens_in, run.tokens_out, run.cost_usd
    if not (tokens_in or tokens_out or cost):  # totals not kept on the run: add the steps
        tokens_in = sum(step.tokens_in for step in steps)
        tokens_out = sum(step.tokens_out for step in steps)
        costs = [step.cost_usd for step in steps if step.cost_usd is not None]
        cost = sum(costs) if costs else None
    return {
        "run_id": run.id,
        "start_ms": start,
        "end_ms": end_ms,
        "total_duration_ms": max(0, end_ms - start),
        "iterations_run": len({step.iteration for step in iterations}),
        "completed_iteration": completed_iteration,
        "avg_duration_ms": round(sum(durations) / len(durations)) if durations else None,
        "last_exit_code": exit_codes[-1] if exit_codes else None,
        "completion_mode": completion_mode or run.config.get("completion_mode", "trailing"),
        "model": run.model or run.config.get("model"),
        "exit_reason": exit_reason or _exit_reason(run),
        "reason": run.reason,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost_usd": None if cost is None else round(cost, 6),
        "run_log": str(run_dir.safe_path(RUN_LOG)),
        "run_report": str(run_dir.safe_path(REPORT)),
        "prompt_snapshot": str(run_dir.safe_path(PROMPT)),
        "last_iteration_log": (
            None if last_iteration is None else str(run_dir.safe_path(iter_log(last_iteration)))
        ),
        "last_iteration_tail": (
            None if last_iteration is None else str(run_dir.safe_path(iter_tail(last_iteration)))
        ),
    }


def write_summary(
    writer: ArtifactWriter, summary: dict[str, Any], *, index: bool = True
) -> list[Artifact]:
    """Write summary.json atomically in every location and index it (unless the caller
    indexes it in a transaction of its own)."""
    return writer.write_json(SUMMARY, summary, index=index)
