"""Request and response bodies of the HTTP API (SPEC 14)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentloop.core.models import Artifact, Run, Step
from agentloop.core.run_request import RunRequest
from agentloop.core.types import MergeStrategy, NameSource, WorktreeProviderName

ConfigValue = str | int | float | bool | list[str] | None
_TOP_LEVEL_CONFIG = (
    "base_branch",
    "run_branch_prefix",
    "merge_target_branch",
    "merge_strategy",
    "worktree_path_template",
    "worktree_provider",
)


class CreateRun(BaseModel):
    """`POST /runs`. Config keys may also be given at the top level (they act like
    `config_override` entries); anything else unknown is refused. A string
    ``config_override`` is a config file path, as the reference's loopctl sends it: it is
    read as ``config_path`` (SPEC 20)."""

    model_config = ConfigDict(extra="allow")

    spec_path: str = Field(min_length=1)
    workspace_root: str = Field(min_length=1)
    plan_path: str | None = None
    config_override: dict[str, ConfigValue] | str | None = None
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

    @model_validator(mode="after")
    def _config_file_override(self) -> CreateRun:
        if isinstance(self.config_override, str):
            if self.config_path is not None:
                raise ValueError("config_override as a path and config_path: give one")
            self.config_path, self.config_override = self.config_override, None
            self.config_path = self._no_nul(self.config_path)
        return self

    def override_map(self) -> dict[str, ConfigValue]:
        """``config_override`` as key/value pairs (a path was moved to ``config_path``)."""
        return self.config_override if isinstance(self.config_override, dict) else {}

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def run_request(self) -> RunRequest:
        """This body as admission takes it: the top-level config fields given join
        ``config_override`` (and win over it)."""
        overrides: dict[str, Any] = dict(self.override_map())
        for key in _TOP_LEVEL_CONFIG:
            value = getattr(self, key)
            if value is not None:
                overrides[key] = value.value if hasattr(value, "value") else value
        return RunRequest(
            workspace_root=self.workspace_root,
            spec_path=self.spec_path,
            plan_path=self.plan_path,
            config_path=self.config_path,
            name=self.name,
            name_source=self.name_source,
            overrides=overrides,
            extra_fields=self.extra_fields(),
        )


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


class DiffStats(BaseModel):
    files_changed: int
    additions: int
    deletions: int


class DiffFile(BaseModel):
    """``status`` is the reference's word (added, modified, deleted, renamed);
    ``status_letter`` ours (A, M, D, R)."""

    model_config = ConfigDict(extra="allow")

    path: str
    status: str
    status_letter: str | None = None
    additions: int | None = None
    deletions: int | None = None
    patch: str = ""


class DiffCommit(BaseModel):
    """``timestamp`` is the author date in RFC 3339, ``timestamp_s`` the same in epoch
    seconds; ``message`` is the subject line (the reference's name)."""

    sha: str
    subject: str
    message: str
    author: str
    timestamp: str
    timestamp_s: int
    files: list[DiffFile] = []
    stats: DiffStats


class RunDiff(BaseModel):
    """Ours: ``base``, ``branch``, ``merge_base``, ``head``, ``additions``, ``deletions``;
    the reference's beside them: ``base_ref``, ``head_ref``, ``stats``."""

    model_config = ConfigDict(extra="allow")

    base: str
    branch: str
    base_ref: str
    head_ref: str
    commits: list[DiffCommit]
    files: list[DiffFile]
    stats: DiffStats


class Worktrees(BaseModel):
    """``workspace`` is the one asked for (``?workspace=``), else null."""

    workspace: str | None = None
    worktrees: list[dict[str, Any]]


class RemovedWorktrees(BaseModel):
    removed: list[dict[str, Any]]
    kept: list[dict[str, Any]]
