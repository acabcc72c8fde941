"""SQL on ``loopd_steps``: apply a :class:`StepChange` (idempotently), list a run's steps."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

import sqlalchemy as sa

from agentloop.core.clock import new_id
from agentloop.core.errors import NotFound, StoreError
from agentloop.core.models import Step
from agentloop.core.types import Phase, StepStatus
from agentloop.store.changes import StepChange
from agentloop.store.rows import clean_text, step_from_row
from agentloop.store.schema import runs, steps

_REQUIRED_ON_INSERT = ("phase", "iteration", "status")


# Built once, values bound at execution (see store/events.py): the UPDATE's SET clause is
# made of the columns named in the parameters.
_BY_ID = sa.select(steps.c.id, steps.c.run_id, steps.c.status).where(
    steps.c.id == sa.bindparam("b_id")
)
_BY_KEY = sa.select(steps.c.id, steps.c.status).where(
    steps.c.run_id == sa.bindparam("b_run_id"), steps.c.step_key == sa.bindparam("b_key")
)
_UPDATE = sa.update(steps).where(steps.c.id == sa.bindparam("b_id"))
_INSERT = sa.insert(steps)
# A step closed CANCELED (by a pause, cancel or reset, in the transaction of its event)
# stays as it was closed: a late finish of it (its agent ended as it was being killed)
# adds its exit code and usage, never reopens it or makes it a success or a failure.
_KEPT_WHEN_CANCELED = ("status", "finished_at", "duration_ms", "message")


def _find(conn: sa.Connection, run_id: str, change: StepChange) -> tuple[str, str] | None:
    """The step's id and status, or None when it has no row yet."""
    if change.id is not None:
        row = conn.execute(_BY_ID, {"b_id": change.id}).first()
        if row is not None:
            if row.run_id != run_id:
                raise StoreError(
                    f"step {change.id} belongs to run {row.run_id}, not {run_id}",
                    step_id=change.id,
                )
            return str(row.id), str(row.status)
    if change.key is not None:
        found = conn.execute(_BY_KEY, {"b_run_id": run_id, "b_key": change.key}).first()
        return None if found is None else (str(found.id), str(found.status))
    return None


def apply_step(conn: sa.Connection, run_id: str, change: StepChange, seq: int, now: int) -> str:
    """Insert or update the step ``change`` describes; returns its id.

    ``seq`` is the sequence number of the event carrying the change (it orders steps).
    """
    values: dict[str, Any] = change.values()
    for name in ("output_path", "message"):
        if isinstance(values.get(name), str):
            values[name] = clean_text(values[name])
    found = _find(conn, run_id, change)
    if found is not None:
        step_id, status = found
        if status == StepStatus.CANCELED.value and values.get("status") is not None:
            values = {k: v for k, v in values.items() if k not in _KEPT_WHEN_CANCELED}
        conn.execute(_UPDATE, {"b_id": step_id, "updated_at": now, **values})
        return step_id
    missing = [name for name in _REQUIRED_ON_INSERT if values.get(name) is None]
    if missing:
        raise ValueError(f"a new step needs {', '.join(missing)}")
    step_id = change.id or new_id()
    conn.execute(
        _INSERT,
        {
            "id": step_id,
            "run_id": run_id,
            "step_key": change.key,
            "seq": seq,
            "created_at": now,
            "updated_at": now,
            **values,
        },
    )
    return step_id


def steps_of(
    conn: sa.Connection,
    run_id: str,
    phase: Phase,
    iteration: int,
    statuses: Collection[StepStatus],
) -> list[Step]:
    """The run's steps of one phase and iteration in the given statuses."""
    query = (
        sa.select(steps)
        .where(
            steps.c.run_id == run_id,
            steps.c.phase == Phase(phase).value,
            steps.c.iteration == iteration,
            steps.c.status.in_([StepStatus(s).value for s in statuses]),
        )
        .order_by(steps.c.seq, steps.c.id)
    )
    return [step_from_row(row) for row in conn.execute(query).mappings()]


def list_steps(conn: sa.Connection, run_id: str) -> list[Step]:
    query = sa.select(steps).where(steps.c.run_id == run_id).order_by(steps.c.seq, steps.c.id)
    return [step_from_row(row) for row in conn.execute(query).mappings()]


def get_step(conn: sa.Connection, step_id: str) -> Step:
    row = conn.execute(sa.select(steps).where(steps.c.id == step_id)).mappings().first()
    if row is None:
        raise NotFound(f"step {step_id!r} not found", step_id=step_id)
    return step_from_row(row)


class StepProcess(NamedTuple):
    step_id: str
    status: str
    pgid: int
    proc_start_time: float | None


def step_processes(conn: sa.Connection, run_id: str) -> list[StepProcess]:
    """Agent process groups recorded on a run's steps (to kill leftovers after a crash)."""
    query = (
        sa.select(steps.c.id, steps.c.status, steps.c.pgid, steps.c.proc_start_time)
        .where(steps.c.run_id == run_id, steps.c.pgid.is_not(None))
        .order_by(steps.c.seq)
    )
    return [StepProcess(*row) for row in conn.execute(query)]


def step_process(conn: sa.Connection, step_id: str) -> StepProcess | None:
    row = conn.execute(
        sa.select(steps.c.id, steps.c.status, steps.c.pgid, steps.c.proc_start_time).where(
            steps.c.id == step_id, steps.c.pgid.is_not(None)
        )
    ).first()
    return None if row is None else StepProcess(*row)


OPEN_STATUSES = (StepStatus.QUEUED, StepStatus.IN_PROGRESS, StepStatus.RETRYING)


def cancel_open_steps(
    conn: sa.Connection, run_id: str, now: int, message: str | None = None
) -> list[str]:
    """Mark the run's unfinished steps CANCELED; returns their ids. The run's row is locked
    first, as a step start locks it before it checks the run's status, so that in the same
    transaction as the run's new status no step can start unseen in between."""
    conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id).with_for_update())
    open_steps = sa.and_(
        steps.c.run_id == run_id, steps.c.status.in_([status.value for status in OPEN_STATUSES])
    )
    ids = [str(found) for found in conn.execute(sa.select(steps.c.id).where(open_steps)).scalars()]
    if ids:
        values: dict[str, Any] = {
            "status": StepStatus.CANCELED.value,
            "finished_at": sa.func.coalesce(steps.c.finished_at, now),
            "duration_ms": sa.func.coalesce(
                steps.c.duration_ms, now - sa.func.coalesce(steps.c.started_at, now)
            ),
            "updated_at": now,
        }
        if message is not None:
            values["message"] = clean_text(message)
        conn.execute(sa.update(steps).where(steps.c.id.in_(ids)).values(**values))
    return ids
