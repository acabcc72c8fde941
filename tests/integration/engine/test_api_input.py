"""Every bad request gets a 4xx with an `error` message and creates nothing (SPEC 14, 17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integration.loopd import Loopd, make_workspace


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopd]:
    """One daemon for the whole module: these requests leave it as they found it."""
    loopd = Loopd(tmp_path_factory.mktemp("input") / "data")
    loopd.start()
    yield loopd
    loopd.stop()


def body(workspace: Path, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "spec_path": "specs/demo.md",
        "workspace_root": str(workspace),
        "config_override": {"agent": "scripted"},
    }
    base.update(changes)
    return base


def run_count(daemon: Loopd) -> int:
    return int(daemon.request("GET", "/runs").json()["total"])


BAD_BODIES = {
    "missing spec": {"spec_path": "specs/nope.md"},
    "missing plan": {"plan_path": "specs/planning/nope.md"},
    "spec escaping the workspace": {"spec_path": "../../etc/passwd"},
    "absolute spec outside": {"spec_path": "/etc/hostname"},
    "plan escaping": {"plan_path": "../outside-plan.md"},
    "relative workspace": {"workspace_root": "relative/dir"},
    "workspace missing": {"workspace_root": "/nonexistent/agentloop/ws"},
    "wrong type": {"spec_path": 42},
    "null spec": {"spec_path": None},
    "bad config value": {"config_override": {"iterations": "many"}},
    "negative iterations": {"config_override": {"iterations": -3}},
    "unknown agent": {"config_override": {"agent": "hal9000"}},
    "bad enum": {"merge_strategy": "rebase"},
    "unknown field": {"frobnicate": True},
    "bad template": {"worktree_path_template": "../{{ nope }}"},
    "config path escaping": {"config_path": "../../etc/passwd"},
    "NUL in path": {"spec_path": "specs/demo.md\u0000x"},
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_run_requests_are_refused_and_create_nothing(daemon: Loopd, workspace: Path, case: str):
    (workspace.parent / "outside-plan.md").write_text("- [ ] x\n")
    before = run_count(daemon)
    response = daemon.request("POST", "/runs", json=body(workspace, **BAD_BODIES[case]))
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert isinstance(response.json().get("error"), str) and response.json()["error"]
    assert run_count(daemon) == before


def test_a_workspace_that_is_not_a_git_repository_is_refused(daemon: Loopd, tmp_path: Path):
    plain = tmp_path / "plain"
    (plain / "specs" / "planning").mkdir(parents=True)
    (plain / "specs" / "demo.md").write_text("x")
    (plain / "specs" / "planning" / "demo-plan.md").write_text("- [ ] x\n")
    response = daemon.request("POST", "/runs", json=body(plain))
    assert response.status_code == 400
    assert "git" in response.json()["error"]


def test_a_corrupted_loop_config_is_refused_at_admission(daemon: Loopd, workspace: Path):
    (workspace / ".loop").mkdir()
    (workspace / ".loop" / "config").write_text("iterations=lots\nthis line has no equals\n")
    response = daemon.request("POST", "/runs", json=body(workspace))
    assert response.status_code == 400
    assert ".loop/config" in response.json()["error"]


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[]", b"null", b'"text"', b'{"spec_path": "x"}', b"\xff\xfe"]
)
def test_garbage_bodies_get_a_json_error(daemon: Loopd, raw: bytes):
    response = daemon.request(
        "POST", "/runs", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs/does-not-exist"),
        ("GET", "/runs/does-not-exist/steps"),
        ("GET", "/runs/does-not-exist/artifacts"),
        ("GET", "/runs/does-not-exist/events"),
        ("GET", "/runs/does-not-exist/output"),
        ("GET", "/runs/does-not-exist/diff"),
        ("POST", "/runs/does-not-exist/pause"),
        ("POST", "/runs/does-not-exist/cancel"),
        ("GET", "/no/such/route"),
    ],
)
def test_unknown_ids_answer_404_with_an_error(daemon: Loopd, method: str, path: str):
    response = daemon.request(method, path)
    assert response.status_code == 404
    assert response.json()["error"]


@pytest.mark.parametrize(
    "query", ["status=BOGUS", "limit=0", "limit=abc", "offset=-1", "limit=100000"]
)
def test_bad_list_queries_are_refused(daemon: Loopd, query: str):
    response = daemon.request("GET", f"/runs?{query}")
    assert response.status_code in (400, 422)
    assert response.json()["error"]


def test_impossible_transitions_answer_409_with_the_status(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, reviewer=False)
    daemon.wait_status(run["id"], "COMPLETED")
    for action in ("pause", "resume", "cancel", "retry"):
        response = daemon.request("POST", f"/runs/{run['id']}/{action}")
        assert response.status_code == 409, action
        assert response.json()["status"] == "COMPLETED"
        assert response.json()["error"]


def test_sse_rejects_a_bad_last_event_id(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, reviewer=False)
    response = daemon.request(
        "GET", f"/runs/{run['id']}/events", headers={"Last-Event-ID": "yesterday"}
    )
    assert response.status_code == 400


def test_runs_are_found_by_id_prefix_and_by_name(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, reviewer=False, name="my special run")
    assert daemon.request("GET", f"/runs/{run['id'][:13]}").json()["run"]["id"] == run["id"]
    assert daemon.request("GET", "/runs/my special run").json()["run"]["id"] == run["id"]


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Loopd]:
    loopd = Loopd(tmp_path / "secure-data", token="s3cret-token")
    loopd.start()
    yield loopd
    loopd.stop()


def test_the_token_is_required_everywhere_but_health(secured: Loopd, tmp_path: Path):
    workspace = make_workspace(tmp_path, name="secure")
    plain = httpx.Client(base_url=secured.base, timeout=10)
    assert plain.get("/health").status_code == 200
    for method, path in [
        ("GET", "/runs"),
        ("POST", "/runs"),
        ("GET", "/runs/x"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/runs/x/events"),
    ]:
        response = plain.request(method, path)
        assert response.status_code == 401, path
        assert response.json()["error"]
    wrong = plain.get("/runs", headers={"Authorization": "Bearer s3cret-tokeN"})
    assert wrong.status_code == 401
    assert secured.create_run(workspace, reviewer=False)["status"] == "PENDING"
    assert "s3cret-token" not in secured.log_text()


def test_health_and_metrics(daemon: Loopd):
    health = daemon.request("GET", "/health").json()
    assert health["status"] == "ok" and "version" in health and "runs_active" in health
    metrics = daemon.request("GET", "/metrics")
    assert metrics.status_code == 200 and "loopd_runs" in metrics.text
    assert daemon.request("GET", "/openapi.json").json()["paths"]["/runs"]


def test_a_second_daemon_on_a_busy_port_exits_with_a_clear_message(daemon: Loopd, tmp_path):
    import subprocess

    from integration.loopd import LOOPD

    done = subprocess.run(
        [str(LOOPD), "--addr", daemon.base, "--data-dir", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "already in use" in done.stderr


def test_a_second_daemon_on_the_same_data_dir_is_refused(daemon: Loopd):
    import subprocess

    from integration.loopd import LOOPD, free_port

    done = subprocess.run(
        [str(LOOPD), "--addr", f"127.0.0.1:{free_port()}", "--data-dir", str(daemon.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "another loopd" in done.stderr


def test_an_ambiguous_reference_lists_the_candidates(daemon: Loopd, tmp_path: Path):
    workspace = make_workspace(tmp_path, name="twins")
    first = daemon.create_run(workspace, reviewer=False, name="twin")
    second = daemon.create_run(workspace, reviewer=False, name="twin")
    response = daemon.request("GET", "/runs/twin")
    assert response.status_code == 400
    matches = response.json()["matches"]
    assert {m["id"] for m in matches} == {first["id"], second["id"]}
    assert all(m["name"] == "twin" and m["status"] for m in matches)


def test_follow_false_returns_the_stored_history_and_ends(daemon: Loopd, tmp_path: Path):
    import time

    workspace = make_workspace(tmp_path, name="history")
    run = daemon.create_run(workspace, model="hang=1", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["status"] == "RUNNING", what="running")
    started = time.monotonic()
    with daemon.client() as client:
        text = client.get(f"/runs/{run['id']}/events?follow=false").text
    assert time.monotonic() - started < 2.0  # a live run, yet the stream ended at once
    assert "RUN_CREATED" in text and "RUN_STARTED" in text
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
