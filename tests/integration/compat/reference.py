"""What the reference's clients (its Rust ``loopctl`` and its React dashboard) read from
loopd, written down as strict types, and how they read the streams (SPEC 20).

The facts come from the reference's source (``crates/loop-core/src/types.rs``,
``crates/loopctl/src/client.rs``, ``crates/loopd/src/handlers/review.rs``,
``apps/dashboard/src/lib/{types,api,sse}.ts``). serde's rules are mirrored: a field that is
not an ``Option`` must be present and not null; an ``Option`` may be missing or null;
strings, integers and booleans are not converted into each other; an enum is one of its
words; ``DateTime<Utc>`` is an RFC 3339 string with an offset; unknown fields are ignored.
The dashboard's TypeScript interfaces are held to the same rules for the fields its code
reads (a non-optional field must be there).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# -- scalars ---------------------------------------------------------------------------------
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(text: str) -> str:
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 date-time with an offset: {text!r}")
    datetime.fromisoformat(text.replace("z", "Z"))
    return text


DateTimeUtc = Annotated[str, AfterValidator(_rfc3339)]
U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
I32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
I64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

# -- enums (serde rename_all) -----------------------------------------------------------------
RunStatus = Literal["PENDING", "RUNNING", "PAUSED", "COMPLETED", "FAILED", "CANCELED"]
StepPhase = Literal["implementation", "review", "verification", "watchdog", "merge"]
StepStatus = Literal["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "RETRYING", "CANCELED"]
RunNameSource = Literal["spec_slug", "haiku"]
MergeStrategy = Literal["none", "merge", "squash"]
WorktreeProvider = Literal["auto", "worktrunk", "git"]
ReviewStatus = Literal["pending", "reviewed", "scrapped", "merged", "pr_created"]
FileStatus = Literal["added", "modified", "deleted", "renamed"]


class Serde(BaseModel):
    """A ``#[derive(Deserialize)]`` struct: strict types, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


# -- loop-core types ------------------------------------------------------------------------
class RunWorktree(Serde):
    base_branch: str
    run_branch: str
    merge_target_branch: str | None = None
    merge_strategy: MergeStrategy
    worktree_path: str
    provider: WorktreeProvider


class Run(Serde):
    id: str
    name: str
    name_source: RunNameSource
    status: RunStatus
    workspace_root: str
    spec_path: str
    plan_path: str | None = None
    worktree: RunWorktree | None = None
    worktree_cleanup_status: str | None = None
    worktree_cleaned_at: DateTimeUtc | None = None
    config_json: str | None = None
    created_at: DateTimeUtc
    updated_at: DateTimeUtc
    review_status: ReviewStatus
    review_action_at: DateTimeUtc | None = None
    pr_url: str | None = None
    merge_commit: str | None = None


class Step(Serde):
    id: str
    run_id: str
    phase: StepPhase
    status: StepStatus
    attempt: U32
    started_at: DateTimeUtc | None = None
    ended_at: DateTimeUtc | None = None
    exit_code: I32 | None = None
    prompt_path: str | None = None
    output_path: str | None = None


# -- loopctl's response types ------------------------------------------------------------------
class CreateRunResponse(Serde):
    run: Run


class ListRunsResponse(Serde):
    runs: list[Run]


class GetRunResponse(Serde):
    run: Run


class ListStepsResponse(Serde):
    steps: list[Step]


class WorktreeInfo(Serde):
    path: str
    branch: str | None = None
    commit: str
    run_id: str | None = None
    run_status: str | None = None


class ListWorktreesResponse(Serde):
    workspace: str
    worktrees: list[WorktreeInfo]


class ErrorResponse(Serde):
    error: str


class PostmortemResponse(Serde):
    """``POST /runs/{id}/postmortem`` as ``loopctl analyze`` reads it."""

    status: str
    artifacts: list[str] = []


class OutputEvent(Serde):
    """One ``output`` frame's data as ``loopctl tail`` reads it."""

    step_id: str
    offset: U64
    content: str


# -- the dashboard's (lib/types.ts, lib/sse.ts, lib/api.ts) ---------------------------------------
class RunEvent(Serde):
    """An events frame's data: the dashboard dedupes by ``id`` and resumes by ``timestamp``."""

    id: str
    run_id: str
    step_id: str | None = None
    event_type: str
    timestamp: I64
    payload: dict[str, Any]


class OutputChunk(Serde):
    step_id: str
    offset: U64
    content: str


class DashboardStep(Serde):
    """What ``normalizeStep`` reads: ``phase``/``status`` (lowercased), ``attempt``, and
    ``completed_at ?? ended_at``."""

    id: str
    run_id: str
    phase: str
    status: str
    attempt: U32
    started_at: DateTimeUtc | None = None
    ended_at: DateTimeUtc | None = None
    output_path: str | None = None
    exit_code: I32 | None = None


class DiffStats(Serde):
    additions: U32
    deletions: U32
    files_changed: U32 | None = None


class DiffFile(Serde):
    path: str
    status: FileStatus
    old_path: str | None = None
    patch: str
    additions: U32
    deletions: U32


class DiffCommit(Serde):
    sha: str
    message: str
    author: str
    timestamp: DateTimeUtc
    files: list[DiffFile]
    stats: DiffStats


class RunDiff(Serde):
    base_ref: str
    head_ref: str
    commits: list[DiffCommit]
    files: list[DiffFile]
    stats: DiffStats


