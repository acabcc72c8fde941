"""SQL on ``loopd_runs``: insert, read, list, and the projection updates events carry.

Functions take an open ``Connection``; the :class:`~agentloop.store.Store` facade owns the
transactions. Run changes name ``loopd_runs`` columns; a value may be an
:class:`~agentloop.store.changes.Increment`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from agentloop.core.errors import Conflict, NotFound
from agentloop.core.models import Run
from agentloop.core.types import RunStatus
from agentloop.store.changes import Increment
from agentloop.store.rows import clean_json, run_from_row
from agentloop.store.schema import RUN_COLUMNS, runs

# Columns only the store itself writes.
_PROTECTED = frozenset({"id", "last_seq", "last_output_seq", "created_at"})
CHANGEABLE_RUN_COLUMNS = RUN_COLUMNS - _PROTECTED


@dataclass(frozen=True)
class RunCounters:
    """Engine bookkeeping of a run that the API does not show (``state`` is its JSON)."""

    run_id: str
    status: RunStatus
    consecutive_verification_failures: int
    consecutive_review_failures: int
    rewrites_used: int
    state: dict[str, Any]
    last_seq: int
    last_output_seq: int


def insert_run(conn: sa.Connection, values: Mapping[str, Any]) -> None:
    conn.execute(sa.insert(runs).values(**values))


def run_row(conn: sa.Connection, run_id: str, *, for_update: bool = False) -> sa.RowMapping:
    query = sa.select(runs).where(runs.c.id == run_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"run {run_id!r} not found", run_id=run_id)
    return row


def get_run(conn: sa.Connection, run_id: str) -> Run:
    return run_from_row(run_row(conn, run_id))


def get_run_counters(conn: sa.Connection, run_id: str) -> RunCounters:
    row = run_row(conn, run_id)
    return RunCounters(
        run_id=row["id"],
        status=RunStatus(row["status"]),
        consecutive_verification_failures=row["consecutive_verification_failures"],
        consecutive_review_failures=row["consecutive_review_failures"],
        rewrites_used=row["rewrites_used"],
        state=dict(row["state"] or {}),
        last_seq=row["last_seq"],
        last_output_seq=row["last_output_seq"],
    )


def find_runs(conn: sa.Connection, ref: str, limit: int = 20) -> list[Run]:
    """Runs whose id is ``ref``, else whose id starts with it or whose name equals it."""
    exact = conn.execute(sa.select(runs).where(runs.c.id == ref)).mappings().first()
    if exact is not None:
        return [run_from_row(exact)]
    if not ref:
        return []
    query = (
        sa.select(runs)
        .where(sa.or_(runs.c.id.startswith(ref, autoescape=True), runs.c.name == ref))
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    return [run_from_row(row) for row in conn.execute(query).mappings()]


def _status_filter(status: RunStatus | str | Collection[RunStatus | str] | None) -> list[str]:
    if status is None:
        return []
    if isinstance(status, str):
        return [RunStatus(status).value]
    return [RunStatus(item).value for item in status]


def list_runs(
    conn: sa.Connection,
    *,
    workspace_root: str | None,
    status: RunStatus | str | Collection[RunStatus | str] | None,
    limit: int,
    offset: int,
) -> tuple[list[Run], int]:
    conditions: list[sa.ColumnElement[bool]] = []
    if workspace_root is not None:
        conditions.append(runs.c.workspace_root == workspace_root)
    statuses = _status_filter(status)
    if statuses:
        conditions.append(runs.c.status.in_(statuses))
    total = conn.execute(sa.select(sa.func.count()).select_from(runs).where(*conditions))
    query = (
        sa.select(runs)
        .where(*conditions)
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(max(0, limit))
        .offset(max(0, offset))
    )
    page = [run_from_row(row) for row in conn.execute(query).mappings()]
    return page, int(total.scalar_one())


def runs_by_status(
    conn: sa.Connection, statuses: Sequence[RunStatus | str], workspace_root: str | None
) -> list[Run]:
    """Runs in any of ``statuses``, oldest first (the order a FIFO scheduler wants)."""
    query = sa.select(runs).where(runs.c.status.in_(_status_filter(statuses)))
    if workspace_root is not None:
        query = query.where(runs.c.workspace_root == workspace_root)
    query = query.order_by(runs.c.created_at, runs.c.id)
    return [run_from_row(row) for row in conn.execute(query).mappings()]


def count_by_status(conn: sa.Connection) -> dict[RunStatus, int]:
    query = sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)
    counts = dict.fromkeys(RunStatus, 0)
    for status, count in conn.execute(query):
        counts[RunStatus(status)] = int(count)
    return counts


def change_values(changes: Mapping[str, Any] | None, now: int) -> dict[str, Any]:
    """Column values (or SQL expressions) for an UPDATE of ``loopd_runs``."""
    values: dict[str, Any] = {}
    for column, value in (changes or {}).items():
        if column not in CHANGEABLE_RUN_COLUMNS:
            raise ValueError(f"{column!r} is not a run column the engine may change")
        if isinstance(value, Increment):
            values[column] = runs.c[column] + value.by
        elif column in ("config", "state"):
            values[column] = clean_json(dict(value))
        else:
            values[column] = value
    values.setdefault("updated_at", now)
    return values


def check_status(run_id: str, current: str, expect: Collection[RunStatus] | None) -> None:
    if expect is not None and RunStatus(current) not in expect:
        allowed = "/".join(sorted(str(status) for status in expect))
        raise Conflict(
            f"run {run_id} is {current}, not {allowed}", current_status=RunStatus(current).value
        )


# The run's status and the attempt it is at (the epoch in its engine state, 0 before the
# first bump), its row locked: what a write checks before it goes in.
_LOCK_RUN = (
    sa.select(runs.c.status, sa.func.coalesce(runs.c.state["epoch"].as_integer(), 0).label("epoch"))
    .where(runs.c.id == sa.bindparam("b_run_id"))
    .with_for_update()
)


class LockedRun(NamedTuple):
    status: str
    epoch: int


def lock_run(conn: sa.Connection, run_id: str) -> LockedRun:
    """Lock the run's row for the write that follows; its status and attempt."""
    row = conn.execute(_LOCK_RUN, {"b_run_id": run_id}).first()
    if row is None:
        raise NotFound(f"run {run_id!r} not found", run_id=run_id)
    return LockedRun(str(row.status), int(row.epoch))


def check_epoch(run_id: str, locked: LockedRun, expect: int | None) -> None:
    """Refuse a write of an attempt the run has moved on from (``NewEvent.expect_epoch``)."""
    if expect is not None and locked.epoch != expect:
        raise Conflict(
            f"run {run_id} is at attempt {locked.epoch}: a write of attempt {expect} is refused",
            current_status=RunStatus(locked.status).value,
        )


def update_run(
    conn: sa.Connection,
    run_id: str,
    changes: Mapping[str, Any],
    now: int,
    expect_status: Collection[RunStatus] | None = None,
    expect_epoch: int | None = None,
) -> None:
    """Apply ``changes`` to a run without an event (bookkeeping such as ``state``)."""
    if expect_status is not None or expect_epoch is not None:
        locked = lock_run(conn, run_id)
        check_status(run_id, locked.status, expect_status)
        check_epoch(run_id, locked, expect_epoch)
    result = conn.execute(
        sa.update(runs).where(runs.c.id == run_id).values(**change_values(changes, now))
    )
    if result.rowcount == 0:
        raise NotFound(f"run {run_id!r} not found", run_id=run_id)
