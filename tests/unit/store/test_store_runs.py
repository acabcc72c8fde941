"""Runs: creation with RUN_CREATED, reads, listing, abbreviations, bookkeeping."""

from __future__ import annotations

import pytest

from agentloop.core.errors import Conflict, InvalidInput, NotFound, StoreError
from agentloop.core.models import WorktreeInfo
from agentloop.core.types import EventType, MergeStrategy, NameSource, RunStatus
from agentloop.store import Increment, Store, rfc3339_to_ms


def test_create_run_stores_pending_run_and_run_created(store: Store, make_run) -> None:
    run = make_run(
        name="fix-login",
        name_source=NameSource.SPEC_SLUG,
        agent="claude",
        model="opus",
        worktree=WorktreeInfo(base_branch="main", merge_strategy=MergeStrategy.MERGE),
        tasks_total=7,
        config={"iterations": 50, "nested": {"a": [1, 2]}},
    )
    assert run.status == RunStatus.PENDING
    assert run.name == "fix-login" and run.name_source == NameSource.SPEC_SLUG
    assert run.worktree.base_branch == "main"
    assert run.worktree.merge_strategy == MergeStrategy.MERGE
    assert run.tasks_total == 7 and run.iteration == 0
    assert run.config == {"iterations": 50, "nested": {"a": [1, 2]}}
    assert run.created_at.endswith("Z") and run.created_at == run.updated_at
    assert store.get_run(run.id) == run

    [created] = store.events_after(run.id)
    assert created.seq == 1 and created.event_type == EventType.RUN_CREATED
    assert created.payload == {
        "name": "fix-login",
        "name_source": "spec_slug",
        "spec_path": run.spec_path,
        "plan_path": run.plan_path,
    }
    assert store.last_seq(run.id) == 1


def test_create_run_inside_a_rolled_back_transaction_leaves_nothing(store: Store, make_run) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        run = make_run(conn=conn, run_id="01-doomed")
        assert store.get_run(run.id, conn=conn).status == RunStatus.PENDING
        raise RuntimeError("the enqueue failed")
    with pytest.raises(NotFound):
        store.get_run("01-doomed")
    assert store.events_after("01-doomed") == []


def test_create_run_with_a_taken_id_is_a_store_error(store: Store, make_run) -> None:
    make_run(run_id="same-id")
    with pytest.raises(StoreError, match="constraint"):
        make_run(run_id="same-id")
    assert len(store.events_after("same-id")) == 1


def test_unknown_run_is_not_found(store: Store) -> None:
    for read in (store.get_run, store.last_seq, store.list_steps, store.get_run_counters):
        with pytest.raises(NotFound):
            read("nope")


def test_list_runs_newest_first_with_filters_and_pages(store: Store, make_run) -> None:
    times = iter(range(1_000_000, 2_000_000, 1000))
    store._clock = lambda: next(times)  # type: ignore[method-assign]
    made = [make_run(name=f"r{i}", workspace_root=f"/ws{i % 2}") for i in range(7)]
    store.append_event(made[3].id, EventType.RUN_STARTED, run_changes={"status": "RUNNING"})
    store.append_event(made[5].id, EventType.RUN_STARTED, run_changes={"status": "RUNNING"})

    page, total = store.list_runs(limit=3)
    assert total == 7 and [run.name for run in page] == ["r6", "r5", "r4"]
    page, total = store.list_runs(limit=3, offset=6)
    assert total == 7 and [run.name for run in page] == ["r0"]
    page, total = store.list_runs(workspace_root="/ws1")
    assert total == 3 and [run.name for run in page] == ["r5", "r3", "r1"]
    page, total = store.list_runs(status=RunStatus.RUNNING)
    assert total == 2 and [run.name for run in page] == ["r5", "r3"]
    page, total = store.list_runs(status=["RUNNING", "PENDING"], workspace_root="/ws0")
    assert total == 4
    assert store.list_runs(status="COMPLETED") == ([], 0)

    assert [run.name for run in store.runs_by_status(RunStatus.PENDING)] == [
        "r0", "r1", "r2", "r4", "r6",
    ]  # fmt: skip
    assert store.count_active() == 2
    counts = store.count_by_status()
    assert counts[RunStatus.PENDING] == 5 and counts[RunStatus.RUNNING] == 2


def test_find_and_resolve_runs_by_prefix_or_name(store: Store, make_run) -> None:
    first = make_run(run_id="0abc-1111", name="alpha")
    make_run(run_id="0abc-2222", name="beta")
    make_run(run_id="0xyz-3333", name="beta")
    assert [run.id for run in store.find_runs("0abc-1111")] == ["0abc-1111"]
    assert sorted(run.id for run in store.find_runs("0abc")) == ["0abc-1111", "0abc-2222"]
    assert store.resolve_run("0abc-1").id == first.id
    assert store.resolve_run("alpha").id == first.id
    with pytest.raises(InvalidInput, match="matches 2 runs"):
        store.resolve_run("beta")
    with pytest.raises(NotFound):
        store.resolve_run("zzz")
    # LIKE wildcards in a reference are literal
    assert store.find_runs("0abc%") == [] and store.find_runs("_abc") == []


def test_update_run_bookkeeping_and_state(store: Store, make_run) -> None:
    run = make_run()
    store.update_run(
        run.id,
        {
            "state": {"leftover_pgids": [12, 13]},
            "consecutive_verification_failures": Increment(1),
            "rewrites_used": 2,
        },
    )
    store.update_run(run.id, consecutive_verification_failures=Increment(1))
    assert store.get_run_state(run.id) == {"leftover_pgids": [12, 13]}
    state = store.get_run_counters(run.id)
    assert state.state == {"leftover_pgids": [12, 13]}
    assert state.consecutive_verification_failures == 2
    assert state.rewrites_used == 2
    assert state.last_seq == 1 and state.status == RunStatus.PENDING


def test_update_run_refuses_unknown_and_protected_columns(store: Store, make_run) -> None:
    run = make_run()
    for column in ("no_such_column", "last_seq", "id", "created_at"):
        with pytest.raises(ValueError, match="not a run column"):
            store.update_run(run.id, {column: 1})
    with pytest.raises(NotFound):
        store.update_run("nope", {"reason": "x"})


def test_update_run_expect_status_conflict(store: Store, make_run) -> None:
    run = make_run()
    with pytest.raises(Conflict) as caught:
        store.update_run(run.id, {"reason": "x"}, expect_status={RunStatus.RUNNING})
    assert caught.value.current_status == "PENDING"
    assert store.get_run(run.id).reason is None


def test_run_times_are_rfc3339_utc(store: Store, make_run) -> None:
    store._clock = lambda: 1_700_000_000.123  # type: ignore[method-assign]
    run = make_run()
    assert run.created_at == "2023-11-14T22:13:20.123Z"
    assert rfc3339_to_ms(run.created_at) == 1_700_000_000_123


def test_create_run_takes_flat_worktree_columns(store: Store, make_run) -> None:
    run = make_run(
        worktree=WorktreeInfo(base_branch="main", run_branch="run/a"),
        base_branch="develop", merge_target_branch="agent/x", merge_strategy="none",
        worktree_path="/wt", worktree_provider="git",
    )  # fmt: skip
    assert run.worktree == WorktreeInfo(
        base_branch="develop", run_branch="run/a", merge_target_branch="agent/x",
        merge_strategy=MergeStrategy.NONE, worktree_path="/wt", provider="git",
    )  # fmt: skip
