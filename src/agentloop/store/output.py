"""SQL on ``loopd_output``: append agent output lines with gap-free per-run seqs; read them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from agentloop.core.errors import NotFound
from agentloop.core.models import OutputLine
from agentloop.core.types import Phase
from agentloop.store.changes import NewOutputLine
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
    query = (
        sa.select(output)
        .where(output.c.run_id == run_id, output.c.seq > after_seq)
        .order_by(output.c.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [output_from_row(row) for row in conn.execute(query).mappings()]
