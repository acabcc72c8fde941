"""The store's output lines: every line an agent printed, with gap-free seqs per run, and
the byte offsets of lines within their step's output (the output stream's ``offset``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from agentloop.core.models import OutputLine
from agentloop.core.types import Phase
from agentloop.store import output as output_sql
from agentloop.store.changes import NewOutputLine
from agentloop.store.transactions import StoreBase

if TYPE_CHECKING:
    from agentloop.store.output_writer import OutputBatcher

__all__ = ["OutputMethods"]


class OutputMethods(StoreBase):
    """A run's agent output lines: appended in batches, published after commit, read back."""

    def append_output(
        self,
        run_id: str,
        lines: Sequence[NewOutputLine | tuple[str | None, Phase, int, str, int]],
        *,
        conn: sa.Connection | None = None,
    ) -> list[OutputLine]:
        """Append output lines with gap-free seqs in one transaction, then publish them."""
        items = [NewOutputLine(*line) for line in lines]
        with self._write(conn, "append output") as tx:
            stored = output_sql.append_output(tx, run_id, items)
            self._queue(tx, ("output", run_id, stored))
            return stored

    def output_batcher(self, run_id: str, **options: Any) -> OutputBatcher:
        """A batching writer of ``run_id``'s output lines (see :class:`OutputBatcher`)."""
        from agentloop.store.output_writer import OutputBatcher

        return OutputBatcher(self, run_id, **options)

    def output_after(
        self, run_id: str, after_seq: int = 0, limit: int | None = 1000
    ) -> list[OutputLine]:
        with self._read(None, "read output") as tx:
            return output_sql.output_after(tx, run_id, after_seq, limit)

    def output_offset(self, run_id: str, step_id: str | None, seq: int) -> int:
        """The byte offset of output line ``seq`` within its step's output."""
        with self._read(None, "read output offsets") as tx:
            return output_sql.step_bytes_before(tx, run_id, step_id, seq)

    def output_seq_before_offset(self, run_id: str, offset: int) -> int:
        with self._read(None, "read output offsets") as tx:
            return output_sql.seq_before_offset(tx, run_id, offset)
