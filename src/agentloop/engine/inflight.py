"""Which runs have a phase step executing in this daemon right now.

A cancel writes CANCELED at once, but the step it interrupted keeps running until its agent
or command is killed and it returns. Whatever must not happen under a running step (removing
the worktree, rewinding the workflow for a retry or reset) waits here until it has ended.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["InFlightSteps", "in_flight"]


class InFlightSteps:
    def __init__(self) -> None:
        self._running: Counter[str] = Counter()
        self._changed = threading.Condition()

    @contextmanager
    def step(self, run_id: str) -> Iterator[None]:
        """Mark a step of ``run_id`` as executing for the duration of the block."""
        with self._changed:
            self._running[run_id] += 1
        try:
            yield
        finally:
            with self._changed:
                self._running[run_id] -= 1
                if self._running[run_id] <= 0:
                    del self._running[run_id]
                self._changed.notify_all()

    def running(self, run_id: str) -> bool:
        with self._changed:
            return self._running[run_id] > 0

    def any_running(self) -> bool:
        """Whether a step of any run executes here (the run queue polls faster while so)."""
        with self._changed:
            return bool(self._running)

    def wait_ended(self, run_id: str, timeout_sec: float = 30.0) -> bool:
        """Block until no step of ``run_id`` executes here; False when that took too long."""
        deadline = time.monotonic() + timeout_sec
        with self._changed:
            while self._running[run_id] > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True


in_flight = InFlightSteps()
