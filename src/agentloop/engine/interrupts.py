"""Interrupting runs in this process: each run's cancel event (set by a pause or cancel, and
watched by its agent and its retry backoff), and which runs ended their last step here
uninterrupted (so their next step has no interrupted attempt to look for)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Interrupts:
    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._clean: set[str] = set()

    def cancel_event(self, run_id: str) -> threading.Event:
        """Set when the run is paused or canceled: agents and backoff sleeps watch it."""
        with self._lock:
            event = self._events.get(run_id)
            if event is None:
                event = self._events[run_id] = threading.Event()
            return event

    def mark(self, run_id: str) -> None:
        """The run is being paused or canceled: wake everything that waits on it."""
        self._clean.discard(run_id)
        self.cancel_event(run_id).set()

    def clear(self, run_id: str) -> None:
        """The run goes on (resume, retry, reset): its next step starts uninterrupted."""
        with self._lock:
            self._events.pop(run_id, None)

    def was_interrupted(self, run_id: str) -> bool:
        return self.cancel_event(run_id).is_set()

    def interruptible_sleep(self, run_id: str) -> Callable[[float], bool]:
        """A sleep for retry backoff that ends early (returning False) on pause or cancel."""
        event = self.cancel_event(run_id)

        def sleep(seconds: float) -> bool:
            return not event.wait(seconds)

        return sleep

    def kill_processes(self, run_id: str) -> None:
        """Kill the run's agent process groups (after DBOS was told: ENGINE-NOTES)."""
        from agentloop.agents.process import kill_owner

        kill_owner(run_id)

    def mark_clean(self, run_id: str) -> None:
        """A step of the run finished here, uninterrupted: its next step has no interrupted
        attempt to look for (until a pause, cancel or restart says otherwise)."""
        self._clean.add(run_id)

    def is_clean(self, run_id: str) -> bool:
        return run_id in self._clean

    def forget(self, run_id: str) -> None:
        """The run has ended: drop its cleanliness (its cancel event stays set, if set)."""
        self._clean.discard(run_id)
