"""Run, Step, Event and Artifact as they travel over the API (SPEC 10, 12, 14).

These are the JSON shapes. Storage rows map onto them in ``agentloop.store``; the CLI and
the dashboard read the same fields from JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
)

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

    @property
    def is_set_up(self) -> bool:
        """Whether the run's worktree was set up (branch, path and provider chosen)."""
        return bool(self.base_branch and self.run_branch and self.worktree_path and self.provider)


REVIEW_PENDING = "pending"
_REVIEW_WORDS = {"pr_opened": "pr_created"}  # the word stored before SPEC 20


class Run(BaseModel):
    """A run as the API shows it. Timestamps are RFC 3339 UTC strings.

    In JSON (SPEC 20, the shapes the reference's clients decode): ``worktree`` is null until
    the worktree is set up; ``review_status`` is ``pending`` until a review action; a name
    the user gave has ``name_source`` ``spec_slug`` and ``name_given`` true (``user`` is
    kept in storage and in this model)."""

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
    review_status: str = REVIEW_PENDING
    pr_url: str | None = None
    merge_commit: str | None = None
    phase: Phase | None = None
    iteration: int = 0
    tasks_done: int = 0
    tasks_total: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None: no agent step reported a cost
    reason: str | None = None
    resume_at: float | None = None
    agent: str | None = None
    model: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_json(cls, data: Any) -> Any:
        """Read back what the JSON shape says (null worktree, ``name_given``)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("worktree") is None:
            data.pop("worktree", None)
        if data.pop("name_given", False) and data.get("name_source") == NameSource.SPEC_SLUG:
            data["name_source"] = NameSource.USER
        return data

    @field_validator("review_status", mode="before")
    @classmethod
    def _review_word(cls, value: Any) -> Any:
        return REVIEW_PENDING if value is None else _REVIEW_WORDS.get(value, value)

    @field_serializer("worktree")
    def _worktree(self, worktree: WorktreeInfo) -> WorktreeInfo | None:
        return worktree if worktree.is_set_up else None

    @field_serializer("name_source")
    def _name_source(self, source: NameSource) -> str:
        return NameSource.SPEC_SLUG.value if source is NameSource.USER else source.value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name_given(self) -> bool:
        """The name came with the request (``loopctl run --name``), not from naming."""
        return self.name_source is NameSource.USER


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
    cost_usd: float | None = None  # None: the step's agent reported no cost
    message: str | None = None
    session_id: str | None = None  # the agent CLI's own session, when it reported one

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ended_at(self) -> str | None:
        """``finished_at`` under the reference's name (SPEC 20)."""
        return self.finished_at


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
