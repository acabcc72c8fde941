"""Review of finished runs (SPEC 8, 14): merge, scrap, create-pr, and the postmortem.

- ``POST /runs/{id}/merge`` body ``{target?, strategy?}`` (optional) -> 200 ``{run}``
- ``POST /runs/{id}/scrap`` -> 200 ``{run}``
- ``POST /runs/{id}/create-pr`` body ``{base?, title?, draft?}`` (optional) -> 200 ``{run}``
- ``POST /runs/{id}/postmortem`` -> 202 ``{run, postmortem: {status, workflow_id, started}}``
  (200 when one is already running)
- ``GET /runs/{id}/postmortem`` -> 200 ``{status, path, text, reason}``

A refusal is 409 ``{"error", "status" (the run's), "reason" (one word, e.g.
``merge_conflict``)}`` plus facts such as the conflicting ``paths``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentloop.api.deps import runtime_of
from agentloop.api.errors import error_body
from agentloop.api.schemas import ErrorBody, RunEnvelope
from agentloop.core.models import Run
from agentloop.engine import postmortem, review_actions
from agentloop.engine.review_actions import ReviewRefused

router = APIRouter(tags=["review"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409, 422)
}


def _branch() -> Any:
    return Field(default=None, min_length=1, max_length=255)


def _no_nul(value: str | None) -> str | None:
    """A NUL byte cannot reach a command line (git, gh): refuse it as bad input."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


class MergeBody(BaseModel):
    """Where and how to merge; both default to the run's own settings."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = _branch()
    strategy: Literal["squash", "merge"] | None = None

    @field_validator("target")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return _no_nul(value)


class PullRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str | None = _branch()
    title: str | None = Field(default=None, min_length=1, max_length=256)
    draft: bool = False

    @field_validator("base", "title")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return _no_nul(value)


class PostmortemState(BaseModel):
    status: Literal["none", "running", "done", "failed"]
    path: str | None = None
    text: str | None = None
    reason: str | None = None


class PostmortemStart(BaseModel):
    status: Literal["running"]
    workflow_id: str
    started: bool


class PostmortemStarted(BaseModel):
    run: Run
    postmortem: PostmortemStart


def _refused(exc: ReviewRefused) -> JSONResponse:
    extra = {k: v for k, v in exc.facts.items() if k != "current_status"}
    return JSONResponse(
        error_body(exc.message, status=exc.facts.get("current_status"), **extra), status_code=409
    )


@router.post("/runs/{run_id}/merge", response_model=RunEnvelope, responses=_ERRORS)
def merge_run(
    run_id: str, request: Request, body: MergeBody | None = None
) -> RunEnvelope | JSONResponse:
    """Merge the run branch into its merge target (never pushes); idempotent."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    wanted = body or MergeBody()
    return _enveloped(
        lambda: review_actions.merge(
            runtime, run.id, target=wanted.target, strategy=wanted.strategy
        )
    )


@router.post("/runs/{run_id}/scrap", response_model=RunEnvelope, responses=_ERRORS)
def scrap_run(run_id: str, request: Request) -> RunEnvelope | JSONResponse:
    """Delete the run's worktree and branch (a terminal run only); idempotent."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    return _enveloped(lambda: review_actions.scrap(runtime, run.id))


@router.post("/runs/{run_id}/create-pr", response_model=RunEnvelope, responses=_ERRORS)
def create_pull_request(
    run_id: str, request: Request, body: PullRequestBody | None = None
) -> RunEnvelope | JSONResponse:
    """Open a pull request for the run branch with `gh` (the branch must be pushed)."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    wanted = body or PullRequestBody()
    return _enveloped(
        lambda: review_actions.create_pr(
            runtime, run.id, base=wanted.base, title=wanted.title, draft=wanted.draft
        )
    )


@router.post(
    "/runs/{run_id}/postmortem",
    status_code=202,
    response_model=PostmortemStarted,
    responses={**_ERRORS, 200: {"model": PostmortemStarted}},
)
def start_postmortem(run_id: str, request: Request, response: Response) -> PostmortemStarted:
    """Start a postmortem of a finished run (202); 200 when one is already running."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    started = postmortem.request(runtime, run.id)
    if not started["started"]:
        response.status_code = 200
    return PostmortemStarted(
        run=runtime.store.get_run(run.id), postmortem=PostmortemStart.model_validate(started)
    )


@router.get("/runs/{run_id}/postmortem", response_model=PostmortemState, responses=_ERRORS)
def get_postmortem(run_id: str, request: Request) -> PostmortemState:
    """The run's postmortem: its status and, once written, its text."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    return PostmortemState.model_validate(postmortem.status(runtime, run))


def _enveloped(action: Callable[[], Run]) -> RunEnvelope | JSONResponse:
    try:
        return RunEnvelope(run=action())
    except ReviewRefused as exc:
        return _refused(exc)
