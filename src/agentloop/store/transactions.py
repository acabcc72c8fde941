"""The ground under :class:`~agentloop.store.Store`: its database, its clock, and how a
call gets a connection.

Every method that writes takes ``conn=``: pass the connection of ``store.transaction()`` to
group several calls (and, in the engine, DBOS's ``enqueue_in_transaction``) into one
transaction. Committed events and output lines are handed to the :class:`Bus` after the
commit; writes made on a connection that did not come from ``store.transaction()`` are not
published (subscribers still see them on their next database re-read, within about 1 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agentloop.core.clock import Clock, now_ms
from agentloop.core.models import Event, OutputLine
from agentloop.store.bus import Bus
from agentloop.store.db import SQLITE_BEGIN_OPTION, translate_errors

__all__ = ["StoreBase"]

log = logging.getLogger("agentloop.store.repository")  # the name it had before the split

_Publication = tuple[str, str, Sequence[Event] | Sequence[OutputLine]]  # (kind, run id, items)


class StoreBase:
    """One database, one clock, and the transactions every part of the store writes in."""

    def __init__(self, engine: Engine, *, bus: Bus | None = None, clock: Clock = time.time) -> None:
        self.engine = engine
        self.bus = bus
        self._clock = clock
        self._pending: dict[sa.Connection, list[_Publication]] = {}
        self._pending_lock = threading.Lock()

    def now_ms(self) -> int:
        """Now in epoch milliseconds, by the store's clock (tests pass their own)."""
        return now_ms(self._clock)

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str = "database transaction") -> Iterator[sa.Connection]:
        """One write transaction; what it appended is published to the bus after commit."""
        pending: list[_Publication] = []
        with translate_errors(operation), self.engine.begin() as conn:
            with self._pending_lock:
                self._pending[conn] = pending
            try:
                yield conn
            finally:
                with self._pending_lock:
                    self._pending.pop(conn, None)
        self._publish(pending)

    @contextmanager
    def _write(self, conn: sa.Connection | None, operation: str) -> Iterator[sa.Connection]:
        if conn is None:
            with self.transaction(operation) as own:
                yield own
        else:
            with translate_errors(operation):
                yield conn

    @contextmanager
    def _read(self, conn: sa.Connection | None, operation: str) -> Iterator[sa.Connection]:
        if conn is not None:
            with translate_errors(operation):
                yield conn
            return
        with translate_errors(operation), self.engine.connect() as own:
            own.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            yield own

    def reading(self, operation: str) -> AbstractContextManager[sa.Connection]:
        """A connection for reads only (on SQLite it leaves the write lock to writers)."""
        return self._read(None, operation)

    def _queue(self, conn: sa.Connection, publication: _Publication) -> None:
        with self._pending_lock:
            pending = self._pending.get(conn)
        if pending is not None:
            pending.append(publication)

    def _publish(self, pending: list[_Publication]) -> None:
        if self.bus is None:
            return
        for kind, run_id, items in pending:
            try:
                if kind == "events":
                    self.bus.publish_events(run_id, items)  # type: ignore[arg-type]
                else:
                    self.bus.publish_output(run_id, items)  # type: ignore[arg-type]
            except Exception:  # the bus must never fail a committed write
                log.exception("publishing %s of run %s failed", kind, run_id)
