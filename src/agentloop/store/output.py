"""SQL on ``loopd_output``: append agent output lines with gap-free per-run seqs; read them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from agentloop.core.errors import NotFound
from agentloop.core.models import OutputLine
from agentloop.core.types import Phase
from agentloop.store.changes import NewOutputLine
from agentloop.store.paging import page_after
from agentloop.store.rows import clean_text, output_from_row
from agentloop.store.schema import output, runs


def append_output(
    conn: sa.Connection, run_id: str, lines: Sequence[NewOutputLine]
) -> list[OutputLine]:
    """Insert ``lines`` in order, numbered after the run's last output seq."""
    if not lines:
        return []
    last = conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id)
        .values(last_output_seq=runs.c.last_output_seq + len(lines))
        .returning(runs.c.last_output_seq)
    ).scalar_one_or_none()
    if last is None:
        raise NotFound(f"run {run_id!r} not found", run_id=run_id)
    first = int(last) - len(lines) + 1
    stored = [
        OutputLine(
            seq=first + index,
            run_id=run_id,
            step_id=item.step_id,
            phase=Phase(item.phase),
            iteration=item.iteration,
            line=clean_text(item.line),
            timestamp=item.timestamp,
        )
        for index, item in enumerate(lines)
    ]
    conn.execute(
        sa.insert(output),
        [
            {
                "run_id": run_id,
                "seq": line.seq,
                "step_id": line.step_id,
                "phase": line.phase.value,
                "iteration": line.iteration,
                "line": line.line,
                "timestamp": line.timestamp,
            }
            for line in stored
        ],
    )
    return stored


def output_after(
    conn: sa.Connection, run_id: str, after_seq: int = 0, limit: int | None = 1000
) -> list[OutputLine]:
    rows = page_after(conn, output, runs.c.last_output_seq, run_id, after_seq, limit)
    return [output_from_row(row) for row in rows]
