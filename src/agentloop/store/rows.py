"""Map database rows onto the API models of ``core.models``, and back for a few values.

Rows hold epoch milliseconds; the API shows RFC 3339 UTC strings. Text bound for the
database is sanitised once here: PostgreSQL refuses NUL characters and lone surrogates
(from undecodable agent output) in text columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentloop.core.clock import ms_to_rfc3339
from agentloop.core.models import Artifact, Event, Note, OutputLine, Run, Step, WorktreeInfo
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

Row = Mapping[Any, Any]  # sqlalchemy RowMapping


def _opt_time(ms: int | None) -> str | None:
    return None if ms is None else ms_to_rfc3339(ms)


def clean_text(text: str) -> str:
    """``text`` as PostgreSQL accepts it: NULs and lone surrogates become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def clean_json(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with every string passed through :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


def run_from_row(row: Row) -> Run:
    return Run(
        id=row["id"],
        name=row["name"],
        name_source=NameSource(row["name_source"]),
        status=RunStatus(row["status"]),
        workspace_root=row["workspace_root"],
        spec_path=row["spec_path"],
        plan_path=row["plan_path"],
        worktree=WorktreeInfo(
            base_branch=row["base_branch"],
            run_branch=row["run_branch"],
            merge_target_branch=row["merge_target_branch"],
            merge_strategy=MergeStrategy(row["merge_strategy"] or MergeStrategy.SQUASH),
            worktree_path=row["worktree_path"],
            provider=row["worktree_provider"],
        ),
        worktree_cleanup_status=(
            CleanupStatus(row["worktree_cleanup_status"])
            if row["worktree_cleanup_status"]
            else None
        ),
        created_at=ms_to_rfc3339(row["created_at"]),
        updated_at=ms_to_rfc3339(row["updated_at"]),
        started_at=_opt_time(row["started_at"]),
        finished_at=_opt_time(row["finished_at"]),
        review_status=row["review_status"],
        pr_url=row["pr_url"],
        merge_commit=row["merge_commit"],
        phase=Phase(row["phase"]) if row["phase"] else None,
        iteration=row["iteration"],
        tasks_done=row["tasks_done"],
        tasks_total=row["tasks_total"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        cost_usd=row["cost_usd"],
        reason=row["reason"],
        resume_at=row["resume_at"],
        agent=row["agent"],
        model=row["model"],
        config=row["config"] or {},
    )


def step_from_row(row: Row) -> Step:
    return Step(
        id=row["id"],
        run_id=row["run_id"],
        phase=Phase(row["phase"]),
        iteration=row["iteration"],
        attempt=row["attempt"],
        status=StepStatus(row["status"]),
        started_at=_opt_time(row["started_at"]),
        finished_at=_opt_time(row["finished_at"]),
        duration_ms=row["duration_ms"],
        exit_code=row["exit_code"],
        output_path=row["output_path"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        cost_usd=row["cost_usd"],
        message=row["message"],
        session_id=row.get("session_id"),
    )


def event_from_row(row: Row) -> Event:
    return Event(
        id=row["id"],
        seq=row["seq"],
        run_id=row["run_id"],
        step_id=row["step_id"],
        event_type=EventType(row["event_type"]),
        timestamp=row["timestamp"],
        payload=row["payload"] or {},
    )


def output_from_row(row: Row) -> OutputLine:
    return OutputLine(
        seq=row["seq"],
        run_id=row["run_id"],
        step_id=row["step_id"],
        phase=Phase(row["phase"]),
        iteration=row["iteration"],
        line=row["line"],
        timestamp=row["timestamp"],
    )


def artifact_from_row(row: Row) -> Artifact:
    return Artifact(
        id=row["id"],
        run_id=row["run_id"],
        kind=row["kind"],
        location=ArtifactLocation(row["location"]),
        path=row["path"],
        checksum=row["checksum"],
        size=row["size"],
        created_at=ms_to_rfc3339(row["created_at"]),
    )


def note_from_row(row: Row) -> Note:
    return Note(
        id=row["id"],
        run_id=row["run_id"],
        text=row["text"],
        file=row["file"],
        line=row["line"],
        source=row["source"],
        created_at=ms_to_rfc3339(row["created_at"]),
        delivered_step_id=row["delivered_step_id"],
    )
