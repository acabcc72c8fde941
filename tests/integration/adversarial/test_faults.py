"""Faults around a run (issue 6): artifact directories that cannot be written, a database
another process holds locked, an agent that hangs on every attempt, runs of one workspace
racing each other. Each time the run ends with a clear reason (or completes), never stuck
RUNNING, and the daemon stays up and keeps serving other runs.

Tests run as root, where file modes do not stop writes: the unwritable places are a FILE
where a directory must be, a directory where a file must be, and a path under /proc.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration.engine.test_durability import assert_history_consistent
from integration.loopd import Loopd, make_workspace, processes_with_env

BUSY_TIMEOUT_SEC = 10  # agentloop.store.db.SQLITE_BUSY_TIMEOUT_MS


def test_unwritable_artifact_dirs_fail_their_runs_naming_the_path(
    daemon: Loopd, tmp_path: Path
) -> None:
    # the workspace run dirs' parent is a file
    blocked = make_workspace(tmp_path, tasks=1, name="blocked")
    (blocked / "logs").mkdir()
    (blocked / "logs" / "loop").write_text("a file where the run dirs go\n")
    # the global mirror lives where nothing can be created
    proc_mirror = make_workspace(tmp_path, tasks=1, name="proc-mirror")
    # the next iteration's log is a directory (made while the first iteration runs)
    midway = make_workspace(tmp_path, tasks=2, name="midway")
    healthy = make_workspace(tmp_path, tasks=2, name="healthy")

    runs = {
        "blocked": daemon.create_run(blocked, reviewer=False),
        "proc": daemon.create_run(
            proc_mirror, reviewer=False, global_log_dir="/proc/agentloop-mirror"
        ),
        "midway": daemon.create_run(midway, reviewer=False, model="delay=1"),
        "healthy": daemon.create_run(healthy, reviewer=False, model="delay=0.3"),
    }
    midway_dir = midway / "logs" / "loop" / f"run-{runs['midway']['id']}"
    daemon.wait_for(lambda: (midway_dir / "iter-01.log").exists(), what="iteration 1's log")
    (midway_dir / "iter-02.log").mkdir()

    reasons = {
        key: daemon.wait_status(run["id"], "FAILED", timeout=60)["reason"]
        for key, run in runs.items()
        if key != "healthy"
    }
    assert str(blocked / "logs" / "loop") in reasons["blocked"]
    assert "Not a directory" in reasons["blocked"]
    assert "/proc/agentloop-mirror/runs/run-" in reasons["proc"]
    assert str(midway_dir / "iter-02.log") in reasons["midway"]
    assert "Is a directory" in reasons["midway"]
    assert not (blocked / "logs" / "loop").is_dir()

    # the daemon is up and the other run was not disturbed
    assert daemon.wait_status(runs["healthy"]["id"], "COMPLETED", timeout=60)["tasks_done"] == 2
    assert daemon.request("GET", "/health").status_code == 200
    for key in ("midway", "healthy"):
        assert_history_consistent(daemon, runs[key]["id"])
    for key in ("blocked", "proc"):  # no step started: their events are still gap-free
        seqs = [e["seq"] for e in daemon.events(runs[key]["id"])]
        assert seqs == list(range(1, len(seqs) + 1))


@contextmanager
def exclusive_lock(database: Path) -> Iterator[sqlite3.Connection]:
    """Hold the write lock of ``database`` as another process would (`BEGIN EXCLUSIVE`)."""
    conn = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@pytest.mark.parametrize("hold_sec", [3, BUSY_TIMEOUT_SEC + 2])
def test_a_locked_database_delays_or_fails_the_run_and_the_daemon_stays_up(
    daemon: Loopd, tmp_path: Path, hold_sec: int
) -> None:
    workspace = make_workspace(tmp_path, tasks=2, name="locked")
    run = daemon.create_run(workspace, reviewer=False, model="delay=0.3")
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 1, what="iteration 1")
    with exclusive_lock(daemon.data_dir / "loopd.db"):
        deadline = time.monotonic() + hold_sec
        while time.monotonic() < deadline:
            # reads go on under the write lock (WAL)
            assert daemon.request("GET", "/health").status_code == 200
            assert daemon.request("GET", f"/runs/{run['id']}").status_code == 200
            time.sleep(0.5)
    done = daemon.wait_status(run["id"], "COMPLETED", "FAILED", timeout=60)
    if hold_sec < BUSY_TIMEOUT_SEC:  # within the busy timeout, writers wait
        assert done["status"] == "COMPLETED", done["reason"]
    elif done["status"] == "FAILED":  # past it, the run fails saying why
        assert "database" in done["reason"] and "locked" in done["reason"], done["reason"]
    assert_history_consistent(daemon, run["id"])
    assert daemon.request("GET", "/health").json()["runs_active"] == 0
    other = daemon.create_run(make_workspace(tmp_path, tasks=1, name="after"), reviewer=False)
    assert daemon.wait_status(other["id"], "COMPLETED")["status"] == "COMPLETED"


def test_an_agent_hanging_on_every_attempt_is_retried_then_fails(
    daemon: Loopd, workspace: Path
) -> None:
    """test_agents_in_runs.py times out one attempt; here the retry policy applies first."""
    run = daemon.create_run(
        workspace,
        agent="claude",
        model="standin:hang",
        agent_timeout_sec=1,
        agent_retries=1,
        agent_retry_backoff_sec=0.01,
        postmortem=False,  # it would ask the same hanging agent
    )
    done = daemon.wait_status(run["id"], "FAILED", timeout=60)
    assert done["reason"].startswith("agent_timeout"), done["reason"]
    retries = [e for e in daemon.events(run["id"]) if e["event_type"] == "AGENT_RETRY"]
    assert len(retries) == 1, retries
    assert not processes_with_env("LOOP_RUN_ID", run["id"])


def test_runs_of_one_spec_started_together_each_get_their_own_branch(
    daemon: Loopd, workspace: Path
) -> None:
    """They prepare concurrently: each must see the others' branches (run/demo, -2, -3)."""
    runs = [daemon.create_run(workspace, reviewer=False, name_source="spec_slug") for _ in range(3)]
    done = [daemon.wait_status(run["id"], "COMPLETED", timeout=60) for run in runs]
    branches = sorted(run["worktree"]["run_branch"] for run in done)
    assert branches == ["run/demo", "run/demo-2", "run/demo-3"]
    paths = {run["worktree"]["worktree_path"] for run in done}
    assert len(paths) == 3
