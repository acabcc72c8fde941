"""Replay-then-live streams: exactly once, in order, gaps and lag repaired from the database."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from agentloop.core.errors import NotFound
from agentloop.core.types import EventType, Phase, RunStatus
from agentloop.store import Bus, OutputBatcher, Store, follow_events, follow_output

T = TypeVar("T")


async def _collect(stream: AsyncIterator[T], timeout: float = 10) -> list[T]:
    async def drain() -> list[T]:
        return [item async for item in stream]

    return await asyncio.wait_for(drain(), timeout)


def _append_in_thread(
    store: Store, run_id: str, count: int, finish: bool = True
) -> threading.Thread:
    def write() -> None:
        for index in range(count):
            store.append_event(run_id, EventType.WATCHDOG_SIGNAL, {"index": index})
            if index % 10 == 0:
                time.sleep(0.002)
        if finish:
            store.append_event(
                run_id, EventType.RUN_COMPLETED, {"mode": "trailing"},
                run_changes={"status": RunStatus.COMPLETED},
            )  # fmt: skip

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_replay_then_live_until_the_terminal_event(store: Store, make_run) -> None:
    run = make_run()
    for index in range(5):
        store.append_event(run.id, EventType.AGENT_RETRY, {"attempt": index})

    async def main() -> list[int]:
        stream = follow_events(store, run.id, after_seq=2, idle_seconds=5)
        first = await anext(stream)  # replayed
        writer = _append_in_thread(store, run.id, 100)
        rest = await _collect(stream)
        writer.join()
        return [first.seq] + [event.seq for event in rest]

    seqs = asyncio.run(main())
    assert seqs == list(range(3, 108))  # 6 replayed-or-live + 100 + RUN_COMPLETED
    assert store.bus is not None and store.bus.subscriber_count() == 0


def test_finished_run_replays_and_ends(store: Store, make_run) -> None:
    run = make_run()
    _append_in_thread(store, run.id, 3).join()

    async def main() -> tuple[list[int], list[int]]:
        everything = await _collect(follow_events(store, run.id))
        after_end = await _collect(follow_events(store, run.id, after_seq=5), timeout=3)
        return [e.seq for e in everything], [e.seq for e in after_end]

    assert asyncio.run(main()) == ([1, 2, 3, 4, 5], [])


def test_unknown_run_is_not_found(store: Store) -> None:
    async def main() -> None:
        await anext(follow_events(store, "nope"))

    with pytest.raises(NotFound):
        asyncio.run(main())


def test_a_gap_in_live_items_rereads_the_database(engine, make_run) -> None:
    """Seq N+2 arrives live before N+1: the follower reads N+1 (and N+2) from the database."""
    bus = Bus()
    quiet = Store(engine)  # writes without publishing
    loud = Store(engine, bus=bus)
    run = make_run()

    async def main() -> tuple[list[int], float]:
        stream = follow_events(loud, run.id, idle_seconds=30)
        assert (await anext(stream)).seq == 1
        started = time.monotonic()
        await asyncio.to_thread(quiet.append_event, run.id, EventType.RUN_STARTED)
        third = await asyncio.to_thread(quiet.append_event, run.id, EventType.RUN_PAUSED)
        bus.publish_events(run.id, [third])
        seen = [(await anext(stream)).seq, (await anext(stream)).seq]
        elapsed = time.monotonic() - started
        await stream.aclose()
        return seen, elapsed

    seen, elapsed = asyncio.run(main())
    assert seen == [2, 3]
    assert elapsed < 5, "the gap was not repaired at once"


def test_events_of_another_host_arrive_by_idle_reread(engine, make_run) -> None:
    other_host = Store(engine)  # no bus of ours sees its writes
    here = Store(engine, bus=Bus())
    run = make_run()

    async def main() -> list[int]:
        stream = follow_events(here, run.id, idle_seconds=0.1)
        writer = _append_in_thread(other_host, run.id, 20)
        seqs = [event.seq for event in await _collect(stream)]
        writer.join()
        return seqs

    assert asyncio.run(main()) == list(range(1, 23))


def test_a_lagging_follower_catches_up_from_the_database(engine, make_run) -> None:
    bus = Bus(max_events=3)
    store = Store(engine, bus=bus)
    run = make_run()

    async def main() -> list[int]:
        stream = follow_events(store, run.id, idle_seconds=30)
        assert (await anext(stream)).seq == 1
        # burst while the follower is not reading: its 3-item buffer overflows
        events = [f"{index}" for index in range(60)]
        await asyncio.to_thread(
            lambda: [store.append_event(run.id, EventType.AGENT_RETRY, {"i": i}) for i in events]
        )
        await asyncio.to_thread(
            store.append_event, run.id, EventType.RUN_FAILED, {"reason": "x"},
            run_changes={"status": RunStatus.FAILED},
        )  # fmt: skip
        return [1] + [event.seq for event in await _collect(stream, timeout=5)]

    assert asyncio.run(main()) == list(range(1, 63))


def test_output_stream_replays_follows_and_ends_with_the_run(store: Store, make_run) -> None:
    run = make_run()
    store.append_output(run.id, [(None, Phase.IMPLEMENTATION, 1, f"old {i}", 1) for i in range(3)])

    async def main() -> list[str]:
        stream = follow_output(store, run.id, after_seq=1, idle_seconds=0.2)
        first = await anext(stream)

        def agent() -> None:
            with OutputBatcher(store, run.id, iteration=1) as out:
                for index in range(250):
                    out.add(f"new {index}")
            store.append_event(
                run.id, EventType.RUN_COMPLETED, run_changes={"status": RunStatus.COMPLETED}
            )

        thread = threading.Thread(target=agent)
        thread.start()
        rest = await _collect(stream)
        thread.join()
        return [first.line] + [line.line for line in rest]

    lines = asyncio.run(main())
    assert lines == ["old 1", "old 2"] + [f"new {index}" for index in range(250)]
