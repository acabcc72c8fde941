"""Interrupting runs in this process: which runs a pause or cancel has marked, each run's
cancel event (watched by its agent and its retry backoff), and which runs ended their last
step here uninterrupted (so their next step has no interrupted attempt to look for).

A pause or cancel marks the run first, then cancels its workflow in DBOS, and only then
wakes what waits on the event: an agent stopped before the cancel was committed would end
its step while the step still owned the workflow, and DBOS would checkpoint the stopped
step, which a resume then replays as the run's end (ENGINE-NOTES: cancel, then kill).

A mark is this host's memory, but the run may be resumed on another host and come back
here: each mark keeps the run's last event seq when it was made (its fence), so that a
RUN_RESUMED recorded after it shows the mark belongs to an execution that is over."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Interrupts:
    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._fences: dict[str, int] = {}
        self._lock = threading.Lock()
        self._clean: set[str] = set()

    def cancel_event(self, run_id: str) -> threading.Event:
        """Set once the run's paused or canceled workflow is CANCELLED in DBOS: agents and
        backoff sleeps watch it."""
        with self._lock:
            return self._event(run_id)

    def mark(self, run_id: str, fence: int) -> None:
        """The run is being paused or canceled (steps starting now are superseded; see
        :meth:`wake`). ``fence`` is the run's last event seq, read before the workflow was
        seen or made CANCELLED."""
        self._clean.discard(run_id)
        with self._lock:
            self._fences[run_id] = fence

    def wake(self, run_id: str) -> None:
        """The marked run's workflow is CANCELLED: wake everything that waits on it."""
        self.cancel_event(run_id).set()

    def fence(self, run_id: str) -> int | None:
        """The fence of the run's mark, None when it is not marked here."""
        with self._lock:
            return self._fences.get(run_id)

    def clear(self, run_id: str, fence: int | None = None) -> None:
        """The run goes on (resume, retry, reset): its next step starts uninterrupted. With
        ``fence``, only the mark made with it is cleared (not a newer pause's)."""
        with self._lock:
            if fence is not None and self._fences.get(run_id) != fence:
                return
            self._events.pop(run_id, None)
            self._fences.pop(run_id, None)

    def was_interrupted(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._fences

    def workflow_stopped(self, run_id: str) -> bool:
        """Whether the run's pause or cancel has reached DBOS (its waiters were woken): only
        then may a step that ended say it was stopped. Between the mark and the cancel DBOS
        still checkpoints what the step returns, and a STOPPED outcome checkpointed there
        would end the resumed workflow at once."""
        with self._lock:
            event = self._events.get(run_id)
            return event is not None and event.is_set()

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

    def _event(self, run_id: str) -> threading.Event:
        event = self._events.get(run_id)
        if event is None:
            event = self._events[run_id] = threading.Event()
        return event

    def forget(self, run_id: str) -> None:
        """The run has ended: drop its cleanliness (its cancel event stays set, if set)."""
        self._clean.discard(run_id)
