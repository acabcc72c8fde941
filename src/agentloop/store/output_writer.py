"""Batch agent output lines into few transactions while keeping live latency low.

An agent's reader thread calls :meth:`OutputBatcher.add` per line; a background thread
commits what has accumulated once the oldest pending line is ``max_delay`` old (20 ms) or
``max_lines`` (200) are pending, and the store publishes each committed batch to the bus.
One commit per batch keeps 1000 lines/s cheap on SQLite and PostgreSQL alike.

A commit that fails with :class:`StoreError` keeps its lines, in order, and is retried with
backoff; any other error (an unknown run) stops the writer. :meth:`close` flushes what is
left and raises the error if lines could not be stored.
When the buffer reaches ``max_pending`` the producer waits for the writer (backpressure),
unless the database is failing, in which case the newest lines are dropped and counted
(the agent's own log file still has them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType

from agentloop.core.errors import AgentloopError, StoreError
from agentloop.core.types import Phase
from agentloop.store.changes import NewOutputLine
from agentloop.store.output_methods import OutputMethods

log = logging.getLogger(__name__)

_RETRY_FIRST, _RETRY_MAX = 0.1, 2.0


class OutputBatcher:
    """Thread-safe, ordered, batched writer of one run's output lines."""

    def __init__(
        self,
        store: OutputMethods,
        run_id: str,
        *,
        step_id: str | None = None,
        phase: Phase = Phase.IMPLEMENTATION,
        iteration: int = 0,
        max_delay: float = 0.02,
        max_lines: int = 200,
        max_pending: int = 50_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.run_id = run_id
        self.step_id, self.phase, self.iteration = step_id, phase, iteration
        self._max_delay, self._max_lines, self._max_pending = max_delay, max_lines, max_pending
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: list[NewOutputLine] = []
        self._oldest = 0.0  # monotonic time the oldest pending line arrived
        self._busy = False  # a batch is being committed
        self._closing = False
        self._error: AgentloopError | None = None
        self._permanent = False  # the writer gave up: further lines are dropped
        self.lines_written = 0
        self.lines_dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"output-{run_id[:8]}", daemon=True)
        self._thread.start()

    def add(
        self,
        line: str,
        *,
        step_id: str | None = None,
        phase: Phase | None = None,
        iteration: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Queue one line (its trailing newline is dropped); never blocks for a commit."""
        item = NewOutputLine(
            step_id if step_id is not None else self.step_id,
            phase or self.phase,
            self.iteration if iteration is None else iteration,
            line.rstrip("\r\n"),
            int(self._clock() * 1000) if timestamp is None else timestamp,
        )
        with self._cond:
            if self._closing:
                raise RuntimeError("OutputBatcher is closed")
            if self._permanent:
                self.lines_dropped += 1
                return
            while len(self._pending) >= self._max_pending:
                if self._error is not None:
                    self.lines_dropped += 1
                    return
                self._cond.wait(0.1)
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(item)
            due = len(self._pending) >= self._max_lines or len(self._pending) == 1
            if due and self._error is None:  # a failing writer retries on its own schedule
                self._cond.notify_all()

    def add_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.add(line)

    def flush(self, timeout: float | None = None) -> None:
        """Commit everything added so far, in the caller's thread (a step boundary waits for
        it: handing the lines to the writer thread and waiting to hear back took longer than
        the commit). A batch the writer is committing lands first, so order holds; a failed
        commit keeps the lines for the writer to retry, and raises."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy and self._error is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self._cond.wait(remaining)
            if self._error is not None:
                raise self._error
            batch, self._pending = self._pending, []
            if not batch:
                return
            self._busy = True
        try:
            self._commit(batch)
        except AgentloopError as error:
            with self._cond:
                self._pending[:0] = batch
                self._oldest = time.monotonic()
                self._error = error
                self._permanent = not isinstance(error, StoreError)
                self._busy = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def close(self) -> None:
        """Flush, stop the writer thread; raises the store's error if lines were not stored."""
        with self._cond:
            if self._closing and not self._thread.is_alive():
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        if self._pending:  # the writer gave up on a failing database: one last try
            try:
                self._commit(self._pending)
                self._pending = []
                self._error = None
            except AgentloopError:
                self.lines_dropped += len(self._pending)
                self._pending = []
                raise
        if self.lines_dropped:
            log.warning("run %s: %d output lines not stored", self.run_id, self.lines_dropped)

    def __enter__(self) -> OutputBatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _commit(self, batch: list[NewOutputLine]) -> None:
        self._store.append_output(self.run_id, batch)
        self.lines_written += len(batch)

    def _take(self) -> list[NewOutputLine] | None:
        """Wait for a batch to be due; None when closing with nothing left."""
        with self._cond:
            while True:
                if self._busy:  # flush() is committing in its thread: it goes first
                    self._cond.wait()
                elif self._pending:
                    due_in = self._oldest + self._max_delay - time.monotonic()
                    if self._closing or len(self._pending) >= self._max_lines or due_in <= 0:
                        batch, self._pending = self._pending, []
                        self._busy = True
                        return batch
                    self._cond.wait(due_in)
                elif self._closing:
                    return None
                else:
                    self._cond.wait()

    def _run(self) -> None:
        backoff = _RETRY_FIRST
        while (batch := self._take()) is not None:
            try:
                self._commit(batch)
            except AgentloopError as error:
                # StoreError: the database failed, worth retrying; anything else (the run
                # does not exist) will not get better.
                permanent = not isinstance(error, StoreError)
                log.warning("run %s: storing output failed: %s", self.run_id, error)
                with self._cond:
                    self._pending[:0] = batch
                    self._error = error
                    self._permanent = permanent
                    self._busy = False
                    self._cond.notify_all()
                    closing = self._closing
                if closing or permanent:
                    return  # close() makes the last attempt and reports
                with self._cond:  # close() wakes this wait
                    if not self._closing:
                        self._cond.wait(backoff)
                backoff = min(backoff * 2, _RETRY_MAX)
                continue
            backoff = _RETRY_FIRST
            with self._cond:
                self._error = None
                self._busy = False
                self._cond.notify_all()
