"""Run, Step, Event and Artifact as they travel over the API (SPEC 10, 12, 14).

These are the JSON shapes. Storage rows map onto them in ``agentloop.store``; the CLI and
the dashboard read the same fields from JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentloop.core.types import (
    ArtifactLocation,
    CleanupStatus,
    EventType,
    MergeStrategy,
    NameSource,
    Phase,
    RunStatus,
    StepStatus,
)


class WorktreeInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_branch: str | None = None
    run_branch: str | None = None
    merge_target_branch: str | None = None
    merge_strategy: MergeStrategy = MergeStrategy.SQUASH
    worktree_path: str | None = None
    provider: str | None = None


class Run(BaseModel):
    """A run as the API shows it. Timestamps are RFC 3339 UTC strings."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    name_source: NameSource
    status: RunStatus
    workspace_root: str
    spec_path: str
    plan_path: str
    worktree: WorktreeInfo = Field(default_factory=WorktreeInfo)
    worktree_cleanup_status: CleanupStatus | None = None
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None
    review_status: str | None = None
    pr_url: str | None = None
    merge_commit: str | None = None
    phase: Phase | None = None
    iteration: int = 0
    tasks_done: int = 0
    tasks_total: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    reason: str | None = None
    resume_at: float | None = None
    agent: str | None = None
    model: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class Step(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    run_id: str
    phase: Phase
    iteration: int
    attempt: int = 1
    status: StepStatus
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: int | None = None
    exit_code: int | None = None
    output_path: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    message: str | None = None


class Event(BaseModel):
    """The event envelope of SPEC 10; ``seq`` is a gap-free counter per run."""

    model_config = ConfigDict(frozen=True)

    id: str
    seq: int
    run_id: str
    step_id: str | None = None
    event_type: EventType
    timestamp: int
    payload: dict[str, Any] = Field(default_factory=dict)


class OutputLine(BaseModel):
    """One line of agent output as the ``/runs/{id}/output`` stream carries it."""

    model_config = ConfigDict(frozen=True)

    seq: int
    run_id: str
    step_id: str | None
    phase: Phase
    iteration: int
    line: str
    timestamp: int


class Artifact(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    run_id: str
    kind: str
    location: ArtifactLocation
    path: str
    checksum: str
    size: int
    created_at: str


class Note(BaseModel):
    """A note from the user to a run's agent (SPEC 18): delivered to its next agent step."""

    model_config = ConfigDict(frozen=True)

    id: str
    run_id: str
    text: str
    file: str | None = None
    line: int | None = None
    source: str
    created_at: str
    delivered_step_id: str | None = None
