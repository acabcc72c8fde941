"""Workspaces (SPEC 18): ``GET /workspaces/specs?workspace_root=<abs path>``, the specs a run
can be started on, for the dashboard's "New run" form.

The workspace is the git repository ``workspace_root`` is in (400 when the path is missing,
relative or not in git; 404 when there is no such directory). ``specs_dir`` and
``plans_dir`` come from its ``.loop/config`` as a run would get them (a bad config is a
400 naming the key); either leading outside the workspace is refused (400), and so is a
``.loop/config`` that is a symlink to elsewhere (SPEC 17). Paths in the answer are relative
to the workspace, as ``POST /runs`` takes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from agentloop.api.schemas import ErrorBody
from agentloop.core.config import load_config
from agentloop.core.errors import InvalidInput
from agentloop.core.specs import SpecChoice, spec_choices, workspace_relative
from agentloop.core.workspace import CONFIG_FILE, ensure_within
from agentloop.engine.review import repository_root

router = APIRouter(tags=["workspaces"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 422)
}


class SpecFile(BaseModel):
    """One spec: ``path`` and ``plan_path`` (its default plan, which may not exist yet)
    relative to the workspace; ``status`` and ``last_updated`` from the spec's head."""

    path: str
    title: str
    status: str | None
    last_updated: str | None
    plan_path: str
    plan_exists: bool


class WorkspaceSpecs(BaseModel):
    workspace_root: str
    specs_dir: str
    plans_dir: str
    specs: list[SpecFile]


@router.get("/workspaces/specs", response_model=WorkspaceSpecs, responses=_ERRORS)
async def list_specs(request: Request, workspace_root: str | None = None) -> WorkspaceSpecs:
    """The workspace's specs (markdown under ``specs_dir``, not under ``plans_dir``),
    newest first, each with its default plan."""
    if not workspace_root or not workspace_root.strip():
        raise InvalidInput("workspace_root is required: the absolute path of a workspace")
    if "\x00" in workspace_root:
        raise InvalidInput("workspace_root must not contain NUL bytes")
    return await run_in_threadpool(_workspace_specs, workspace_root)


def _workspace_specs(raw: str) -> WorkspaceSpecs:
    workspace = repository_root(raw)
    if (workspace / CONFIG_FILE).exists():
        ensure_within(CONFIG_FILE, workspace)
    config = load_config(workspace, environ={}).config
    choices = spec_choices(workspace, config.specs_dir, config.plans_dir)
    return WorkspaceSpecs(
        workspace_root=str(workspace),
        specs_dir=config.specs_dir,
        plans_dir=config.plans_dir,
        specs=[_spec_file(choice, workspace) for choice in choices],
    )


def _spec_file(choice: SpecChoice, workspace: Path) -> SpecFile:
    spec = choice.spec
    return SpecFile(
        path=workspace_relative(spec.path, workspace),
        title=spec.title,
        status=spec.status,
        last_updated=spec.last_updated,
        plan_path=workspace_relative(choice.plan_path, workspace),
        plan_exists=choice.plan_exists,
    )
