"""Request and response bodies of the HTTP API (SPEC 14)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentloop.core.models import Artifact, Run, Step
from agentloop.core.types import MergeStrategy, NameSource, WorktreeProviderName

ConfigValue = str | int | float | bool | list[str] | None


class CreateRun(BaseModel):
    """`POST /runs`. Config keys may also be given at the top level (they act like
    `config_override` entries); anything else unknown is refused."""

    model_config = ConfigDict(extra="allow")

    spec_path: str = Field(min_length=1)
    workspace_root: str = Field(min_length=1)
    plan_path: str | None = None
    config_override: dict[str, ConfigValue] | None = None
    config_path: str | None = None
    name: str | None = None
    name_source: NameSource | None = None
    base_branch: str | None = None
    run_branch_prefix: str | None = None
    merge_target_branch: str | None = None
    merge_strategy: MergeStrategy | None = None
    worktree_path_template: str | None = None
    worktree_provider: WorktreeProviderName | None = None

    @field_validator("spec_path", "workspace_root", "plan_path", "config_path")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL bytes")
        return value

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RunEnvelope(BaseModel):
    run: Run


class RunList(BaseModel):
    runs: list[Run]
    total: int


class StepList(BaseModel):
    steps: list[Step]


class ArtifactList(BaseModel):
    artifacts: list[Artifact]


class Health(BaseModel):
    status: str
    version: str
    uptime_s: float
    runs_active: int
    caps: dict[str, Any]
    executor_id: str


class ErrorBody(BaseModel):
    error: str


class DiffCommit(BaseModel):
    sha: str
    subject: str
    author: str
    timestamp: int


class DiffFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    path: str
    status: str
    additions: int | None = None
    deletions: int | None = None
    patch: str = ""


class RunDiff(BaseModel):
    model_config = ConfigDict(extra="allow")

    base: str
    branch: str
    commits: list[DiffCommit]
    files: list[DiffFile]


class Worktrees(BaseModel):
    worktrees: list[dict[str, Any]]


class RemovedWorktrees(BaseModel):
    removed: list[dict[str, Any]]
    kept: list[dict[str, Any]]
