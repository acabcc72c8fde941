"""Crash recovery, control transitions and process hygiene against a real loopd."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

from integration.loopd import Loopd, git, make_workspace, processes_with_env, terminal_event


def assert_history_consistent(daemon: Loopd, run_id: str) -> list[dict]:
    events = daemon.events(run_id)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    starts = Counter(
        (e["payload"]["phase"], e["payload"]["iteration"])
        for e in events
        if e["event_type"] == "STEP_STARTED"
    )
    assert max(starts.values()) == 1, starts
    steps = daemon.steps(run_id)
    keys = Counter((s["phase"], s["iteration"]) for s in steps)
    assert max(keys.values()) == 1, keys
    artifacts = daemon.request("GET", f"/runs/{run_id}/artifacts").json()["artifacts"]
    paths = Counter((a["location"], a["path"]) for a in artifacts)
    assert max(paths.values()) == 1, paths
    return events


def test_kill9_mid_run_then_restart_completes_with_gap_free_events(daemon: Loopd, tmp_path: Path):
    workspace = make_workspace(tmp_path, tasks=4, name="crashy")
    run = daemon.create_run(
        workspace, model="delay=0.6", verify_cmds="true", merge_target_branch="agent/crash"
    )
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 2, what="iteration 2")
    daemon.kill9()
    daemon.start()
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    assert done["tasks_done"] == 4
    events = assert_history_consistent(daemon, run["id"])
    assert [e["event_type"] for e in events].count("RUN_COMPLETED") == 1
    assert git(workspace, "log", "--format=%s", "main..agent/crash").count("agentloop:") == 1


def test_cancel_of_a_hung_agent_leaves_no_process_behind(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, agent="claude", model="standin:grandchild")
    daemon.wait_for(
        lambda: any("grandchild" in o["line"] for o in daemon.output(run["id"])),
        what="the agent's grandchild",
    )
    assert len(processes_with_env("LOOP_RUN_ID", run["id"])) >= 2
    started = time.monotonic()
    response = daemon.request("POST", f"/runs/{run['id']}/cancel")
    assert response.status_code == 204
    daemon.wait_for(
        lambda: not processes_with_env("LOOP_RUN_ID", run["id"]),
        timeout=5.0,
        what="every agent process to exit",
    )
    assert time.monotonic() - started < 5.0
    done = daemon.wait_status(run["id"], "CANCELED")
    assert done["reason"] == "canceled"
    events = daemon.events(run["id"])
    assert terminal_event(events)["event_type"] == "RUN_CANCELED"
    step = next(s for s in daemon.steps(run["id"]) if s["phase"] == "implementation")
    assert step["status"] == "CANCELED"
    # cancel is idempotent; other transitions of a canceled run are refused with its status
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    refused = daemon.request("POST", f"/runs/{run['id']}/pause")
    assert refused.status_code == 409 and refused.json()["status"] == "CANCELED"


def test_pause_stops_the_agent_and_resume_continues_to_completion(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, model="delay=0.5", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 1, what="iteration 1")
    assert daemon.request("POST", f"/runs/{run['id']}/pause").status_code == 204
    assert daemon.request("POST", f"/runs/{run['id']}/pause").status_code == 204
    paused = daemon.wait_status(run["id"], "PAUSED")
    time.sleep(1.0)
    assert daemon.run(run["id"])["iteration"] == paused["iteration"]
    assert not processes_with_env("LOOP_RUN_ID", run["id"])
    assert daemon.request("POST", f"/runs/{run['id']}/resume").status_code == 204
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 3
    events = assert_history_consistent_loose(daemon, run["id"])
    types = [e["event_type"] for e in events]
    assert "RUN_PAUSED" in types and "RUN_RESUMED" in types
    assert daemon.request("POST", f"/runs/{run['id']}/resume").status_code == 409


def test_a_step_interrupted_by_pause_runs_again_as_a_recorded_attempt(
    daemon: Loopd, workspace: Path
):
    run = daemon.create_run(workspace, model="hang=1", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 1, what="iteration 1")
    assert daemon.request("POST", f"/runs/{run['id']}/pause").status_code == 204
    daemon.wait_status(run["id"], "PAUSED")
    assert daemon.request("POST", f"/runs/{run['id']}/resume").status_code == 204
    daemon.wait_status(run["id"], "RUNNING", timeout=20)

    def attempts() -> list[dict]:
        return [s for s in daemon.steps(run["id"]) if s["phase"] == "implementation"]

    daemon.wait_for(lambda: len(attempts()) == 2, what="the second attempt")
    assert [s["status"] for s in attempts()] == ["CANCELED", "IN_PROGRESS"]
    events = assert_history_consistent_loose(daemon, run["id"])
    types = [e["event_type"] for e in events]
    assert types.count("STEP_STARTED") == 2
    assert types.index("RUN_RESUMED") < len(types) - 1 - types[::-1].index("STEP_STARTED")
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204


def assert_history_consistent_loose(daemon: Loopd, run_id: str) -> list[dict]:
    """Gap-free and unique; a paused step legitimately starts again on resume."""
    events = daemon.events(run_id)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    return events


def test_retry_runs_a_failed_run_again_from_its_failed_step(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, iterations=2, reviewer=False)
    failed = daemon.wait_status(run["id"], "FAILED")
    assert failed["reason"] == "iteration_limit" and failed["tasks_done"] == 2
    assert daemon.request("POST", f"/runs/{run['id']}/retry").status_code == 204
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 3 and done["iteration"] == 3
    events = assert_history_consistent_loose(daemon, run["id"])
    assert [e["event_type"] for e in events].count("RUN_FAILED") == 1
    assert terminal_event(events)["event_type"] == "RUN_COMPLETED"
    # The iteration the limit stopped had done its work: only its decision was taken again.
    implementations = Counter(
        s["iteration"] for s in daemon.steps(run["id"]) if s["phase"] == "implementation"
    )
    assert implementations == {1: 1, 2: 1, 3: 1}


def test_a_step_recorded_before_its_checkpoint_is_not_run_again(daemon: Loopd, tmp_path: Path):
    """The window between a step's own transaction and DBOS's checkpoint of its result: the
    daemon dies there, DBOS runs the step again on restart, and the step returns what it
    recorded instead of running its agent a second time. Reproduced by deleting DBOS's
    checkpoint of iteration 1's implementation step while loopd is down."""
    workspace = make_workspace(tmp_path, tasks=3, name="unchecked")
    run = daemon.create_run(workspace, model="delay=0.8", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 2, what="iteration 2")
    daemon.kill9()
    database = daemon.data_dir / "loopd.db"
    with sqlite3.connect(database) as db:
        [(function_id,)] = db.execute(
            "SELECT min(function_id) FROM operation_outputs"
            " WHERE workflow_uuid = ? AND function_name = 'agentloop.implementation'",
            (run["id"],),
        ).fetchall()
        db.execute(
            "DELETE FROM operation_outputs WHERE workflow_uuid = ? AND function_id >= ?",
            (run["id"], function_id),
        )
    daemon.start()
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=90)
    # Run again, the agent would have done task 2 in iteration 1 and finished a round early.
    assert done["tasks_done"] == 3 and done["iteration"] == 3
    assert_history_consistent(daemon, run["id"])
    logs = workspace / "logs" / "loop" / f"run-{run['id']}"
    assert (logs / "iter-01.log").read_text().count("scripted: implementing") == 1


