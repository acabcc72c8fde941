"""Runs: create, list, read, control, review (SPEC 14)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from agentloop.api.deps import runtime_of
from agentloop.api.errors import error_body
from agentloop.api.schemas import (
    ArtifactList,
    CreateRun,
    ErrorBody,
    RemovedWorktrees,
    RunDiff,
    RunEnvelope,
    RunList,
    StepList,
    Worktrees,
)
from agentloop.core.errors import InvalidInput
from agentloop.core.types import RunStatus
from agentloop.engine import admission, control, review, worktree_removal

router = APIRouter(tags=["runs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
    422: {"model": ErrorBody},
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    k: v for k, v in _ERRORS.items() if k in (400, 401, 404, 422)
}
MAX_OFFSET = 2**63 - 1
"""The largest OFFSET the databases take (a 64-bit signed integer); more was a 500."""


@router.post("/runs", status_code=201, response_model=RunEnvelope, responses=_ERRORS)
def create_run(body: CreateRun, request: Request) -> RunEnvelope:
    run = admission.admit(runtime_of(request), body.run_request())
    return RunEnvelope(run=run)


@router.get("/runs", response_model=RunList, responses=_READ_ERRORS)
def list_runs(
    request: Request,
    workspace_root: str | None = None,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RunList:
    statuses = parse_statuses(status)
    runs, total = runtime_of(request).store.list_runs(
        workspace_root=workspace_root, status=statuses, limit=limit, offset=offset
    )
    return RunList(runs=runs, total=total)


def parse_statuses(raw: str | None) -> list[RunStatus] | None:
    """``status=RUNNING,PAUSED`` of ``GET /runs`` (and MCP's list_runs); 400 on a bad word."""
    if not raw:
        return None
    found = []
    for part in raw.split(","):
        try:
            found.append(RunStatus(part.strip().upper()))
        except ValueError as exc:
            allowed = ", ".join(s.value for s in RunStatus)
            raise InvalidInput(f"status {part.strip()!r}: expected one of {allowed}") from exc
    return found


@router.get("/runs/{run_id}", response_model=RunEnvelope, responses=_READ_ERRORS)
def get_run(run_id: str, request: Request) -> RunEnvelope:
    return RunEnvelope(run=runtime_of(request).store.resolve_run(run_id))


@router.get("/runs/{run_id}/steps", response_model=StepList, responses=_READ_ERRORS)
def get_steps(run_id: str, request: Request) -> StepList:
    store = runtime_of(request).store
    run = store.resolve_run(run_id)
    return StepList(steps=store.list_steps(run.id))


@router.get("/runs/{run_id}/artifacts", response_model=ArtifactList, responses=_READ_ERRORS)
def get_artifacts(run_id: str, request: Request) -> ArtifactList:
    store = runtime_of(request).store
    run = store.resolve_run(run_id)
    return ArtifactList(artifacts=store.list_artifacts(run.id))


def _control(action: str) -> Callable[[str, Request], Response]:
    def handler(run_id: str, request: Request) -> Response:
        runtime = runtime_of(request)
        run = runtime.store.resolve_run(run_id)
        control.apply(runtime, run.id, action)
        return Response(status_code=204)

    handler.__name__ = f"{action}_run"
    return handler


for _action in control.ACTIONS:
    router.add_api_route(
        f"/runs/{{run_id}}/{_action}",
        _control(_action),
        methods=["POST"],
        status_code=204,
        response_class=Response,
        responses=_ERRORS,
        summary=f"{_action.capitalize()} a run",
    )


@router.get("/runs/{run_id}/diff", response_model=RunDiff, responses=_ERRORS)
def get_diff(run_id: str, request: Request) -> RunDiff:
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    return RunDiff.model_validate(review.diff(run))


@router.get("/worktrees", response_model=Worktrees, responses=_READ_ERRORS)
def list_worktrees(request: Request, workspace: str | None = None) -> Worktrees:
    """The worktrees of every run's workspace, or of the repository ``workspace`` is in."""
    found = review.list_worktrees(runtime_of(request), workspace)
    return Worktrees(workspace=workspace, worktrees=found)


@router.delete("/worktrees", response_model=RemovedWorktrees, responses=_ERRORS)
def delete_worktrees(
    request: Request,
    run_id: str | None = None,
    workspace: str | None = None,
    path: str | None = None,
    force: bool = False,
) -> RemovedWorktrees | JSONResponse:
    """Remove the worktrees of ended runs (all, ``run_id``'s, or ``workspace``'s), or the
    worktree at ``path`` of ``workspace``. Branches stay; a worktree with uncommitted changes
    is kept (and reported, with why) unless ``force``: for the one at ``path`` that is a 409
    whose ``error`` says why (the reference's clients read only the status and ``error``)."""
    removed = worktree_removal.remove_worktrees(
        runtime_of(request), run_id=run_id, workspace=workspace, path=path, force=force
    )
    if path is not None and removed["kept"]:
        why = f"worktree {removed['kept'][0]['path']} kept: {removed['kept'][0]['reason']}"
        return JSONResponse(error_body(why, **removed), status_code=409)
    return RemovedWorktrees.model_validate(removed)
