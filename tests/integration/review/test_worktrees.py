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


def test_uncommitted_work_is_kept_without_force_and_saved_with_it(daemon: Loopd, tmp_path: Path):
    ws = make_workspace(tmp_path, name="dirty")
    other = make_workspace(tmp_path, name="other")
    run = daemon.create_run(ws, reviewer=False, worktree_cleanup=False)
    run = daemon.wait_status(run["id"], "COMPLETED")
    elsewhere = daemon.create_run(other, reviewer=False, worktree_cleanup=False)
    elsewhere = daemon.wait_status(elsewhere["id"], "COMPLETED")
    worktree = Path(run["worktree"]["worktree_path"])
    (worktree / "notes.txt").write_text("not committed yet\n")

    kept = daemon.request("DELETE", "/worktrees", params={"workspace": str(ws)}).json()
    assert kept["removed"] == []
    assert kept["kept"][0]["run_id"] == run["id"]
    assert "uncommitted changes (notes.txt)" in kept["kept"][0]["reason"]
    assert worktree.exists()
    assert Path(elsewhere["worktree"]["worktree_path"]).exists()  # another workspace's

    forced = daemon.request(
        "DELETE", "/worktrees", params={"workspace": str(ws), "force": "true"}
    ).json()
    assert [r["run_id"] for r in forced["removed"]] == [run["id"]]
    assert not worktree.exists()
    saved = git(ws, "show", f"refs/agentloop/wip/{run['id']}:notes.txt")
    assert saved == "not committed yet"
    assert Path(elsewhere["worktree"]["worktree_path"]).exists()


def test_one_worktree_by_path(daemon: Loopd, tmp_path: Path):
    ws = make_workspace(tmp_path, name="bypath")
    done = daemon.create_run(ws, reviewer=False, worktree_cleanup=False)
    done = daemon.wait_status(done["id"], "COMPLETED")
    path = done["worktree"]["worktree_path"]
    stranger = tmp_path / "stranger"
    git(ws, "worktree", "add", "-q", "-b", "hand-made", str(stranger))

    def delete(**params: str):
        return daemon.request("DELETE", "/worktrees", params={"workspace": str(ws), **params})

    assert delete(path=str(ws)).status_code == 400  # the primary checkout
    assert delete(path=str(tmp_path)).status_code == 400  # not a worktree of ws
    no_workspace = daemon.request("DELETE", "/worktrees", params={"path": path})
    assert no_workspace.status_code == 400
    answer = delete(path=path).json()
    assert [r["run_id"] for r in answer["removed"]] == [done["id"]]
    assert not Path(path).exists()
    (stranger / "draft.txt").write_text("draft\n")
    assert delete(path=str(stranger)).json()["kept"][0]["run_id"] is None
    assert delete(path=str(stranger), force="true").json()["removed"][0]["path"] == str(
        stranger.resolve()
    )
    assert not stranger.exists()


def test_cleanup_after_cancel_saves_uncommitted_work(daemon: Loopd, workspace: Path):
    run = daemon.create_run(
        workspace, agent="command", agent_cmd="echo half done > wip.txt; sleep 300"
    )
    daemon.wait_for(
        lambda: (
            Path((daemon.run(run["id"])["worktree"] or {}).get("worktree_path") or "/-") / "wip.txt"
        ).exists(),
        what="the agent's file",
    )
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    removed = daemon.wait_for(
        lambda: [e for e in daemon.events(run["id"]) if e["event_type"] == "WORKTREE_REMOVED"],
        what="the cleanup",
    )
    assert removed[0]["payload"]["wip_ref"] == f"refs/agentloop/wip/{run['id']}"
    assert git(workspace, "show", f"refs/agentloop/wip/{run['id']}:wip.txt") == "half done"
