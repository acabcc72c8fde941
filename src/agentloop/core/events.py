"""Event payloads (SPEC 10): one model per event type, and the one way to build a payload.

Each model declares the SPEC's fields of its type (required; a field that may be null is
still required, so nobody forgets it) and a few optional extras. Other extra fields are
allowed and passed through as given; extras left at None are dropped from the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from agentloop.core.errors import EventPayloadError
from agentloop.core.types import (
    AgentName,
    EventType,
    MergeStrategy,
    NameSource,
    Phase,
    WatchdogSignal,
    WorktreeProviderName,
)

Count = Annotated[int, Field(ge=0)]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        fields = type(self).model_fields
        return {
            key: value
            for key, value in data.items()
            if value is not None or (key in fields and fields[key].is_required())
        }


class RunCreated(Payload):
    name: str
    name_source: NameSource
    spec_path: str
    plan_path: str


class RunStarted(Payload):
    worker_id: str


class WorktreeProviderSelected(Payload):
    provider: WorktreeProviderName


class WorktreeCreated(Payload):
    provider: WorktreeProviderName
    worktree_path: str
    run_branch: str


class StepStarted(Payload):
    step_id: str
    phase: Phase
    attempt: int = Field(ge=1)
    iteration: Count
    agent: str | None = None
    model: str | None = None
    # agent steps (SPEC 18): the agent's session this attempt resumes, null when it starts
    # afresh; always present when given, absent from other phases' steps
    resumed_session: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if "resumed_session" in self.model_fields_set:
            data["resumed_session"] = self.resumed_session
        return data


class StepFinished(Payload):
    step_id: str
    phase: Phase
    exit_code: int | None
    duration_ms: Count
    output_path: str | None
    tokens_in: Count = 0
    tokens_out: Count = 0
    cost_usd: float | None = Field(ge=0)  # None: the agent reported no cost (or no agent)
    status: str | None = None
    message: str | None = None
    tasks_done: Count | None = None  # the plan's counts as the step left them
    tasks_total: Count | None = None


class AgentRetry(Payload):
    attempt: int = Field(ge=1)
    reason: str
    backoff_ms: Count
    agent: str | None = None


class VerificationFailed(Payload):
    command: str
    exit_code: int | None
    output_path: str | None = None


class WatchdogSignalRaised(Payload):
    signal: WatchdogSignal
    detail: str
    paths: list[str] | None = None


class AgentHold(Payload):
    agent: AgentName
    resume_at: float


class WatchdogRewrite(Payload):
    signal: WatchdogSignal
    prompt_before: str
    prompt_after: str


class Measurement(Payload):
    """One measurement of an experiment run (iteration 0: the baseline)."""

    iteration: Count
    metric: str
    value: float | None
    best: float | None
    kept: bool
    reason: str
    commit: str | None


class NoteAdded(Payload):
    note_id: str
    text: str
    file: str | None
    line: int | None
    source: str


class NoteDelivered(Payload):
    note_id: str
    step_id: str


class WatchdogEscalated(Payload):
    signal: WatchdogSignal
    to_agent: AgentName


class RunPaused(Payload):
    reason: str | None = None
    resume_at: float | None = None
    agent: AgentName | None = None
    signals: list[dict[str, str]] | None = None


class RunResumed(Payload):
    reason: str | None = None


class MergeCompleted(Payload):
    target: str
    strategy: MergeStrategy
    commit: str


class RunCompleted(Payload):
    mode: str


class RunFailed(Payload):
    reason: str
    detail: str | None = None


class RunCanceled(Payload):
    reason: str | None = None


class WorktreeRemoved(Payload):
    worktree_path: str | None = None
    status: str | None = None


class PostmortemStart(Payload):
    pass


class PostmortemEnd(Payload):
    status: str | None = None
    reason: str | None = None


PAYLOADS: Mapping[EventType, type[Payload]] = {
    EventType.RUN_CREATED: RunCreated,
    EventType.RUN_STARTED: RunStarted,
    EventType.WORKTREE_PROVIDER_SELECTED: WorktreeProviderSelected,
    EventType.WORKTREE_CREATED: WorktreeCreated,
    EventType.STEP_STARTED: StepStarted,
    EventType.STEP_FINISHED: StepFinished,
    EventType.AGENT_RETRY: AgentRetry,
    EventType.VERIFICATION_FAILED: VerificationFailed,
    EventType.WATCHDOG_SIGNAL: WatchdogSignalRaised,
    EventType.AGENT_HOLD: AgentHold,
    EventType.WATCHDOG_REWRITE: WatchdogRewrite,
    EventType.WATCHDOG_ESCALATED: WatchdogEscalated,
    EventType.MEASUREMENT: Measurement,
    EventType.NOTE_ADDED: NoteAdded,
    EventType.NOTE_DELIVERED: NoteDelivered,
    EventType.RUN_PAUSED: RunPaused,
    EventType.RUN_RESUMED: RunResumed,
    EventType.MERGE_COMPLETED: MergeCompleted,
    EventType.RUN_COMPLETED: RunCompleted,
    EventType.RUN_FAILED: RunFailed,
    EventType.RUN_CANCELED: RunCanceled,
    EventType.WORKTREE_REMOVED: WorktreeRemoved,
    EventType.POSTMORTEM_START: PostmortemStart,
    EventType.POSTMORTEM_END: PostmortemEnd,
}


def parse_payload(event_type: EventType | str, payload: Mapping[str, Any]) -> Payload:
    """The typed payload of an event; :class:`EventPayloadError` when it does not fit."""
    try:
        kind = EventType(event_type)
    except ValueError:
        raise EventPayloadError(f"unknown event type {event_type!r}", str(event_type)) from None
    try:
        return PAYLOADS[kind].model_validate(dict(payload))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'payload'}: {error['msg']}"
            for error in exc.errors()
        )
        raise EventPayloadError(f"bad {kind.value} payload: {problems}", kind.value) from None


def payload_for(event_type: EventType | str, **fields: Any) -> dict[str, Any]:
    """The validated JSON payload of an event of ``event_type`` made of ``fields``."""
    payload = parse_payload(event_type, fields)
    try:
        return payload.to_json()
    except PydanticSerializationError as exc:
        raise EventPayloadError(
            f"{EventType(event_type).value} payload is not JSON-safe: {exc}", str(event_type)
        ) from None