class MergeResponse(Serde):
    commit: str


class CreatePrResponse(Serde):
    url: str


class PostmortemArtifact(Serde):
    path: str
    exists: bool


class GetPostmortemResponse(Serde):
    analysis_dir: str
    artifacts: list[PostmortemArtifact]


# -- the reference loopctl's request --------------------------------------------------------------
def create_run_request(**fields: Any) -> dict[str, Any]:
    """``POST /runs`` as the reference loopctl serializes it: ``None`` fields left out
    (``skip_serializing_if``), ``config_override`` a config file path, and
    ``worktrunk_copy_ignored`` only when true."""
    if fields.get("worktrunk_copy_ignored") is False:
        fields["worktrunk_copy_ignored"] = None
    return {key: value for key, value in fields.items() if value is not None}


# -- how the reference loopctl reads `tail` ------------------------------------------------------
def loopctl_tail(chunks: Iterable[bytes]) -> list[OutputEvent]:
    """The frames ``loopctl tail`` prints, read as it reads them: each network chunk decoded
    on its own, frames cut at the first ``"\\n\\n"``, ``event:``/``data:`` values trimmed,
    only ``output`` events, a frame whose data does not decode silently dropped; what is
    left in the buffer at the end is read as one more frame."""
    printed: list[OutputEvent] = []
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode("utf-8", errors="replace")
        while (end := buffer.find("\n\n")) >= 0:
            frame, buffer = buffer[:end], buffer[end + 2 :]
            _parse_output(frame, printed)
    if buffer:
        _parse_output(buffer, printed)
    return printed


def _parse_output(frame: str, printed: list[OutputEvent]) -> None:
    event = data = None
    for line in _rust_lines(frame):
        if line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data = line[len("data:") :].strip()
    if event == "output" and data is not None:
        with contextlib.suppress(ValueError):
            printed.append(OutputEvent.model_validate_json(data))


def _rust_lines(text: str) -> list[str]:
    """``str::lines``: split at ``\\n``, one trailing ``\\r`` dropped from each line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# -- how the dashboard reads its streams (a browser EventSource) --------------------------------
INITIAL_BACKOFF_MS = 1000
MAX_BACKOFF_MS = 30000
BACKOFF_MULTIPLIER = 2
EVENT_NAMES = (
    "RUN_CREATED", "RUN_STARTED", "STEP_STARTED", "STEP_FINISHED", "WATCHDOG_REWRITE",
    "RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELED", "WORKTREE_PROVIDER_SELECTED",
    "WORKTREE_CREATED", "WORKTREE_REMOVED", "POSTMORTEM_START", "POSTMORTEM_END",
    "SKILLS_TRUNCATED", "SKILLS_DISCOVERED", "SKILLS_SELECTED", "message",
)  # fmt: skip
OUTPUT_NAMES = ("output", "OUTPUT", "OUTPUT_CHUNK", "message")


@dataclass(frozen=True)
class Message:
    event: str
    data: str
    last_event_id: str


def event_source(body: bytes) -> list[Message]:
    """The messages a browser's EventSource dispatches for ``body`` (the HTML standard's
    parsing: CR, LF or CRLF end a line; a blank line dispatches; ``event`` defaults to
    ``message``; data lines are joined with ``\\n``)."""
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    messages: list[Message] = []
    event, data, last_id = "", [], ""
    for line in re.split(r"\r\n|\r|\n", text):
        if line == "":
            if data:
                messages.append(Message(event or "message", "\n".join(data), last_id))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
    return messages


@dataclass
class EventStream:
    """``RunEventStream``'s bookkeeping: events seen by ``id``, the newest ``timestamp``
    (sent as ``?after=`` when it reconnects), the backoff before reconnecting."""

    seen: set[str] = field(default_factory=set)
    received: list[RunEvent] = field(default_factory=list)
    last_timestamp: int = 0
    backoff_ms: int = INITIAL_BACKOFF_MS

    def query(self) -> dict[str, str]:
        return {"after": str(self.last_timestamp)} if self.last_timestamp > 0 else {}

    def take(self, messages: Iterable[Message]) -> None:
        for message in messages:
            if message.event not in EVENT_NAMES:
                continue
            event = RunEvent.model_validate_json(message.data)
            if event.id in self.seen:
                continue
            self.seen.add(event.id)
            self.last_timestamp = max(self.last_timestamp, event.timestamp)
            self.received.append(event)

    def failed(self) -> int:
        """The wait before the next attempt; the one after it doubles, up to the cap."""
        wait = self.backoff_ms
        self.backoff_ms = min(self.backoff_ms * BACKOFF_MULTIPLIER, MAX_BACKOFF_MS)
        return wait


@dataclass
class OutputStream:
    """``RunOutputStream``'s bookkeeping: ``?offset=`` is the largest ``offset +
    content.length`` seen (a JavaScript length: UTF-16 code units)."""

    received: list[OutputChunk] = field(default_factory=list)
    last_offset: int = 0

    def query(self) -> dict[str, str]:
        return {"offset": str(self.last_offset)} if self.last_offset > 0 else {}

    def take(self, messages: Iterable[Message]) -> None:
        for message in messages:
            if message.event not in OUTPUT_NAMES:
                continue
            chunk = OutputChunk.model_validate_json(message.data)
            self.last_offset = max(self.last_offset, chunk.offset + js_length(chunk.content))
            self.received.append(chunk)


def js_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def data_of(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in messages]
