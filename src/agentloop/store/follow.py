"""Replay-then-live streams of a run's events or output: the algorithm behind the SSE routes.

1. Subscribe to the bus first (so nothing committed during the replay is missed).
2. Replay from the database after ``after_seq``, page by page.
3. Then take live deliveries; an item at ``last + 1`` is yielded, an older one skipped (it
   was replayed), a newer one means a gap: re-read the database after ``last``. A lagged
   delivery, or no delivery for ``idle_seconds``, also re-reads the database; the latter is
   what carries events written by another host.

Each item is yielded exactly once, in seq order. The event stream ends after the terminal
event (when ``stop_at_terminal``); the output stream ends once the run is terminal and the
database has no more lines. Database reads run in worker threads.

The ``*_batches`` variants yield the same items grouped as they came (a page, or the
usable part of one delivery), so a stream can send a whole batch in one write: one write
per line was what limited 50 subscribers of a 1000 lines/s agent (bench_streaming.py).
After a quiet spell with nothing new they yield an empty batch: the consumer's chance, at
least every ``idle_seconds``, to notice that its client left or the daemon is stopping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from agentloop.core.models import Event, OutputLine
from agentloop.store.bus import Delivery, Subscription
from agentloop.store.repository import Store

T = TypeVar("T", Event, OutputLine)

PAGE_SIZE = 500
IDLE_SECONDS = 1.0


def follow_events(
    store: Store,
    run_id: str,
    after_seq: int = 0,
    *,
    stop_at_terminal: bool = True,
    idle_seconds: float = IDLE_SECONDS,
) -> AsyncGenerator[Event, None]:
    """A run's events after ``after_seq``: history, then live. NotFound for an unknown run."""
    batches = follow_events_batches(
        store, run_id, after_seq, stop_at_terminal=stop_at_terminal, idle_seconds=idle_seconds
    )
    return _one_by_one(batches)


def follow_output(
    store: Store,
    run_id: str,
    after_seq: int = 0,
    *,
    stop_when_finished: bool = True,
    idle_seconds: float = IDLE_SECONDS,
) -> AsyncGenerator[OutputLine, None]:
    """A run's output lines after ``after_seq``: history, then live."""
    batches = follow_output_batches(
        store, run_id, after_seq, stop_when_finished=stop_when_finished, idle_seconds=idle_seconds
    )
    return _one_by_one(batches)


async def _one_by_one(batches: AsyncGenerator[list[T], None]) -> AsyncGenerator[T, None]:
    """The items of ``batches`` one at a time; closing this closes (unsubscribes) them."""
    try:
        async for batch in batches:
            for item in batch:
                yield item
    finally:
        await batches.aclose()  # unsubscribes at once, not when collected


async def follow_events_batches(
    store: Store,
    run_id: str,
    after_seq: int = 0,
    *,
    stop_at_terminal: bool = True,
    idle_seconds: float = IDLE_SECONDS,
) -> AsyncGenerator[list[Event], None]:
    """:func:`follow_events`, in the batches the events came in."""
    await asyncio.to_thread(store.last_seq, run_id)
    subscription = store.bus.subscribe(run_id, "events") if store.bus else None

    async def read(after: int) -> list[Event]:
        return await asyncio.to_thread(store.events_after, run_id, after, PAGE_SIZE)

    async def is_last(event: Event) -> bool:
        # A retried run has an earlier terminal event in its history: only a terminal event
        # that is still the run's newest one ends the stream.
        if not (stop_at_terminal and event.event_type.is_terminal):
            return False
        return bool(await asyncio.to_thread(store.last_seq, run_id) <= event.seq)

    async def finished() -> bool:
        return stop_at_terminal and await _run_is_terminal(store, run_id)

    async for batch in _follow(subscription, read, is_last, finished, after_seq, idle_seconds):
        yield batch


async def follow_output_batches(
    store: Store,
    run_id: str,
    after_seq: int = 0,
    *,
    stop_when_finished: bool = True,
    idle_seconds: float = IDLE_SECONDS,
) -> AsyncGenerator[list[OutputLine], None]:
    """:func:`follow_output`, in the batches the lines came in."""
    await asyncio.to_thread(store.last_seq, run_id)
    subscription = store.bus.subscribe(run_id, "output") if store.bus else None

    async def read(after: int) -> list[OutputLine]:
        return await asyncio.to_thread(store.output_after, run_id, after, PAGE_SIZE)

    async def is_last(_line: OutputLine) -> bool:
        return False

    async def finished() -> bool:
        return stop_when_finished and await _run_is_terminal(store, run_id)

    async for batch in _follow(subscription, read, is_last, finished, after_seq, idle_seconds):
        yield batch


async def _run_is_terminal(store: Store, run_id: str) -> bool:
    run = await asyncio.to_thread(store.get_run, run_id)
    return run.status.is_terminal


async def _follow(
    subscription: Subscription[T] | None,
    read: Callable[[int], Awaitable[list[T]]],
    is_last: Callable[[T], Awaitable[bool]],
    finished: Callable[[], Awaitable[bool]],
    after_seq: int,
    idle_seconds: float,
) -> AsyncIterator[list[T]]:
    """The loop of the module docstring, yielding batches (empty after a quiet spell).

    ``finished()`` (is the run over?) is asked before each re-read that follows a quiet
    spell; when it was over before the read, the read was the last one. A run's status
    becomes terminal in the transaction of its terminal event, so nothing is missed.
    """
    last = after_seq
    try:
        reread, quiet = True, True
        while True:
            if reread:
                # Status first, then the read: a run found over has nothing left to add.
                done = quiet and await finished()
                page = await read(last)
                batch, ended = await _upto_last(page, is_last)
                if batch:
                    last = batch[-1].seq
                    yield batch
                if ended:
                    return
                if len(page) >= PAGE_SIZE:
                    continue
                if done:
                    return
                if not batch:
                    yield batch
            delivery = await _next(subscription, idle_seconds)
            if delivery.closed:
                return
            quiet = not delivery.items and not delivery.lagged
            reread = delivery.lagged or quiet
            fresh: list[T] = []
            for item in delivery.items:
                if item.seq <= last:
                    continue
                if item.seq != last + 1:
                    reread = True
                    break
                last = item.seq
                fresh.append(item)
            batch, ended = await _upto_last(fresh, is_last)
            if batch:
                yield batch
            if ended:
                return
    finally:
        if subscription is not None:
            subscription.close()


async def _upto_last(
    items: list[T], is_last: Callable[[T], Awaitable[bool]]
) -> tuple[list[T], bool]:
    """``items`` up to and including the one that ends the stream, and whether one did."""
    for index, item in enumerate(items):
        if await is_last(item):
            return items[: index + 1], True
    return items, False


async def _next(subscription: Subscription[T] | None, timeout: float) -> Delivery[T]:
    if subscription is None:
        await asyncio.sleep(timeout)
        return Delivery()
    return await subscription.get(timeout)