def test_reset_starts_over_on_a_fresh_branch(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, reviewer=False, worktree_cleanup=False)
    first = daemon.wait_status(run["id"], "COMPLETED")
    assert daemon.request("POST", f"/runs/{run['id']}/reset").status_code == 204
    second = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert second["worktree"]["run_branch"] != first["worktree"]["run_branch"]
    assert second["worktree"]["run_branch"].startswith(first["worktree"]["run_branch"])
    assert_history_consistent_loose(daemon, run["id"])


def test_sigterm_drains_and_the_run_resumes_on_next_start(daemon: Loopd, tmp_path: Path):
    workspace = make_workspace(tmp_path, tasks=3, name="drained")
    run = daemon.create_run(workspace, model="delay=0.6", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["iteration"] >= 1, what="iteration 1")
    started = time.monotonic()
    assert daemon.stop(timeout=15) == 0
    assert time.monotonic() - started < 10
    assert not processes_with_env("LOOP_RUN_ID", run["id"])
    daemon.start()
    done = daemon.wait_status(run["id"], "COMPLETED", timeout=60)
    assert done["tasks_done"] == 3
    assert_history_consistent(daemon, run["id"])


# Deaf to SIGTERM (ignored across exec): a cancel stops it only with the SIGKILL 3 s later.
DEAF_AGENT = """\
trap '' TERM
cat >/dev/null
echo started > "$1"
exec sleep 300
"""


def test_a_cancels_worktree_cleanup_survives_a_kill9(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    """The cleanup waits for the agent the cancel stopped; loopd killed -9 meanwhile, the
    restart still removes the worktree (a cleanup thread died with loopd, for good)."""
    script, started = tmp_path / "deaf-agent.sh", tmp_path / "started"
    script.write_text(DEAF_AGENT)
    run = daemon.create_run(
        workspace, agent="command", agent_cmd=f"sh {script} {started}", reviewer=False
    )
    daemon.wait_for(started.exists, what="the agent")
    worktree = Path(daemon.run(run["id"])["worktree"]["worktree_path"])
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    time.sleep(0.5)
    assert worktree.exists()  # the agent's grace is not over
    daemon.kill9()
    daemon.start()
    done = daemon.wait_for(
        lambda: (r := daemon.run(run["id"]))["worktree_cleanup_status"] and r,
        what="the cleanup",
    )
    assert (done["status"], done["worktree_cleanup_status"]) == ("CANCELED", "cleaned")
    assert not worktree.exists()
