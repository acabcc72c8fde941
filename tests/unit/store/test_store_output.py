"""Output lines: gap-free seqs, batching by OutputBatcher, order, latency, failures."""

from __future__ import annotations

import threading
import time

import pytest

from agentloop.core.errors import NotFound, StoreError
from agentloop.core.types import Phase
from agentloop.store import NewOutputLine, OutputBatcher, Store


def test_append_output_numbers_lines_per_run(store: Store, make_run) -> None:
    run, other = make_run(), make_run()
    first = store.append_output(
        run.id,
        [
            ("s1", Phase.IMPLEMENTATION, 1, "one", 10),
            NewOutputLine("s1", Phase.REVIEW, 1, "two", 11),
        ],
    )
    second = store.append_output(run.id, [(None, Phase.VERIFICATION, 2, "three", 12)])
    assert [line.seq for line in first + second] == [1, 2, 3]
    assert store.append_output(other.id, [(None, Phase.MERGE, 0, "x", 1)])[0].seq == 1
    assert store.append_output(run.id, []) == []
    stored = store.output_after(run.id)
    assert stored == first + second
    assert (stored[1].phase, stored[1].step_id, stored[1].timestamp) == (Phase.REVIEW, "s1", 11)
    assert [line.line for line in store.output_after(run.id, after_seq=1, limit=1)] == ["two"]


def test_append_output_unknown_run(store: Store) -> None:
    with pytest.raises(NotFound):
        store.append_output("nope", [(None, Phase.IMPLEMENTATION, 1, "x", 1)])


def test_concurrent_output_appends_are_gap_free(store: Store, make_run) -> None:
    run = make_run()

    def write(worker: int) -> None:
        for index in range(50):
            store.append_output(
                run.id,
                [
                    (None, Phase.IMPLEMENTATION, worker, f"{worker}:{index}:{n}", 1)
                    for n in range(3)
                ],
            )

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = store.output_after(run.id, limit=None)
    assert [line.seq for line in lines] == list(range(1, 601))
    # each batch of three stays contiguous
    for start in range(0, 600, 3):
        prefixes = {line.line.rsplit(":", 1)[0] for line in lines[start : start + 3]}
        assert len(prefixes) == 1


def test_batcher_keeps_order_and_batches(store: Store, make_run) -> None:
    run = make_run()
    commits = []
    original = store.append_output

    def counting(run_id, lines, **kwargs):
        commits.append(len(lines))
        return original(run_id, lines, **kwargs)

    store.append_output = counting  # type: ignore[method-assign]
    with OutputBatcher(store, run.id, step_id="s1", phase=Phase.IMPLEMENTATION, iteration=3) as out:
        for index in range(1000):
            out.add(f"line {index}\n")
    lines = store.output_after(run.id, limit=None)
    assert [line.line for line in lines] == [f"line {index}" for index in range(1000)]
    assert [line.seq for line in lines] == list(range(1, 1001))
    assert {(line.step_id, line.iteration, line.phase) for line in lines} == {
        ("s1", 3, Phase.IMPLEMENTATION)
    }
    assert sum(commits) == 1000 and len(commits) < 100
    assert out.lines_written == 1000 and out.lines_dropped == 0


def test_batcher_commits_a_lone_line_within_milliseconds(store: Store, make_run) -> None:
    run = make_run()
    with store.output_batcher(run.id) as out:
        started = time.monotonic()
        out.add("hello", phase=Phase.REVIEW, iteration=2, step_id="s9")
        while not store.output_after(run.id):
            assert time.monotonic() - started < 1.0, "the line was not committed"
            time.sleep(0.002)
        latency = time.monotonic() - started
    assert latency < 0.5
    [line] = store.output_after(run.id)
    assert (line.line, line.phase, line.iteration, line.step_id) == ("hello", Phase.REVIEW, 2, "s9")


def test_batcher_flush_and_1000_lines_per_second(store: Store, make_run) -> None:
    run = make_run()
    out = OutputBatcher(store, run.id)
    started = time.monotonic()
    for index in range(1000):
        out.add(f"{index}")
        if index % 100 == 99:
            time.sleep(0.01)  # a chatty agent: bursts
    out.flush(timeout=10)
    assert len(store.output_after(run.id, limit=None)) == 1000
    assert time.monotonic() - started < 5
    out.close()
    out.close()  # idempotent
    with pytest.raises(RuntimeError):
        out.add("late")


def test_batcher_reports_an_unknown_run_on_close(store: Store) -> None:
    out = OutputBatcher(store, "no-such-run")
    out.add("lost")
    time.sleep(0.1)
    out.add("dropped at once: the writer gave up")
    with pytest.raises(NotFound):
        out.close()
    assert out.lines_dropped == 2 and out.lines_written == 0


def test_batcher_retries_a_failing_database_in_order(store: Store, make_run) -> None:
    run = make_run()
    failures = [2]
    original = store.append_output

    def flaky(run_id, lines, **kwargs):
        if failures[0]:
            failures[0] -= 1
            raise StoreError("append output: database unavailable or busy: disk I/O error")
        return original(run_id, lines, **kwargs)

    store.append_output = flaky  # type: ignore[method-assign]
    with OutputBatcher(store, run.id) as out:
        for index in range(300):
            out.add(str(index))
            if index == 10:
                time.sleep(0.05)
    assert [line.line for line in store.output_after(run.id)] == [str(i) for i in range(300)]
    assert failures == [0] and out.lines_dropped == 0


def test_batcher_close_raises_when_the_database_stays_down(store: Store, make_run) -> None:
    run = make_run()

    def down(run_id, lines, **kwargs):
        raise StoreError("append output: database unavailable or busy: connection refused")

    store.append_output = down  # type: ignore[method-assign]
    out = OutputBatcher(store, run.id)
    out.add("a")
    out.add("b")
    with pytest.raises(StoreError):
        out.flush(timeout=2)
    with pytest.raises(StoreError, match="connection refused"):
        out.close()
    assert out.lines_dropped == 2
