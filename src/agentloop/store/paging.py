"""Reading a run's history a page at a time, in ``seq`` order.

Event and output ``seq`` numbers are gap-free per run, so the page after ``seq`` N is the
range (N, N + limit]. Asking for that range, not just "after N, first ``limit``", keeps
PostgreSQL on the (run_id, seq) index even when its statistics lag a burst of appends:
the open-ended form sorted every remaining row for each page (18 ms a page at 200k events,
8.6 s to read them all). A short page is checked against the run's counter, so a gap (which
the store never makes) would cost a second query, never a lost row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from agentloop.store.schema import runs


def page_after(
    conn: sa.Connection,
    table: sa.Table,
    counter: sa.Column[int],
    run_id: str,
    after_seq: int,
    limit: int | None,
) -> Sequence[sa.RowMapping]:
    """Rows of ``table`` for ``run_id`` with ``seq > after_seq``, in order, at most ``limit``;
    ``counter`` is the ``loopd_runs`` column holding the run's last ``seq`` in ``table``."""
    query = (
        sa.select(table)
        .where(table.c.run_id == run_id, table.c.seq > after_seq)
        .order_by(table.c.seq)
    )
    if limit is None:
        return conn.execute(query).mappings().all()
    rows = conn.execute(query.where(table.c.seq <= after_seq + limit)).mappings().all()
    if len(rows) < limit:
        # The end of the history, unless rows exist past the range: then it has a gap.
        last = conn.execute(sa.select(counter).where(runs.c.id == run_id)).scalar_one_or_none()
        if last is not None and last > after_seq + limit:
            rows = conn.execute(query.limit(limit)).mappings().all()
    return rows
