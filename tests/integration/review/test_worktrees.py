"""`GET /worktrees` and `DELETE /worktrees` (SPEC 14)."""

from __future__ import annotations

from pathlib import Path

from integration.loopd import Loopd, git, make_workspace


def test_delete_worktrees_removes_finished_runs_worktrees_and_keeps_branches(
    daemon: Loopd, tmp_path: Path
):
    done_ws = make_workspace(tmp_path, name="done")
    live_ws = make_workspace(tmp_path, name="live")
    finished = daemon.create_run(done_ws, reviewer=False, worktree_cleanup=False)
    finished = daemon.wait_status(finished["id"], "COMPLETED")
    live = daemon.create_run(live_ws, model="hang=1", reviewer=False)
    daemon.wait_for(lambda: daemon.run(live["id"])["status"] == "RUNNING", what="running")
    listed = {w["path"] for w in daemon.request("GET", "/worktrees").json()["worktrees"]}
    assert finished["worktree"]["worktree_path"] in listed

    answer = daemon.request("DELETE", "/worktrees").json()
    assert [r["run_id"] for r in answer["removed"]] == [finished["id"]]
    assert live["id"] in [k["run_id"] for k in answer["kept"]]
    assert not Path(finished["worktree"]["worktree_path"]).exists()
    assert Path(daemon.run(live["id"])["worktree"]["worktree_path"]).exists()
    branch = finished["worktree"]["run_branch"]
    assert git(done_ws, "branch", "--list", branch).strip().endswith(branch)
    assert daemon.run(finished["id"])["worktree_cleanup_status"] == "cleaned"
    assert daemon.request("DELETE", "/worktrees").json()["removed"] == []
    daemon.request("POST", f"/runs/{live['id']}/cancel")


def test_a_scrapped_run_cannot_be_retried(daemon: Loopd, workspace: Path):
    run = daemon.create_run(workspace, model="hang=1", reviewer=False)
    daemon.wait_for(lambda: daemon.run(run["id"])["status"] == "RUNNING", what="running")
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    daemon.wait_status(run["id"], "CANCELED")
    assert daemon.request("POST", f"/runs/{run['id']}/scrap").status_code == 200
    refused = daemon.request("POST", f"/runs/{run['id']}/retry")
    assert refused.status_code == 409 and "scrapped" in refused.json()["error"]
