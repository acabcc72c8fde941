"""Two loopd processes sharing one PostgreSQL database (SPEC 11)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbfixtures import fresh_pg_url, pg_admin_url  # noqa: F401  (fixtures)
from integration.loopd import Loopd, make_workspace, processes_with_env
from standins import standin_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def hosts(tmp_path: Path, fresh_pg_url: str) -> Iterator[tuple[Loopd, Loopd]]:  # noqa: F811
    env = standin_env(base={"PATH": os.environ["PATH"]})
    pair = tuple(
        Loopd(tmp_path / f"host-{name}", env=env, args=["--database-url", fresh_pg_url])
        for name in ("a", "b")
    )
    for daemon in pair:
        daemon.start()
    yield pair  # type: ignore[misc]
    for daemon in pair:
        daemon.stop()


def worker_of(daemon: Loopd, run_id: str) -> str:
    started = [e for e in daemon.stored_events(run_id) if e["event_type"] == "RUN_STARTED"]
    return str(started[-1]["payload"]["worker_id"])


def test_a_run_whose_host_died_is_taken_over_by_the_other(hosts, tmp_path: Path):
    a, b = hosts
    workspace = make_workspace(tmp_path, tasks=4, name="shared")
    # Each step takes 2 s, so the run is still in its first iterations when its host dies.
    run = a.create_run(workspace, model="delay=2", reviewer=False)
    a.wait_for(lambda: a.run(run["id"])["iteration"] >= 1, what="iteration 1")
    owner = worker_of(a, run["id"])
    dying, survivor = (a, b) if owner.endswith(f":{a.port}") else (b, a)
    dying.kill9()
    died = time.monotonic()
    requeued = survivor.wait_for(
        lambda: [
            e
            for e in survivor.stored_events(run["id"])
            if e["event_type"] == "RUN_RESUMED" and e["payload"]["reason"] == "host_failover"
        ],
        what="the takeover",
    )
    print(f"failover: run back to PENDING {time.monotonic() - died:.2f} s after the kill")
    assert requeued[0]["payload"]["host"] == owner
    done = survivor.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 4
    assert worker_of(survivor, run["id"]) == owner  # the run kept its identity
    events = survivor.events(run["id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    steps = survivor.steps(run["id"])
    assert [s for s in steps if s["status"] == "CANCELED"]  # the step the dead host ran
    assert not [s for s in steps if s["status"] == "IN_PROGRESS"]
    succeeded = [(s["phase"], s["iteration"]) for s in steps if s["status"] == "SUCCEEDED"]
    assert len(succeeded) == len(set(succeeded))  # no step's work done twice
    dying.start()  # let the fixture stop it cleanly


def test_either_host_answers_for_and_controls_every_run(hosts, tmp_path: Path):
    a, b = hosts
    workspace = make_workspace(tmp_path, tasks=3, name="either")
    run = a.create_run(workspace, agent="claude", model="standin:hang", reviewer=False)
    a.wait_for(lambda: processes_with_env("LOOP_RUN_ID", run["id"]), what="the agent")
    assert b.run(run["id"])["status"] == "RUNNING"
    runner, other = (a, b) if worker_of(a, run["id"]).endswith(f":{a.port}") else (b, a)
    assert other.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    runner.wait_for(
        lambda: not processes_with_env("LOOP_RUN_ID", run["id"]),
        timeout=5.0,
        what="the agent on the other host to stop",
    )
    assert runner.wait_status(run["id"], "CANCELED")["status"] == "CANCELED"


def test_a_second_loopd_with_the_same_executor_id_is_refused(hosts, tmp_path: Path):
    import subprocess

    from integration.loopd import LOOPD, free_port

    a, _ = hosts
    url = a.args[a.args.index("--database-url") + 1]
    env = {**os.environ, "DBOS__VMID": f"{os.uname().nodename}:{a.port}"}
    done = subprocess.run(
        [str(LOOPD), "--addr", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "twin"),
         "--database-url", url],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 1
    assert "another loopd is running as executor" in done.stderr


def test_each_host_runs_at_most_its_own_worker_concurrency(tmp_path: Path, fresh_pg_url: str):  # noqa: F811
    # DBOS keeps one queue row for all hosts: the per-host cap must not be the last
    # registered host's (here b's 3, which would let a run 3 as well)
    env = standin_env(base={"PATH": os.environ["PATH"]})
    caps = {"a": 1, "b": 3}
    a, b = (
        Loopd(
            tmp_path / f"host-{name}",
            env=env,
            args=[
                "--database-url",
                fresh_pg_url,
                "--max-concurrency",
                "8",
                "--worker-concurrency",
                str(cap),
            ],
        )
        for name, cap in caps.items()
    )
    a.start()
    b.start()
    try:
        runs = [
            (a if i % 2 else b).create_run(
                make_workspace(tmp_path, tasks=1, name=f"ws{i}"),
                agent="claude",
                model="standin:hang",
                reviewer=False,
            )["id"]
            for i in range(6)
        ]

        def running() -> list[str]:
            return [r for r in runs if processes_with_env("LOOP_RUN_ID", r)]

        a.wait_for(lambda: len(running()) >= 4, timeout=30, what="4 runs to start")
        time.sleep(2.0)  # several polls of both hosts: no fifth run may start
        started = running()
        per_host = {name: 0 for name in caps}
        for run_id in started:
            worker = worker_of(a, run_id)
            per_host["a" if worker.endswith(f":{a.port}") else "b"] += 1
        print(f"runs per host with --worker-concurrency a=1 b=3: {per_host}")
        assert per_host == caps
        assert sorted(a.run(r)["status"] for r in runs) == ["PENDING"] * 2 + ["RUNNING"] * 4
    finally:
        for daemon in (a, b):
            for run_id in runs if "runs" in locals() else []:
                daemon.request("POST", f"/runs/{run_id}/cancel")
            daemon.stop()


def test_a_run_paused_and_resumed_from_the_other_host_goes_on_where_it_ran(
    tmp_path: Path,
    fresh_pg_url: str,  # noqa: F811
):
    """The pause on the runner marks the run interrupted there (as its monitor does for a
    pause on another host); the resume is the other host's, which cannot clear that mark.
    With the other host's one slot busy, the resumed run lands on the runner again: its
    agent must start as a new attempt, not already canceled."""
    env = standin_env(base={"PATH": os.environ["PATH"]}, STANDIN_WORK_MODEL="delay=3")
    a, b = (
        Loopd(
            tmp_path / f"host-{name}",
            env=env,
            args=["--database-url", fresh_pg_url, "--worker-concurrency", "1"],
        )
        for name in ("a", "b")
    )
    a.start()
    b.start()
    try:
        blocker = a.create_run(
            make_workspace(tmp_path, tasks=1, name="blocker"),
            agent="claude",
            model="standin:hang",
            reviewer=False,
        )["id"]
        a.wait_for(lambda: processes_with_env("LOOP_RUN_ID", blocker), what="the blocker")
        busy, runner = (a, b) if worker_of(a, blocker).endswith(f":{a.port}") else (b, a)
        run = a.create_run(
            make_workspace(tmp_path, tasks=2, name="moved"), agent="claude", reviewer=False
        )["id"]
        a.wait_for(lambda: processes_with_env("LOOP_RUN_ID", run), what="the run's agent")
        assert not worker_of(a, run).endswith(f":{busy.port}")

        assert runner.request("POST", f"/runs/{run}/pause").status_code == 204
        busy.wait_for(lambda: not processes_with_env("LOOP_RUN_ID", run), what="the kill")
        assert busy.run(run)["status"] == "PAUSED"
        assert busy.request("POST", f"/runs/{run}/resume").status_code == 204

        done = busy.wait_status(run, "COMPLETED", "FAILED", timeout=60)
        assert (done["status"], done["tasks_done"]) == ("COMPLETED", 2)
        attempts = [s for s in busy.steps(run) if s["phase"] == "implementation"]
        assert attempts[0]["status"] == "CANCELED"  # the paused one
        assert [s["status"] for s in attempts[1:]] == ["SUCCEEDED"] * 2
    finally:
        for daemon in (a, b):
            daemon.request("POST", f"/runs/{blocker}/cancel")
            daemon.stop()
