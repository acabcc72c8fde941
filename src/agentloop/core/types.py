"""Enums of the domain with their JSON spellings (run status UPPERCASE, phases lowercase)."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_RUN_STATUSES


TERMINAL_RUN_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})


class StepStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    CANCELED = "CANCELED"


class Phase(StrEnum):
    IMPLEMENTATION = "implementation"
    REVIEW = "review"
    VERIFICATION = "verification"
    WATCHDOG = "watchdog"
    MERGE = "merge"
    POSTMORTEM = "postmortem"


class CompletionMode(StrEnum):
    TRAILING = "trailing"
    EXACT = "exact"


class ArtifactLocation(StrEnum):
    WORKSPACE = "workspace"
    GLOBAL = "global"


class ArtifactMode(StrEnum):
    MIRROR = "mirror"
    WORKSPACE = "workspace"
    GLOBAL = "global"


class MergeStrategy(StrEnum):
    SQUASH = "squash"
    MERGE = "merge"
    NONE = "none"


class WorktreeProviderName(StrEnum):
    AUTO = "auto"
    GIT = "git"
    WORKTRUNK = "worktrunk"


class QueuePolicy(StrEnum):
    FIFO = "fifo"
    NEWEST_FIRST = "newest_first"


class RunMode(StrEnum):
    """``plan``: carry a plan to completion; ``experiment``: keep only what improves a
    metric (SPEC 19)."""

    PLAN = "plan"
    EXPERIMENT = "experiment"


class NotifyFormat(StrEnum):
    """The body of a notify_webhook POST: our JSON, a Slack incoming webhook, an ntfy topic."""

    JSON = "json"
    SLACK = "slack"
    NTFY = "ntfy"


class MetricGoal(StrEnum):
    MAX = "max"
    MIN = "min"


class NamingMode(StrEnum):
    HAIKU = "haiku"
    SPEC_SLUG = "spec_slug"


class NameSource(StrEnum):
    HAIKU = "haiku"
    SPEC_SLUG = "spec_slug"
    USER = "user"


class CleanupStatus(StrEnum):
    CLEANED = "cleaned"
    FAILED = "failed"
    SKIPPED = "skipped"
    DEFERRED = "deferred"


class AgentName(StrEnum):
    CLAUDE = "claude"
    CODEX = "codex"
    GEMINI = "gemini"
    OPENCODE = "opencode"
    COMMAND = "command"
    SCRIPTED = "scripted"


class EventType(StrEnum):
    RUN_CREATED = "RUN_CREATED"
    RUN_STARTED = "RUN_STARTED"
    WORKTREE_PROVIDER_SELECTED = "WORKTREE_PROVIDER_SELECTED"
    WORKTREE_CREATED = "WORKTREE_CREATED"
    STEP_STARTED = "STEP_STARTED"
    STEP_FINISHED = "STEP_FINISHED"
    AGENT_RETRY = "AGENT_RETRY"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    WATCHDOG_SIGNAL = "WATCHDOG_SIGNAL"
    AGENT_HOLD = "AGENT_HOLD"
    WATCHDOG_REWRITE = "WATCHDOG_REWRITE"
    WATCHDOG_ESCALATED = "WATCHDOG_ESCALATED"
    MEASUREMENT = "MEASUREMENT"
    NOTE_ADDED = "NOTE_ADDED"
    NOTE_DELIVERED = "NOTE_DELIVERED"
    RUN_PAUSED = "RUN_PAUSED"
    RUN_RESUMED = "RUN_RESUMED"
    MERGE_COMPLETED = "MERGE_COMPLETED"
    RUN_COMPLETED = "RUN_COMPLETED"
    RUN_FAILED = "RUN_FAILED"
    RUN_CANCELED = "RUN_CANCELED"
    WORKTREE_REMOVED = "WORKTREE_REMOVED"
    POSTMORTEM_START = "POSTMORTEM_START"
    POSTMORTEM_END = "POSTMORTEM_END"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_EVENTS


TERMINAL_EVENTS = frozenset({EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELED})


class WatchdogSignal(StrEnum):
    NO_PROGRESS = "no_progress"
    REPEATED_TASK = "repeated_task"
    VERIFICATION_FAILED = "verification_failed"
    MALFORMED_COMPLETE = "malformed_complete"
    FALSE_COMPLETE = "false_complete"
    WORKTREE_ESCAPE = "worktree_escape"
    CIRCULAR_DIFF = "circular_diff"


class WatchdogExhausted(StrEnum):
    """What the watchdog does when rewrites and fallback agents are used up (SPEC 6)."""

    PAUSE = "pause"
    FAIL = "fail"
