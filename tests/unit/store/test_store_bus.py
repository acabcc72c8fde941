"""The bus: thread-to-asyncio delivery, bounded buffers, lagging, global subscriptions."""

from __future__ import annotations

import asyncio
import threading
import time

from agentloop.core.models import Event, OutputLine
from agentloop.core.types import EventType, Phase
from agentloop.store import Bus, Delivery


def _event(run_id: str, seq: int) -> Event:
    return Event(
        id=f"{run_id}-{seq}", seq=seq, run_id=run_id, event_type=EventType.WATCHDOG_SIGNAL,
        timestamp=seq,
    )  # fmt: skip


def _line(run_id: str, seq: int) -> OutputLine:
    return OutputLine(
        seq=seq, run_id=run_id, step_id=None, phase=Phase.IMPLEMENTATION, iteration=1,
        line=f"line {seq}", timestamp=seq,
    )  # fmt: skip


def test_threads_publish_to_an_asyncio_subscriber() -> None:
    bus = Bus()

    async def main() -> list[int]:
        received: list[int] = []
        with bus.subscribe("r1", "events") as sub:

            def writer(start: int) -> None:
                for seq in range(start, start + 100):
                    bus.publish_events("r1", [_event("r1", seq)])

            threads = [threading.Thread(target=writer, args=(1 + 100 * i,)) for i in range(4)]
            for thread in threads:
                thread.start()
            while len(received) < 400:
                delivery = await sub.get(timeout=5)
                assert not delivery.lagged and delivery.items, "delivery stalled"
                received.extend(event.seq for event in delivery.items)
            for thread in threads:
                thread.join()
        return received

    received = asyncio.run(main())
    assert sorted(received) == list(range(1, 401))
    assert bus.subscriber_count() == 0


def test_routing_by_run_kind_and_global() -> None:
    bus = Bus()

    async def main() -> None:
        one = bus.subscribe("r1")
        other = bus.subscribe("r2", "events")
        lines = bus.subscribe("r1", "output")
        every = bus.subscribe_all()
        bus.publish_events("r1", [_event("r1", 1)])
        bus.publish_events("r2", [_event("r2", 1), _event("r2", 2)])
        bus.publish_output("r1", [_line("r1", 1)])
        bus.publish_events("r3", [])  # nothing to publish: no delivery
        assert [e.run_id for e in (await one.get(1)).items] == ["r1"]
        assert [e.seq for e in (await other.get(1)).items] == [1, 2]
        assert [line.line for line in (await lines.get(1)).items] == ["line 1"]
        assert [(e.run_id, e.seq) for e in (await every.get(1)).items] == [
            ("r1", 1), ("r2", 1), ("r2", 2),
        ]  # fmt: skip
        assert await one.get(timeout=0.01) == Delivery()
        for sub in (one, other, lines, every):
            sub.close()

    asyncio.run(main())
    assert bus.subscriber_count() == 0


def test_slow_subscriber_lags_and_never_blocks_writers() -> None:
    bus = Bus(max_events=50)

    async def main() -> None:
        slow = bus.subscribe("r1")
        fast = bus.subscribe("r1", maxsize=100_000)
        started = time.monotonic()
        done = threading.Event()

        def flood() -> None:
            for seq in range(1, 20_001):
                bus.publish_events("r1", [_event("r1", seq)])
            done.set()

        threading.Thread(target=flood).start()
        await asyncio.to_thread(done.wait, 10)
        assert time.monotonic() - started < 5, "writers were blocked by a slow subscriber"
        delivery = await slow.get(timeout=1)
        assert delivery.lagged and len(delivery.items) < 50
        assert slow.drops >= 1
        # after the lag is reported the subscription works normally again
        bus.publish_events("r1", [_event("r1", 20_001)])
        delivery = await slow.get(timeout=1)
        assert not delivery.lagged and [e.seq for e in delivery.items] == [20_001]
        seen: list[int] = []
        while len(seen) < 20_001:
            seen.extend(e.seq for e in (await fast.get(timeout=1)).items)
        assert seen == list(range(1, 20_002))

    asyncio.run(main())


def test_get_times_out_with_an_empty_delivery() -> None:
    bus = Bus()

    async def main() -> float:
        with bus.subscribe("r1") as sub:
            started = time.monotonic()
            assert await sub.get(timeout=0.05) == Delivery()
            return time.monotonic() - started

    assert 0.04 <= asyncio.run(main()) < 1


def test_bus_close_ends_subscriptions() -> None:
    bus = Bus()

    async def main() -> list[Delivery[Event]]:
        sub = bus.subscribe("r1")
        bus.publish_events("r1", [_event("r1", 1)])
        collected = []

        async def reader() -> None:
            async for delivery in sub:
                collected.append(delivery)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.05)
        await asyncio.to_thread(bus.close)
        await asyncio.wait_for(task, 2)
        late = bus.subscribe("r1")
        assert (await late.get(1)).closed
        return collected

    collected = asyncio.run(main())
    assert [[e.seq for e in d.items] for d in collected] == [[1]]


def test_publishing_after_the_loop_closed_is_harmless() -> None:
    bus = Bus()

    async def main() -> None:
        sub = bus.subscribe("r1")
        task = asyncio.create_task(sub.get())
        await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(main())
    bus.publish_events("r1", [_event("r1", 1)])  # the loop is gone
    assert bus.subscriber_count() == 0


def test_a_delivery_reads_as_its_items() -> None:
    delivery = Delivery([_event("r1", 1), _event("r1", 2)])
    assert [event.seq for event in delivery] == [1, 2]
    assert len(delivery) == 2 and delivery[1].seq == 2 and delivery
    assert not Delivery() and not Delivery(lagged=True) and not Delivery(closed=True)
