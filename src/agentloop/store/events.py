"""SQL on ``loopd_events``: append one event with its projection changes; read history.

Sequence numbers are gap-free per run: each append increments ``loopd_runs.last_seq`` with
``UPDATE ... RETURNING`` in the transaction that inserts the event, so the row lock (on
PostgreSQL) or the write lock (SQLite ``BEGIN IMMEDIATE``) orders concurrent appends and a
rollback returns the number. Keyed and guarded appends lock the run row first.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from agentloop.core.clock import new_id
from agentloop.core.errors import NotFound
from agentloop.core.models import Event
from agentloop.core.types import EventType
from agentloop.store.changes import NewEvent, StepChange
from agentloop.store.paging import page_after
from agentloop.store.rows import clean_json, event_from_row
from agentloop.store.runs import change_values, check_epoch, check_status, lock_run
from agentloop.store.schema import events, runs
from agentloop.store.steps import apply_step

# Built once, values bound at execution: building a statement with literal values cost
# about ten times the SQLite work of an append (bench_store.py).
_NEXT_SEQ = (
    sa.update(runs)
    .where(runs.c.id == sa.bindparam("b_run_id"))
    .values(last_seq=runs.c.last_seq + 1, updated_at=sa.bindparam("b_now"))
    .returning(runs.c.last_seq)
)
# The same with run columns changed: the SET clause adds the columns named in the parameters.
_NEXT_SEQ_AND_CHANGE = (
    sa.update(runs)
    .where(runs.c.id == sa.bindparam("b_run_id"))
    .values(last_seq=runs.c.last_seq + 1)
    .returning(runs.c.last_seq)
)
_INSERT = sa.insert(events)
# Locks the run row (PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the write lock)
# without reading its JSON columns.
_BY_KEY = sa.select(events).where(
    events.c.run_id == sa.bindparam("b_run_id"), events.c.event_key == sa.bindparam("b_key")
)


def append(conn: sa.Connection, run_id: str, new: NewEvent, now: int) -> tuple[Event, bool]:
    """Append ``new`` to the run's history; returns the event and whether it is new.

    With ``new.key`` already present for the run, returns the stored event unchanged.
    """
    if new.key is not None or new.expect_status is not None or new.expect_epoch is not None:
        locked = lock_run(conn, run_id)
        if new.key is not None:
            existing = (
                conn.execute(_BY_KEY, {"b_run_id": run_id, "b_key": new.key}).mappings().first()
            )
            if existing is not None:
                return event_from_row(existing), False
        check_status(run_id, locked.status, new.expect_status)
        check_epoch(run_id, locked, new.expect_epoch)

    timestamp = now if new.timestamp is None else new.timestamp
    if new.run_changes:
        values = change_values(new.run_changes, now)
        if any(isinstance(value, sa.ColumnElement) for value in values.values()):
            statement = (
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(last_seq=runs.c.last_seq + 1, **values)
                .returning(runs.c.last_seq)
            )
            seq = conn.execute(statement).scalar_one_or_none()
        else:
            params = {"b_run_id": run_id, **values}
            seq = conn.execute(_NEXT_SEQ_AND_CHANGE, params).scalar_one_or_none()
    else:
        seq = conn.execute(_NEXT_SEQ, {"b_run_id": run_id, "b_now": now}).scalar_one_or_none()
    if seq is None:
        raise NotFound(f"run {run_id!r} not found", run_id=run_id)

    step_id = new.step_id
    if new.step is not None:
        change = new.step if isinstance(new.step, StepChange) else StepChange(**new.step)
        changed_step = apply_step(conn, run_id, change, seq, now)
        step_id = step_id or changed_step
    payload: dict[str, Any] = clean_json(dict(new.payload))
    event_id = new_id()
    conn.execute(
        _INSERT,
        {
            "id": event_id,
            "run_id": run_id,
            "seq": seq,
            "step_id": step_id,
            "event_type": EventType(new.event_type).value,
            "timestamp": timestamp,
            "payload": payload,
            "event_key": new.key,
        },
    )
    event = Event(
        id=event_id,
        seq=seq,
        run_id=run_id,
        step_id=step_id,
        event_type=EventType(new.event_type),
        timestamp=timestamp,
        payload=payload,
    )
    return event, True


def events_after(
    conn: sa.Connection, run_id: str, after_seq: int = 0, limit: int | None = None
) -> list[Event]:
    rows = page_after(conn, events, runs.c.last_seq, run_id, after_seq, limit)
    return [event_from_row(row) for row in rows]


def seq_before_time(conn: sa.Connection, run_id: str, timestamp_ms: int) -> int:
    """The last seq of the run's events older than ``timestamp_ms`` (0 when none): where a
    stream resumed by timestamp, as the reference's clients do, starts (SPEC 20)."""
    query = sa.select(sa.func.max(events.c.seq)).where(
        events.c.run_id == run_id, events.c.timestamp < timestamp_ms
    )
    return int(conn.execute(query).scalar_one_or_none() or 0)


def resumed_after(conn: sa.Connection, run_id: str, after_seq: int) -> bool:
    """Whether a RUN_RESUMED (resume, retry, reset, failover) follows event ``after_seq``."""
    query = (
        sa.select(events.c.seq)
        .where(
            events.c.run_id == run_id,
            events.c.seq > after_seq,
            events.c.event_type == EventType.RUN_RESUMED.value,
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def last_seq(conn: sa.Connection, run_id: str) -> int:
    found = conn.execute(sa.select(runs.c.last_seq).where(runs.c.id == run_id)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"run {run_id!r} not found", run_id=run_id)
    return int(found)
