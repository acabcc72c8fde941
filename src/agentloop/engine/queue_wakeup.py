"""Starting a queued run at once: DBOS's worker for the run queue, woken by this host's
enqueues and paced by this host's work (SPEC 17: ``POST /runs`` to the first agent step in
<= 300 ms on an idle daemon).

DBOS 3.4 polls its queues (ENGINE-NOTES "Queues and caps"): each queue's worker thread sleeps
``polling_interval_sec`` between dequeues, on the stop event DBOS hands its queue threads,
so a run enqueued on an idle daemon waited up to a whole interval, and a shorter interval
costs idle CPU (each poll is a handful of queries). DBOS has no call to wake the worker, so
:func:`install` makes that one event wakeable (its class becomes :class:`WakeableStop`;
setting it still stops every thread) and changes how the run queue's worker waits on it:

- :meth:`WakeableStop.wake`: the worker polls now, or once more right after the poll it is
  in, so a run this host has just committed is claimed within milliseconds. The claim is
  still DBOS's own, in its own transaction: the global, per-host and per-workspace caps
  hold as before, and on PostgreSQL another host may claim the run first.
- :meth:`WakeableStop.await_reload`: returns once the worker has reloaded the queue's
  options (DBOS caches them for a whole pass), so a cap changed by a run's admission holds
  for the next claim on this host, not one poll later.
- pace: while this host runs a step of some run, and ``linger_sec`` after, the worker polls at
  the queue's registered interval (a slot that a finishing run frees is taken up as fast as
  before); otherwise it waits ``idle_sec``: only runs enqueued or freed by other hosts wait
  for that poll. DBOS's own backoff (a longer wait after contention) is left alone.

Every other thread keeps plain :class:`threading.Event` waits. If DBOS changes how its
queue threads wait, :func:`install` finds nothing, says so, and the queue just polls at its
registered interval, as it did before this module.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["WakeableStop", "install", "make_wakeable"]

_log = logging.getLogger("agentloop.engine")


class WakeableStop(threading.Event):
    """DBOS's queue-thread stop event, with wakes and pacing for one worker thread.

    Never constructed: :func:`install` sets the fields below on the live event, then turns
    it into one (``__class__`` assignment keeps its flag and the threads already holding it).
    """

    _worker_name: str
    _wake_cond: threading.Condition
    _wakes: int
    _seen: int
    _waits: int
    _busy: Callable[[], bool]
    _idle_sec: float
    _linger_sec: float
    _busy_until: float

    def wake(self) -> None:
        """Make the worker poll now (or right after its current poll)."""
        with self._wake_cond:
            self._wakes += 1
            self._busy_until = time.monotonic() + self._linger_sec
            self._wake_cond.notify_all()

    def await_reload(self, timeout: float) -> bool:
        """Wake the worker and return once it has reloaded the queue's options, so that
        its next claim obeys options changed before this call; False after ``timeout``.

        DBOS reloads them at the top of each pass, then waits, then claims: of the waits
        the worker begins from now on, the second follows a reload begun after this call
        (the first may follow one begun just before it)."""
        deadline = time.monotonic() + timeout
        with self._wake_cond:
            target = self._waits + 2
            while self._waits < target:
                left = deadline - time.monotonic()
                if left <= 0 or self.is_set():
                    return False
                self._wakes += 1
                self._wake_cond.notify_all()
                self._wake_cond.wait(left)
        return True

    def set(self) -> None:
        super().set()
        with self._wake_cond:
            self._wake_cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        if threading.current_thread().name != self._worker_name or timeout is None:
            return super().wait(timeout)
        with self._wake_cond:
            self._waits += 1
            self._wake_cond.notify_all()  # for await_reload
            if self._wakes == self._seen and not self.is_set():
                self._wake_cond.wait(self._paced(timeout))
            self._seen = self._wakes
        return self.is_set()

    def _paced(self, timeout: float) -> float:
        now = time.monotonic()
        if self._busy():
            self._busy_until = now + self._linger_sec
            return timeout
        if now < self._busy_until:
            return timeout
        return max(timeout, self._idle_sec)


def install(
    queue_name: str,
    busy: Callable[[], bool],
    *,
    idle_sec: float,
    linger_sec: float,
) -> WakeableStop | None:
    """Make the launched DBOS's queue-thread stop event wakeable; None if it is not found.

    ``busy``: whether this host is running a step now (called on the worker thread before
    each wait, so it must be cheap).
    """
    event = _queue_thread_stop_event()
    if event is None:
        _log.warning("cannot wake DBOS's queue worker (dbos changed?): runs start on its next poll")
        return None
    return make_wakeable(
        event,
        f"queue-worker-{queue_name}",
        busy,
        idle_sec=idle_sec,
        linger_sec=linger_sec,
    )


def make_wakeable(
    event: threading.Event,
    worker_name: str,
    busy: Callable[[], bool],
    *,
    idle_sec: float,
    linger_sec: float,
) -> WakeableStop:
    """Turn ``event`` into a :class:`WakeableStop` whose wakes and pace apply to the thread
    named ``worker_name``."""
    # Fields first: a thread may call wait() the moment the class changes.
    vars(event).update(
        _worker_name=worker_name,
        _wake_cond=threading.Condition(threading.Lock()),
        _wakes=0,
        _seen=0,
        _waits=0,
        _busy=busy,
        _idle_sec=idle_sec,
        _linger_sec=linger_sec,
        _busy_until=time.monotonic() + linger_sec,
    )
    event.__class__ = WakeableStop
    assert isinstance(event, WakeableStop)
    return event


def _queue_thread_stop_event() -> threading.Event | None:
    """The event DBOS passed to its queue thread at launch, which hands it to every queue
    worker it starts (dbos ``_dbos.py`` ``launch``, ``_queue.py`` ``queue_thread``)."""
    try:
        from dbos import _dbos, _queue

        instance: Any = _dbos._dbos_global_instance
        threads = list(instance._background_threads)
    except (ImportError, AttributeError):
        return None
    for thread in threads:
        if getattr(thread, "_target", None) is _queue.queue_thread:
            args = getattr(thread, "_args", ())
            if args and type(args[0]) in (threading.Event, WakeableStop):
                return args[0]  # type: ignore[no-any-return]
    return None
