"""The values callers hand to the store to change something: events, step changes, lines.

Plain frozen dataclasses, so the engine can build them inside a DBOS step and the store
applies them in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from agentloop.core.types import EventType, Phase, RunStatus, StepStatus


@dataclass(frozen=True)
class Increment:
    """A run-change value meaning "add this to the column" (``tokens_in``, counters...)."""

    by: int | float


@dataclass(frozen=True)
class StepChange:
    """Insert or update one step row, in the transaction of the event that carries it.

    The step is found by ``id``, else by ``key`` (the idempotency key, e.g.
    ``"<workflow id>:<function id>"``, unique per run): a step re-run after a crash updates
    its row instead of adding one. When neither finds a row, a step is inserted, which needs
    ``phase``, ``iteration`` and ``status`` (its id is ``id`` or a new UUIDv7).
    Fields left ``None`` are unchanged on update; name a field in ``clear`` to set it NULL.
    """

    id: str | None = None
    key: str | None = None
    phase: Phase | None = None
    iteration: int | None = None
    attempt: int | None = None
    status: StepStatus | None = None
    started_at: int | None = None
    finished_at: int | None = None
    duration_ms: int | None = None
    exit_code: int | None = None
    output_path: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    message: str | None = None
    pgid: int | None = None
    proc_start_time: float | None = None
    clear: frozenset[str] = frozenset()

    FIELDS = (
        "phase", "iteration", "attempt", "status", "started_at", "finished_at", "duration_ms",
        "exit_code", "output_path", "tokens_in", "tokens_out", "cost_usd", "message", "pgid",
        "proc_start_time",
    )  # fmt: skip

    def values(self) -> dict[str, Any]:
        """The column values this change sets (``None`` for the cleared ones)."""
        unknown = self.clear - set(self.FIELDS)
        if unknown:
            raise ValueError(f"cannot clear unknown step fields {sorted(unknown)}")
        values = {name: getattr(self, name) for name in self.FIELDS}
        changed = {name: value for name, value in values.items() if value is not None}
        changed.update(dict.fromkeys(self.clear))
        return changed


@dataclass(frozen=True)
class NewEvent:
    """One event to append, with the projection changes that go with it.

    ``key`` makes the append idempotent: if the run already has an event with this key, the
    store returns it and changes nothing. ``run_changes`` maps ``loopd_runs`` columns to
    values (or :class:`Increment`). ``expect_status`` guards a transition: the store raises
    ``Conflict`` (with the current status) when the run's status is not one of them.
    ``expect_epoch`` fences a write to the attempt it belongs to: the store raises
    ``Conflict`` when the epoch in the run's engine state (``state["epoch"]``, which a
    pause, retry or reset bumps) is no longer this one.
    """

    event_type: EventType
    payload: Mapping[str, Any] = field(default_factory=dict)
    step_id: str | None = None
    key: str | None = None
    run_changes: Mapping[str, Any] | None = None
    step: StepChange | Mapping[str, Any] | None = None
    expect_status: Collection[RunStatus] | None = None
    timestamp: int | None = None
    expect_epoch: int | None = None


class NewOutputLine(NamedTuple):
    """One line of agent output to append: ``(step_id, phase, iteration, line, timestamp)``."""

    step_id: str | None
    phase: Phase
    iteration: int
    line: str
    timestamp: int
