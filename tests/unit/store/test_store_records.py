"""The artifact index, agent holds and settings."""

from __future__ import annotations

import pytest

from agentloop.core.errors import StoreError
from agentloop.core.types import ArtifactLocation
from agentloop.store import Store


def test_index_artifact_upserts_per_location_and_path(store: Store, make_run) -> None:
    run = make_run()
    first = store.index_artifact(
        run.id, "iteration_log", ArtifactLocation.WORKSPACE, "/a/iter-01.log", "aa" * 32, 10
    )
    mirror = store.index_artifact(
        run.id, "iteration_log", ArtifactLocation.GLOBAL, "/g/iter-01.log", "aa" * 32, 10
    )
    again = store.index_artifact(
        run.id, "iteration_log", ArtifactLocation.WORKSPACE, "/a/iter-01.log", "bb" * 32, 20
    )
    assert again.id == first.id and again.created_at == first.created_at
    assert (again.checksum, again.size) == ("bb" * 32, 20)
    listed = store.list_artifacts(run.id)
    assert {(a.location, a.path, a.size) for a in listed} == {
        (ArtifactLocation.WORKSPACE, "/a/iter-01.log", 20),
        (ArtifactLocation.GLOBAL, "/g/iter-01.log", 10),
    }
    assert mirror.id != first.id
    assert store.list_artifacts(make_run().id) == []


def test_index_artifact_of_unknown_run_fails(store: Store) -> None:
    with pytest.raises(StoreError):
        store.index_artifact("nope", "report", ArtifactLocation.WORKSPACE, "/x", "c", 1)


def test_agent_holds_expire(store: Store) -> None:
    now = [1000.0]
    store._clock = lambda: now[0]  # type: ignore[method-assign]
    assert store.get_hold("claude") is None
    store.set_hold("claude", 1900.0, "usage_limit")
    store.set_hold("codex", 1100.0)
    assert store.get_hold("claude") == 1900.0
    assert store.holds() == {"claude": 1900.0, "codex": 1100.0}
    store.set_hold("claude", 2000.0, "later reset")  # a second report moves it
    now[0] = 1500.0
    assert store.get_hold("claude") == 2000.0
    assert store.get_hold("codex") is None  # expired
    store.clear_hold("claude")
    assert store.get_hold("claude") is None
    store.clear_hold("never-held")


def test_settings_hold_json(store: Store) -> None:
    assert store.get_setting("caps") is None
    assert store.get_setting("caps", {"max_concurrency": 3}) == {"max_concurrency": 3}
    store.put_setting("caps", {"max_concurrency": 5, "queue_policy": "fifo", "per_ws": None})
    store.put_setting("caps", {"max_concurrency": 2, "queue_policy": "newest_first"})
    store.put_setting("flag", True)
    assert store.get_setting("caps") == {"max_concurrency": 2, "queue_policy": "newest_first"}
    assert store.settings() == {
        "caps": {"max_concurrency": 2, "queue_policy": "newest_first"},
        "flag": True,
    }
