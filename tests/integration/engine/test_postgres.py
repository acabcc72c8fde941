"""The same engine on PostgreSQL (SPEC 11, 12): one code path, another database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbfixtures import fresh_pg_url, pg_admin_url  # noqa: F401  (fixtures)
from integration.loopd import Loopd, git, make_workspace
from standins import standin_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_daemon(tmp_path: Path, fresh_pg_url: str) -> Iterator[Loopd]:  # noqa: F811
    loopd = Loopd(
        tmp_path / "data",
        env=standin_env(base={"PATH": os.environ["PATH"]}),
        args=["--database-url", fresh_pg_url],
    )
    loopd.start()
    yield loopd
    loopd.stop()


def test_a_run_completes_and_merges_on_postgres(pg_daemon: Loopd, tmp_path: Path):
    workspace = make_workspace(tmp_path, tasks=3)
    run = pg_daemon.create_run(
        workspace, verify_cmds="test -d tasks", merge_target_branch="agent/pg"
    )
    done = pg_daemon.wait_status(run["id"], "COMPLETED")
    assert done["tasks_done"] == 3
    events = pg_daemon.events(run["id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert git(workspace, "log", "--format=%s", "main..agent/pg").startswith("agentloop:")


def test_kill9_on_postgres_resumes_the_run(pg_daemon: Loopd, tmp_path: Path):
    workspace = make_workspace(tmp_path, tasks=3)
    run = pg_daemon.create_run(workspace, model="delay=0.6", reviewer=False)
    pg_daemon.wait_for(lambda: pg_daemon.run(run["id"])["iteration"] >= 1, what="iteration 1")
    pg_daemon.kill9()
    pg_daemon.start()
    done = pg_daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert done["tasks_done"] == 3
    events = pg_daemon.events(run["id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    starts = [
        (e["payload"]["phase"], e["payload"]["iteration"])
        for e in events
        if e["event_type"] == "STEP_STARTED"
    ]
    assert len(starts) == len(set(starts))
