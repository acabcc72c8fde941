"""The run queue's wakeup (engine.queue_wakeup): a wake ends the worker's wait, a wake while
it polls is not lost, an idle worker waits longer, and the event still stops every thread.

The worker is a thread named like DBOS's run-queue worker, waiting as DBOS's does
(``stop_event.wait(timeout=...)``); the DBOS side is covered by the integration tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agentloop.engine.queue_wakeup import WakeableStop, make_wakeable

WORKER = "queue-worker-runs"
LONG = 30.0


def wakeable(busy: Callable[[], bool] = lambda: True, idle_sec: float = LONG) -> WakeableStop:
    return make_wakeable(threading.Event(), WORKER, busy, idle_sec=idle_sec, linger_sec=0.0)


def in_thread(name: str, fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()), name=name, daemon=True)
    thread.start()
    return thread, out


def timed_wait(event: WakeableStop, timeout: float) -> tuple[bool, float]:
    began = time.monotonic()
    result = event.wait(timeout)
    return result, time.monotonic() - began


def test_a_wake_ends_the_workers_wait_without_stopping_it() -> None:
    event = wakeable()
    thread, out = in_thread(WORKER, lambda: timed_wait(event, LONG))
    time.sleep(0.1)
    event.wake()
    thread.join(5)
    assert out and out[0][0] is False
    assert out[0][1] < 5
    assert not event.is_set()


def test_a_wake_while_the_worker_polls_makes_its_next_wait_return_at_once_once() -> None:
    event = wakeable()
    event.wake()  # the worker is not waiting: between two polls

    def two_waits() -> tuple[float, float]:
        _, first = timed_wait(event, LONG)
        _, second = timed_wait(event, 0.2)
        return first, second

    thread, out = in_thread(WORKER, two_waits)
    thread.join(5)
    first, second = out[0]  # type: ignore[misc]
    assert first < 1
    assert second >= 0.15


def test_an_idle_worker_waits_the_idle_interval_a_busy_one_its_own() -> None:
    busy = threading.Event()
    event = wakeable(busy.is_set, idle_sec=0.5)
    thread, out = in_thread(WORKER, lambda: timed_wait(event, 0.05))
    thread.join(5)
    assert out[0][1] >= 0.45  # type: ignore[index]
    busy.set()
    thread, out = in_thread(WORKER, lambda: timed_wait(event, 0.05))
    thread.join(5)
    assert out[0][1] < 0.4  # type: ignore[index]


def test_a_wake_cuts_an_idle_wait_short() -> None:
    event = wakeable(lambda: False, idle_sec=LONG)
    thread, out = in_thread(WORKER, lambda: timed_wait(event, 0.05))
    time.sleep(0.1)
    event.wake()
    thread.join(5)
    assert out and out[0][1] < 5  # type: ignore[index]


def test_set_still_stops_the_worker_and_every_other_thread() -> None:
    event = wakeable(lambda: False)
    worker, worker_out = in_thread(WORKER, lambda: event.wait(LONG))
    other, other_out = in_thread("queue-manager", lambda: event.wait(LONG))
    time.sleep(0.1)
    event.set()
    worker.join(5)
    other.join(5)
    assert worker_out == [True]
    assert other_out == [True]


def test_other_threads_are_not_woken() -> None:
    event = wakeable()
    thread, out = in_thread("queue-worker-_dbos_internal_queue", lambda: timed_wait(event, 0.3))
    time.sleep(0.05)
    event.wake()
    thread.join(5)
    result, waited = out[0]  # type: ignore[misc]
    assert result is False
    assert waited >= 0.25


def test_after_await_reload_the_worker_claims_with_the_options_changed_before_it() -> None:
    """DBOS's worker loads the queue's options, waits, then claims with what it loaded."""
    event = wakeable()
    options, claims = ["old"], []

    def worker() -> None:
        while True:
            loaded = options[0]
            if event.wait(LONG):
                return
            claims.append(loaded)

    thread = threading.Thread(target=worker, name=WORKER, daemon=True)
    thread.start()
    time.sleep(0.1)  # waiting, with "old" loaded
    options[0] = "new"
    assert event.await_reload(timeout=5)
    after = len(claims)
    event.wake()
    deadline = time.monotonic() + 5
    while len(claims) == after and time.monotonic() < deadline:
        time.sleep(0.01)
    event.set()
    thread.join(5)
    assert claims[0] == "old"  # the pass the reload took still claimed with "old"
    assert claims[after:] == ["new"]
