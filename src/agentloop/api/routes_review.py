"""Review of finished runs (SPEC 8, 14): merge, scrap, create-pr, and the postmortem.

- ``POST /runs/{id}/merge`` body ``{target?, strategy?}`` (optional) -> 200 ``{run, commit}``
- ``POST /runs/{id}/scrap`` -> 200 ``{run}``
- ``POST /runs/{id}/create-pr`` body ``{base?, title?, body?, draft?}`` (optional) -> 200
  ``{run, url}``
- ``POST /runs/{id}/postmortem`` body ``{model?, prompt_only?}`` (optional) -> 202 ``{run,
  postmortem: {status, workflow_id, started}, status, analysis_dir, artifacts: [path]}``
  (200 when one is already running, or for ``prompt_only``: status ``prompt_only``, the
  prompt written, no agent asked)
- ``GET /runs/{id}/postmortem`` -> 200 ``{status, path, text, reason, analysis_dir,
  artifacts: [{path, exists}]}``

``commit``, ``url``, ``analysis_dir``, ``artifacts`` and the top-level ``status`` are what
the reference's clients read (SPEC 20).

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
    body: str | None = Field(default=None, max_length=65_536)
    draft: bool = False

    @field_validator("base", "title", "body")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return _no_nul(value)


class PostmortemBody(BaseModel):
    """The model to ask (default: the run's), or only the prompt, as the reference's
    ``analyze`` sends them."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1, max_length=128)
    prompt_only: bool = False

    @field_validator("model")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        return _no_nul(value)


class Merged(BaseModel):
    run: Run
    commit: str | None


class PullRequestOpened(BaseModel):
    run: Run
    url: str | None


class AnalysisFile(BaseModel):
    path: str
    exists: bool


class PostmortemState(BaseModel):
    status: Literal["none", "running", "done", "failed"]
    path: str | None = None
    text: str | None = None
    reason: str | None = None
    analysis_dir: str
    artifacts: list[AnalysisFile]


class PostmortemStart(BaseModel):
    status: Literal["running"]
    workflow_id: str
    started: bool


class PostmortemStarted(BaseModel):
    run: Run
    postmortem: PostmortemStart | None
    status: Literal["running", "prompt_only"]
    analysis_dir: str
    artifacts: list[str]


def _refused(exc: ReviewRefused) -> JSONResponse:
    extra = {k: v for k, v in exc.facts.items() if k != "current_status"}
    return JSONResponse(
        error_body(exc.message, status=exc.facts.get("current_status"), **extra), status_code=409
    )


@router.post("/runs/{run_id}/merge", response_model=Merged, responses=_ERRORS)
def merge_run(
    run_id: str, request: Request, body: MergeBody | None = None
) -> Merged | JSONResponse:
    """Merge the run branch into its merge target (never pushes); idempotent."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    wanted = body or MergeBody()
    try:
        merged = review_actions.merge(
            runtime, run.id, target=wanted.target, strategy=wanted.strategy
        )
    except ReviewRefused as exc:
        return _refused(exc)
    return Merged(run=merged, commit=merged.merge_commit)


@router.post("/runs/{run_id}/scrap", response_model=RunEnvelope, responses=_ERRORS)
def scrap_run(run_id: str, request: Request) -> RunEnvelope | JSONResponse:
    """Delete the run's worktree and branch (a terminal run only); idempotent."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    return _enveloped(lambda: review_actions.scrap(runtime, run.id))


@router.post("/runs/{run_id}/create-pr", response_model=PullRequestOpened, responses=_ERRORS)
def create_pull_request(
    run_id: str, request: Request, body: PullRequestBody | None = None
) -> PullRequestOpened | JSONResponse:
    """Open a pull request for the run branch with `gh` (the branch must be pushed)."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    wanted = body or PullRequestBody()
    try:
        opened = review_actions.create_pr(
            runtime,
            run.id,
            base=wanted.base,
            title=wanted.title,
            draft=wanted.draft,
            body=wanted.body,
        )
    except ReviewRefused as exc:
        return _refused(exc)
    return PullRequestOpened(run=opened, url=opened.pr_url)


@router.post(
    "/runs/{run_id}/postmortem",
    status_code=202,
    response_model=PostmortemStarted,
    responses={**_ERRORS, 200: {"model": PostmortemStarted}},
)
def start_postmortem(
    run_id: str, request: Request, response: Response, body: PostmortemBody | None = None
) -> PostmortemStarted:
    """Start a postmortem of a finished run (202); 200 when one is already running, or
    with ``prompt_only`` (the prompt is written, no agent asked)."""
    runtime = runtime_of(request)
    run = runtime.store.resolve_run(run_id)
    wanted = body or PostmortemBody()
    directory, listed = postmortem.analysis_files(runtime, run)
    if wanted.prompt_only:
        written = postmortem.write_prompt(runtime, run.id)
        response.status_code = 200
        return PostmortemStarted(
            run=runtime.store.get_run(run.id),
            postmortem=None,
            status="prompt_only",
            analysis_dir=str(directory),
            artifacts=[str(written)],
        )
    started = postmortem.request(runtime, run.id, model=wanted.model)
    if not started["started"]:
        response.status_code = 200
    return PostmortemStarted(
        run=runtime.store.get_run(run.id),
        postmortem=PostmortemStart.model_validate(started),
        status="running",
        analysis_dir=str(directory),
        artifacts=[str(listed[0])],  # the postmortem, once written
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
