"""SQL on ``loopd_output``: append agent output lines with gap-free per-run seqs; read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def _step_lines(run_id: str, step_id: str | None) -> sa.Select[Any]:
    same_step = output.c.step_id.is_(None) if step_id is None else output.c.step_id == step_id
    return (
        sa.select(output.c.seq, output.c.line)
        .where(output.c.run_id == run_id, same_step)
        .order_by(output.c.seq)
    )


def line_bytes(line: str) -> int:
    """What a line takes in its step's output: its UTF-8 bytes and a newline."""
    return len(line.encode("utf-8", errors="surrogatepass")) + 1


def step_bytes_before(conn: sa.Connection, run_id: str, step_id: str | None, seq: int) -> int:
    """Bytes of ``step_id``'s output before the line ``seq``: that line's offset."""
    if conn.dialect.name == "postgresql":
        size = sa.func.octet_length(output.c.line)
    else:  # SQLite stores text as UTF-8: a text cast to a blob is its bytes
        size = sa.func.length(sa.cast(output.c.line, sa.LargeBinary))
    same_step = output.c.step_id.is_(None) if step_id is None else output.c.step_id == step_id
    query = sa.select(sa.func.coalesce(sa.func.sum(size + 1), 0)).where(
        output.c.run_id == run_id, same_step, output.c.seq < seq
    )
    return int(conn.execute(query).scalar_one())


def seq_before_offset(conn: sa.Connection, run_id: str, offset: int) -> int:
    """Where the output resumed at byte ``offset`` starts, as the reference reads it: the
    offset is within the first step's output; the line holding that byte is sent again,
    lines wholly before it are not (SPEC 20). The seq to read after (0: from the start)."""
    first = conn.execute(
        sa.select(output.c.seq, output.c.step_id)
        .where(output.c.run_id == run_id)
        .order_by(output.c.seq)
        .limit(1)
    ).first()
    if first is None:
        return 0
    start, position = int(first.seq) - 1, 0
    for row in conn.execute(_step_lines(run_id, first.step_id)):
        position += line_bytes(row.line)
        if position > offset:
            break
        start = int(row.seq)
    return start
