"""Events: gap-free seqs under concurrency, idempotent keys, projections in one transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from agentloop.core.errors import Conflict, NotFound, StoreError
from agentloop.core.types import EventType, Phase, RunStatus, StepStatus
from agentloop.store import Increment, NewEvent, StepChange, Store
from agentloop.store.schema import events, steps


def _started(key: str = "wf:3", **fields) -> StepChange:
    return StepChange(
        key=key, phase=Phase.IMPLEMENTATION, iteration=1, status=StepStatus.IN_PROGRESS,
        started_at=1000, **fields,
    )  # fmt: skip


def test_seqs_are_gap_free_under_concurrent_appends(store: Store, make_run) -> None:
    run = make_run()
    other = make_run()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def append(worker: int) -> None:
        barrier.wait()
        try:
            for index in range(200):
                target = run if index % 4 else other
                store.append_event(
                    target.id, EventType.WATCHDOG_SIGNAL, {"worker": worker, "index": index},
                    run_changes={"tokens_in": Increment(1)},
                )  # fmt: skip
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for target, appended in ((run, 8 * 150), (other, 8 * 50)):
        seqs = [event.seq for event in store.events_after(target.id)]
        assert seqs == list(range(1, appended + 2))  # RUN_CREATED is seq 1
        assert store.last_seq(target.id) == appended + 1
        assert store.get_run(target.id).tokens_in == appended
    # every worker's events kept their own order
    by_worker: dict[int, list[int]] = {}
    for event in store.events_after(run.id, after_seq=1):
        by_worker.setdefault(event.payload["worker"], []).append(event.payload["index"])
    assert all(indexes == sorted(indexes) for indexes in by_worker.values())


def test_keyed_event_is_stored_once(store: Store, make_run) -> None:
    run = make_run()
    step = _started()
    first = store.append_event(
        run.id, EventType.STEP_STARTED, {"phase": "implementation"}, key="wf:3:started",
        step=step, run_changes={"iteration": Increment(1), "tokens_in": Increment(10)},
    )  # fmt: skip
    again = store.append_event(
        run.id, EventType.STEP_STARTED, {"phase": "changed"}, key="wf:3:started",
        step=step, run_changes={"iteration": Increment(1), "tokens_in": Increment(10)},
    )  # fmt: skip
    assert again == first
    assert [event.seq for event in store.events_after(run.id)] == [1, 2]
    current = store.get_run(run.id)
    assert current.iteration == 1 and current.tokens_in == 10
    assert len(store.list_steps(run.id)) == 1
    # the same key on another run is another event
    other = make_run()
    assert store.append_event(other.id, EventType.RUN_STARTED, key="wf:3:started").seq == 2


def test_concurrent_keyed_appends_store_one_event(store: Store, make_run) -> None:
    run = make_run()
    barrier = threading.Barrier(6)
    results = []

    def replay() -> None:
        barrier.wait()
        results.append(store.append_event(run.id, EventType.RUN_STARTED, key="started"))

    threads = [threading.Thread(target=replay) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({event.id for event in results}) == 1
    assert [event.seq for event in store.events_after(run.id)] == [1, 2]


def test_step_change_inserts_then_updates_by_key(store: Store, make_run) -> None:
    run = make_run()
    started = store.append_event(
        run.id, EventType.STEP_STARTED, {"attempt": 1}, step=_started(pgid=4242)
    )
    [step] = store.list_steps(run.id)
    assert started.step_id == step.id
    assert step.status == StepStatus.IN_PROGRESS and step.started_at is not None
    assert store.step_processes(run.id)[0][2] == 4242

    # the workflow step re-runs after a crash: same key, the row is updated, not duplicated
    store.append_event(run.id, EventType.STEP_STARTED, {"attempt": 2}, step=_started(attempt=2))
    finished = store.append_event(
        run.id, EventType.STEP_FINISHED, {"exit_code": 0},
        step=StepChange(
            key="wf:3", status=StepStatus.SUCCEEDED, finished_at=5000, duration_ms=4000,
            exit_code=0, tokens_in=100, tokens_out=50, cost_usd=0.25, output_path="/x/iter-01.log",
            clear=frozenset({"pgid"}),
        ),
    )  # fmt: skip
    [step] = store.list_steps(run.id)
    assert finished.step_id == step.id
    assert (step.status, step.attempt, step.exit_code, step.duration_ms) == (
        StepStatus.SUCCEEDED, 2, 0, 4000,
    )  # fmt: skip
    assert (step.tokens_in, step.tokens_out, step.cost_usd) == (100, 50, 0.25)
    assert store.step_processes(run.id) == []


def test_steps_are_listed_in_event_order(store: Store, make_run) -> None:
    run = make_run()
    for iteration, phase in [
        (1, Phase.IMPLEMENTATION),
        (1, Phase.REVIEW),
        (2, Phase.IMPLEMENTATION),
    ]:
        store.append_event(
            run.id, EventType.STEP_STARTED,
            step=StepChange(phase=phase, iteration=iteration, status=StepStatus.QUEUED),
        )  # fmt: skip
    listed = [(step.iteration, step.phase) for step in store.list_steps(run.id)]
    assert listed == [(1, Phase.IMPLEMENTATION), (1, Phase.REVIEW), (2, Phase.IMPLEMENTATION)]


def test_record_step_without_an_event(store: Store, make_run) -> None:
    run = make_run()
    event = store.append_event(run.id, EventType.STEP_STARTED, step=_started())
    step = store.record_step(run.id, StepChange(id=event.step_id, pgid=99, proc_start_time=12.5))
    assert step.id == event.step_id
    assert store.step_processes(run.id)[0][2:] == (99, 12.5)
    assert store.last_seq(run.id) == 2


def test_finish_appends_several_events_atomically(store: Store, make_run) -> None:
    run = make_run()
    started = store.append_event(run.id, EventType.STEP_STARTED, step=_started())
    appended = store.append_events(
        run.id,
        [
            NewEvent(
                EventType.STEP_FINISHED, {"exit_code": 0},
                step=StepChange(key="wf:3", status=StepStatus.SUCCEEDED, exit_code=0),
            ),
            NewEvent(
                EventType.RUN_COMPLETED, {"mode": "trailing"}, key="finish",
                run_changes={"status": RunStatus.COMPLETED, "finished_at": 9000, "phase": None},
                expect_status={RunStatus.PENDING, RunStatus.RUNNING},
            ),
        ],
    )  # fmt: skip
    assert [event.seq for event in appended] == [3, 4]
    assert appended[0].step_id == started.step_id
    run = store.get_run(run.id)
    assert run.status == RunStatus.COMPLETED and run.finished_at is not None


def test_failure_inside_the_transaction_writes_nothing(store: Store, make_run) -> None:
    run = make_run()
    store.append_event(run.id, EventType.STEP_STARTED, step=_started())
    before = (store.get_run(run.id), store.list_steps(run.id), store.events_after(run.id))

    # a database error after the first event's rows went in (second step id is another run's)
    other = make_run()
    foreign = store.append_event(other.id, EventType.STEP_STARTED, step=_started())
    with pytest.raises(StoreError, match="belongs to run"):
        store.append_events(
            run.id,
            [
                NewEvent(
                    EventType.STEP_FINISHED, step=StepChange(key="wf:3", status=StepStatus.FAILED),
                    run_changes={"status": RunStatus.FAILED, "reason": "x"},
                ),
                NewEvent(EventType.RUN_FAILED, step=StepChange(id=foreign.step_id, exit_code=1)),
            ],
        )  # fmt: skip
    # a Python error half-way through the caller's own transaction
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.append_event(
            run.id, EventType.RUN_FAILED, {"reason": "x"}, conn=conn,
            run_changes={"status": RunStatus.FAILED, "tokens_in": Increment(5)},
            step=StepChange(key="wf:3", status=StepStatus.FAILED),
        )  # fmt: skip
        raise RuntimeError("crash before commit")
    # a constraint violation from the database itself
    with pytest.raises(StoreError), store.transaction() as conn:
        store.append_event(run.id, EventType.RUN_PAUSED, conn=conn)
        conn.execute(sa.insert(events).values(
            id="dup", run_id=run.id, seq=1, event_type="RUN_PAUSED", timestamp=0, payload={},
        ))  # fmt: skip
    after = (store.get_run(run.id), store.list_steps(run.id), store.events_after(run.id))
    assert after == before


def test_expect_status_guards_the_transition(store: Store, make_run) -> None:
    run = make_run()
    with pytest.raises(Conflict) as caught:
        store.append_event(
            run.id, EventType.RUN_PAUSED, run_changes={"status": RunStatus.PAUSED},
            expect_status={RunStatus.RUNNING},
        )  # fmt: skip
    assert caught.value.current_status == "PENDING"
    assert store.last_seq(run.id) == 1


def test_append_to_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.append_event("nope", EventType.RUN_STARTED)
    with pytest.raises(NotFound):
        store.append_event("nope", EventType.RUN_STARTED, key="k")


def test_new_step_needs_phase_iteration_status(store: Store, make_run) -> None:
    run = make_run()
    with pytest.raises(ValueError, match="phase"):
        store.append_event(run.id, EventType.STEP_STARTED, step=StepChange(key="k"))
    assert store.last_seq(run.id) == 1


def test_events_after_pages_and_payloads(store: Store, make_run) -> None:
    run = make_run()
    for index in range(5):
        store.append_event(
            run.id, EventType.AGENT_RETRY,
            {"attempt": index, "text": "nul\x00 and \udcff", "nested": {"list": [1, "a"]}},
            timestamp=1234 + index,
        )  # fmt: skip
    page = store.events_after(run.id, after_seq=2, limit=2)
    assert [event.seq for event in page] == [3, 4]
    assert page[0].timestamp == 1235
    assert page[0].payload == {
        "attempt": 1,
        "text": "nul\ufffd and \ufffd",
        "nested": {"list": [1, "a"]},
    }
    assert store.events_after(run.id, after_seq=6) == []


def test_step_keys_are_unique_per_run_in_the_database(store: Store, make_run) -> None:
    run = make_run()
    store.append_event(run.id, EventType.STEP_STARTED, step=_started())
    with pytest.raises(StoreError), store.transaction() as conn:
        conn.execute(sa.insert(steps).values(
            id="other", run_id=run.id, step_key="wf:3", seq=9, phase="review", iteration=1,
            status="QUEUED", created_at=0, updated_at=0,
        ))  # fmt: skip


def test_step_as_a_mapping_and_update_step(store: Store, make_run) -> None:
    run = make_run()
    event = store.append_event(
        run.id, EventType.STEP_STARTED,
        step={"key": "wf:7", "phase": Phase.VERIFICATION, "iteration": 2, "status": "IN_PROGRESS"},
    )  # fmt: skip
    step = store.update_step(event.step_id, pgid=321, proc_start_time=5.5, message="running")
    assert (step.phase, step.iteration, step.message) == (Phase.VERIFICATION, 2, "running")
    process = store.step_process(event.step_id)
    assert process is not None and (process.pgid, process.proc_start_time) == (321, 5.5)
    assert store.step_process("nope") is None
    with pytest.raises(NotFound):
        store.update_step("nope", pgid=1)


def test_cancel_open_steps(store: Store, make_run) -> None:
    run = make_run()
    store.append_event(run.id, EventType.STEP_STARTED, step=_started(key="a"))
    store.append_event(
        run.id, EventType.STEP_FINISHED,
        step=StepChange(key="b", phase=Phase.REVIEW, iteration=1, status=StepStatus.SUCCEEDED),
    )  # fmt: skip
    canceled = store.cancel_open_steps(run.id, message="paused by user")
    assert len(canceled) == 1
    by_status = {step.status: step for step in store.list_steps(run.id)}
    assert set(by_status) == {StepStatus.CANCELED, StepStatus.SUCCEEDED}
    stopped = by_status[StepStatus.CANCELED]
    assert stopped.id == canceled[0] and stopped.message == "paused by user"
    assert stopped.finished_at is not None and stopped.duration_ms is not None
    assert store.cancel_open_steps(run.id) == []


def test_pages_of_events_and_output_read_everything_in_order(store: Store, make_run) -> None:
    from agentloop.store.changes import NewOutputLine

    run = make_run()
    for index in range(10):
        store.append_event(run.id, EventType.WATCHDOG_SIGNAL, {"index": index})
    store.append_output(
        run.id, [NewOutputLine(None, Phase.IMPLEMENTATION, 1, f"line {i}", 0) for i in range(10)]
    )

    def every_seq(read: Callable[[str, int, int], Sequence[Any]], page: int) -> list[int]:
        seen, after = [], 0
        while batch := read(run.id, after, page):
            seen += [item.seq for item in batch]
            after = batch[-1].seq
        return seen

    def every_event(page: int) -> list[int]:
        return every_seq(store.events_after, page)

    def every_line(page: int) -> list[int]:
        return every_seq(store.output_after, page)

    all_events = [event.seq for event in store.events_after(run.id, 0, None)]
    assert all_events == list(range(1, len(all_events) + 1)) and len(all_events) >= 10
    for page in (1, 3, 10, 50):
        assert every_event(page) == all_events
        assert every_line(page) == list(range(1, 11))
    # The store never leaves a gap; were there one, no page would stop short of the rest.
    with store.engine.begin() as conn:
        conn.execute(
            sa.delete(events).where(events.c.run_id == run.id, events.c.seq.in_([4, 5, 6]))
        )
    for page in (1, 2, 3, 50):
        assert every_event(page) == [seq for seq in all_events if seq not in (4, 5, 6)]


def test_a_step_cannot_start_unseen_while_a_cancel_closes_steps(store: Store, make_run) -> None:
    # The cancel closes open steps and writes CANCELED in one transaction; a step start that
    # races it either comes first (and is closed) or is refused: never left IN_PROGRESS.
    run = make_run()
    store.append_event(run.id, EventType.RUN_STARTED, run_changes={"status": RunStatus.RUNNING})
    outcome: list[object] = []
    entered = threading.Event()

    def start_a_step() -> None:
        entered.set()
        try:
            store.append_event(
                run.id, EventType.STEP_STARTED, step=_started("wf:9"),
                expect_status={RunStatus.PENDING, RunStatus.RUNNING},
            )  # fmt: skip
            outcome.append("started")
        except Conflict as refused:
            outcome.append(refused)

    with store.transaction() as conn:
        store.cancel_open_steps(run.id, conn=conn)
        racer = threading.Thread(target=start_a_step)
        racer.start()
        entered.wait()
        racer.join(0.3)  # it must wait for our lock on the run, not slip in
        assert racer.is_alive()
        store.append_event(
            run.id, EventType.RUN_CANCELED, conn=conn,
            run_changes={"status": RunStatus.CANCELED},
        )  # fmt: skip
    racer.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    assert [s for s in store.list_steps(run.id) if s.status is StepStatus.IN_PROGRESS] == []


def test_a_late_finish_leaves_a_canceled_step_as_it_was_closed(store: Store, make_run) -> None:
    """A cancel closed the step; its agent ended as it was being killed and its finish came
    after: the step stays CANCELED (its exit code and usage are added), never SUCCEEDED."""
    run = make_run()
    store.append_event(run.id, EventType.STEP_STARTED, step=_started(key="a"))
    [step_id] = store.cancel_open_steps(run.id, message="canceled")
    closed = store.get_step(step_id)

    store.append_event(
        run.id, EventType.STEP_FINISHED,
        step=StepChange(key="a", status=StepStatus.SUCCEEDED, finished_at=store.now_ms() + 5000,
                        duration_ms=99_999, exit_code=0, tokens_in=7, message="done"),
    )  # fmt: skip

    late = store.get_step(step_id)
    assert (late.status, late.finished_at, late.duration_ms, late.message) == (
        StepStatus.CANCELED,
        closed.finished_at,
        closed.duration_ms,
        "canceled",
    )
    assert (late.exit_code, late.tokens_in) == (0, 7)
    # a change that closes nothing (the agent's process group) still applies
    store.update_step(step_id, pgid=42)
    process = store.step_process(step_id)
    assert process is not None and process.pgid == 42


def test_expect_epoch_refuses_a_write_of_a_superseded_attempt(store: Store, make_run) -> None:
    run = make_run(state={"epoch": 3})
    fresh = make_run()  # no epoch in its state yet: attempt 0

    with pytest.raises(Conflict) as caught:
        store.append_events(run.id, [NewEvent(EventType.RUN_STARTED, expect_epoch=2)])
    assert caught.value.current_status == "PENDING"
    with pytest.raises(Conflict):
        store.update_run(run.id, iteration=5, expect_epoch=2)
    assert store.last_seq(run.id) == 1 and store.get_run(run.id).iteration == 0

    store.append_events(run.id, [NewEvent(EventType.RUN_STARTED, expect_epoch=3)])
    store.append_events(fresh.id, [NewEvent(EventType.RUN_STARTED, expect_epoch=0)])
    assert store.update_run(run.id, iteration=5, expect_epoch=3).iteration == 5
    assert (store.last_seq(run.id), store.last_seq(fresh.id)) == (2, 2)
