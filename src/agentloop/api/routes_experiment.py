"""Experiment runs' measurements (SPEC 19): what ``loopctl inspect`` prints and the run
page plots."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from agentloop.api.deps import runtime_of
from agentloop.api.schemas import ErrorBody
from agentloop.engine.measurements import measurements

router = APIRouter(tags=["experiment"])


class Measurements(BaseModel):
    metric: str | None
    goal: str
    target: float | None
    baseline: float | None
    best: float | None
    best_iteration: int
    series: list[dict[str, Any]]


@router.get(
    "/runs/{run_id}/measurements",
    response_model=Measurements,
    responses={code: {"model": ErrorBody} for code in (400, 401, 404, 409)},
)
def run_measurements(run_id: str, request: Request) -> Measurements:
    """The baseline, the best and every iteration's measurement of an experiment run."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    return Measurements.model_validate(measurements(runtime, run))
