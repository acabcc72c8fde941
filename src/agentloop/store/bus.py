"""Live fan-out of committed events and output lines to subscribers on the asyncio loop.

Writers are DBOS step threads; readers are SSE handlers on the event loop. The store
publishes after its transaction commits, so anything a subscriber receives is already in
the database. Publishing never blocks: each subscription has a bounded buffer, and a
subscriber that falls behind loses its buffer and is told so (``Delivery.lagged``), after
which it re-reads the database from its last seq. Deliveries may arrive out of seq order
(two writer threads publish in either order) and never carry what another host wrote; the
follow loop in :mod:`agentloop.store.follow` handles both by re-reading the database.

    with bus.subscribe(run_id, "events") as sub:
        delivery = await sub.get(timeout=1.0)   # Delivery(items, lagged, closed)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Literal, TypeVar, overload

from agentloop.core.models import Event, OutputLine

log = logging.getLogger(__name__)

T = TypeVar("T", Event, OutputLine)
Kind = Literal["events", "output"]
_Key = tuple[str, str | None]  # (kind, run id or None for every run)


@dataclass(frozen=True)
class Delivery(Generic[T]):
    """What one ``get`` returns: the buffered items, oldest first.

    ``lagged``: items were dropped since the previous delivery; re-read the database after
    the last seq you saw. ``closed``: the bus shut down; no more deliveries will come.
    Empty items, not lagged, not closed: the timeout passed with nothing new. Iterating,
    indexing and ``len`` work on the items, so a delivery can be used as a list of them.
    """

    items: list[T] = field(default_factory=list)
    lagged: bool = False
    closed: bool = False

    # A delivery reads as its list of items: ``for item in delivery``, ``if not delivery``
    # (nothing to hand out: after a timeout or a lag, re-read the database).
    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


class Subscription(Generic[T]):
    """One subscriber's bounded buffer; filled from any thread, read on its event loop."""

    def __init__(self, bus: Bus, key: _Key, maxsize: int, loop: asyncio.AbstractEventLoop) -> None:
        self._bus = bus
        self.key = key
        self._maxsize = maxsize
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._lagged = False
        self._closed = False
        self._waiting = False
        self._wakeup = asyncio.Event()
        self.drops = 0  # how many times the buffer was dropped

    def _push(self, items: Sequence[T]) -> None:
        """Buffer ``items`` (any thread). Never blocks beyond a short lock."""
        if self._loop.is_closed():  # its reader is gone without closing it
            self.close()
            return
        with self._lock:
            if self._closed:
                return
            if len(self._items) + len(items) > self._maxsize:
                self._items.clear()
                self._lagged = True
                self.drops += 1
            else:
                self._items.extend(items)
            wake, self._waiting = self._waiting, False
        if wake:
            self._wake()

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wakeup.set)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.close()

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
            wake, self._waiting = self._waiting, False
        if wake:
            self._wake()

    async def get(self, timeout: float | None = None) -> Delivery[T]:
        """Wait up to ``timeout`` seconds for items; returns all buffered ones at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._items or self._lagged or self._closed:
                    delivery = Delivery(self._items, self._lagged, self._closed and not self._items)
                    self._items = []
                    self._lagged = False
                    return delivery
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return Delivery()
                self._wakeup.clear()
                self._waiting = True
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    self._waiting = False

    def close(self) -> None:
        """Stop receiving; idempotent."""
        with self._lock:
            self._closed = True
            self._items = []
        self._bus._remove(self)

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> Delivery[T]:
        delivery = await self.get()
        if delivery.closed:
            raise StopAsyncIteration
        return delivery


class Bus:
    """Routes committed writes to subscriptions by (kind, run id); one per daemon."""

    def __init__(self, *, max_events: int = 1_000, max_output: int = 10_000) -> None:
        self._maxsize = {"events": max_events, "output": max_output}
        self._lock = threading.Lock()
        self._subscriptions: dict[_Key, set[Subscription[Event] | Subscription[OutputLine]]] = {}
        self._closed = False

    @overload
    def subscribe(
        self,
        run_id: str,
        kind: Literal["events"] = ...,
        *,
        maxsize: int | None = ...,
        loop: asyncio.AbstractEventLoop | None = ...,
    ) -> Subscription[Event]: ...

    @overload
    def subscribe(
        self,
        run_id: str,
        kind: Literal["output"],
        *,
        maxsize: int | None = ...,
        loop: asyncio.AbstractEventLoop | None = ...,
    ) -> Subscription[OutputLine]: ...

    def subscribe(
        self,
        run_id: str,
        kind: Kind = "events",
        *,
        maxsize: int | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Subscription[Event] | Subscription[OutputLine]:
        """Subscribe to one run's events or output; call on the loop that will read it."""
        return self._add((kind, run_id), maxsize, loop)

    def subscribe_all(
        self, *, maxsize: int | None = None, loop: asyncio.AbstractEventLoop | None = None
    ) -> Subscription[Event]:
        """Subscribe to the events of every run (the dashboard's runs list)."""
        return self._add(("events", None), maxsize, loop)  # type: ignore[return-value]

    def _add(
        self, key: _Key, maxsize: int | None, loop: asyncio.AbstractEventLoop | None
    ) -> Subscription[Event] | Subscription[OutputLine]:
        if key[0] not in self._maxsize:
            raise ValueError(f"unknown subscription kind {key[0]!r}")
        size = maxsize or self._maxsize[key[0]]
        subscription: Subscription[Event] | Subscription[OutputLine] = Subscription(
            self, key, size, loop or asyncio.get_running_loop()
        )
        with self._lock:
            if self._closed:
                subscription._shutdown()
            else:
                self._subscriptions.setdefault(key, set()).add(subscription)
        return subscription

    def _remove(self, subscription: Subscription[Event] | Subscription[OutputLine]) -> None:
        with self._lock:
            group = self._subscriptions.get(subscription.key)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._subscriptions[subscription.key]

    def _targets(
        self, keys: Iterable[_Key]
    ) -> list[Subscription[Event] | Subscription[OutputLine]]:
        with self._lock:
            return [sub for key in keys for sub in self._subscriptions.get(key, ())]

    def publish_events(self, run_id: str, events: Sequence[Event]) -> None:
        """Hand committed events of one run to its subscribers and the global ones."""
        if events:
            for subscription in self._targets([("events", run_id), ("events", None)]):
                subscription._push(events)  # type: ignore[arg-type]

    def publish_output(self, run_id: str, lines: Sequence[OutputLine]) -> None:
        """Hand committed output lines of one run to its subscribers."""
        if lines:
            for subscription in self._targets([("output", run_id)]):
                subscription._push(lines)  # type: ignore[arg-type]

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._subscriptions.values())

    def close(self) -> None:
        """Shut down: every subscription gets a closed delivery (daemon shutdown)."""
        with self._lock:
            self._closed = True
            subscriptions = [sub for group in self._subscriptions.values() for sub in group]
            self._subscriptions.clear()
        for subscription in subscriptions:
            subscription._shutdown()
