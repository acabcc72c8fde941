"""Notes from the user to a run's agent (SPEC 18), in ``loopd_notes``.

A note is added with its NOTE_ADDED event in one transaction, to a run that is not
COMPLETED or CANCELED; it waits (surviving restarts) until an agent step of the run has
seen it, and is marked delivered with NOTE_DELIVERED in the transaction that finishes that
step, so a step that was interrupted leaves its notes for the next attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from agentloop.core.clock import ms_to_rfc3339, new_id
from agentloop.core.models import Note
from agentloop.core.types import EventType, RunStatus
from agentloop.store.repository import Store
from agentloop.store.rows import note_from_row
from agentloop.store.schema import notes

__all__ = ["NOTE_ACCEPTING", "Notes"]

NOTE_ACCEPTING = frozenset(
    {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.FAILED}
)


class Notes:
    """The notes of every run, over the store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self, run_id: str, text: str, *, file: str | None, line: int | None, source: str
    ) -> Note:
        """Add a note; :class:`NotFound` for an unknown run, :class:`Conflict` for one that
        is COMPLETED or CANCELED."""
        store = self.store
        note_id = new_id()
        now = store.now_ms()
        with store.transaction("add a note") as conn:
            store.append_event(
                run_id,
                EventType.NOTE_ADDED,
                {"note_id": note_id, "text": text, "file": file, "line": line, "source": source},
                expect_status=NOTE_ACCEPTING,
                conn=conn,
            )
            conn.execute(
                sa.insert(notes).values(
                    id=note_id,
                    run_id=run_id,
                    text=text,
                    file=file,
                    line=line,
                    source=source,
                    created_at=now,
                )
            )
        return Note(
            id=note_id,
            run_id=run_id,
            text=text,
            file=file,
            line=line,
            source=source,
            created_at=ms_to_rfc3339(now),
        )

    def of_run(self, run_id: str, *, undelivered: bool = False) -> list[Note]:
        query = sa.select(notes).where(notes.c.run_id == run_id)
        if undelivered:
            query = query.where(notes.c.delivered_step_id.is_(None))
        with self.store.reading("read notes") as conn:
            rows = conn.execute(query.order_by(notes.c.created_at, notes.c.id)).mappings()
            return [note_from_row(row) for row in rows]

    def mark_delivered(self, run_id: str, note_ids: Sequence[str], step_id: str) -> None:
        """These notes reached ``step_id`` (one transaction; a note delivered before stays
        as it was)."""
        with self.store.transaction("mark notes delivered") as conn:
            self._mark(conn, run_id, note_ids, step_id)

    def _mark(
        self, conn: sa.Connection, run_id: str, note_ids: Sequence[str], step_id: str
    ) -> None:
        for note_id in note_ids:
            done = conn.execute(
                sa.update(notes)
                .where(notes.c.id == note_id, notes.c.delivered_step_id.is_(None))
                .values(delivered_step_id=step_id)
            )
            if done.rowcount:
                self.store.append_event(
                    run_id,
                    EventType.NOTE_DELIVERED,
                    {"note_id": note_id, "step_id": step_id},
                    step_id=step_id,
                    key=f"note_delivered:{note_id}",
                    conn=conn,
                )
