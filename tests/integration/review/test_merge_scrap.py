"""POST /runs/{id}/merge and /scrap against a real loopd and real git (SPEC 8, 14)."""

from __future__ import annotations

from pathlib import Path

from integration.loopd import Loopd, git, make_workspace
from integration.review.support import branch_tip, commit_on, completed_run, history, types


def test_merge_squashes_into_agent_spec_slug_and_is_idempotent(
    daemon: Loopd, workspace: Path
) -> None:
    done = completed_run(daemon, workspace)
    run_id, branch = done["id"], done["worktree"]["run_branch"]
    worktree = Path(done["worktree"]["worktree_path"])
    assert worktree.is_dir()
    user_head = git(workspace, "rev-parse", "HEAD")
    run_tip = branch_tip(workspace, branch)

    response = daemon.request("POST", f"/runs/{run_id}/merge")
    assert response.status_code == 200, response.text
    run = response.json()["run"]
    assert run["review_status"] == "merged" and run["merge_commit"]
    assert run["worktree"]["merge_target_branch"] == "agent/demo"
    assert run["worktree_cleanup_status"] == "cleaned" and not worktree.exists()
    assert branch_tip(workspace, "agent/demo") == run["merge_commit"]
    log = git(workspace, "log", "--format=%s", "main..agent/demo").splitlines()
    assert len(log) == 1 and log[0].startswith("agentloop:")  # squashed
    files = git(workspace, "ls-tree", "-r", "--name-only", "agent/demo").splitlines()
    assert {"tasks/task-1.txt", "tasks/task-2.txt", "tasks/task-3.txt"} <= set(files)
    # the run branch is kept; the user's checkout is untouched
    assert branch_tip(workspace, branch) == run_tip
    assert git(workspace, "rev-parse", "HEAD") == user_head
    assert git(workspace, "branch", "--show-current") == "main"
    assert git(workspace, "status", "--porcelain", "--untracked-files=no") == ""
    merged = [e for e in history(daemon, run_id) if e["event_type"] == "MERGE_COMPLETED"]
    assert [e["payload"]["target"] for e in merged] == ["agent/demo"]
    assert merged[0]["payload"]["strategy"] == "squash"
    assert merged[0]["payload"]["commit"] == run["merge_commit"]
    assert "WORKTREE_REMOVED" in types(daemon, run_id)

    again = daemon.request("POST", f"/runs/{run_id}/merge", json={"target": "elsewhere"})
    assert again.status_code == 200, again.text
    assert again.json()["run"]["merge_commit"] == run["merge_commit"]
    assert types(daemon, run_id).count("MERGE_COMPLETED") == 1
    assert branch_tip(workspace, "elsewhere") is None


def test_merge_into_a_named_target_with_the_merge_strategy(daemon: Loopd, workspace: Path) -> None:
    done = completed_run(daemon, workspace)
    response = daemon.request(
        "POST", f"/runs/{done['id']}/merge", json={"target": "review/x", "strategy": "merge"}
    )
    assert response.status_code == 200, response.text
    run = response.json()["run"]
    assert run["worktree"]["merge_target_branch"] == "review/x"
    assert run["worktree"]["merge_strategy"] == "merge"
    parents = git(workspace, "log", "-1", "--format=%P", "review/x").split()
    assert len(parents) == 2  # a real merge commit


def test_merge_refuses_bad_input_and_unfinished_runs(daemon: Loopd, workspace: Path) -> None:
    done = completed_run(daemon, workspace)
    bad = daemon.request("POST", f"/runs/{done['id']}/merge", json={"strategy": "none"})
    assert bad.status_code == 422 and "error" in bad.json()
    bad = daemon.request("POST", f"/runs/{done['id']}/merge", json={"target": "a..b"})
    assert bad.status_code == 400 and "not a valid" in bad.json()["error"]
    same = daemon.request(
        "POST", f"/runs/{done['id']}/merge", json={"target": done["worktree"]["run_branch"]}
    )
    assert same.status_code == 400
    missing = daemon.request("POST", "/runs/no-such-run/merge")
    assert missing.status_code == 404


def test_merge_conflict_answers_409_and_keeps_everything(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    done = completed_run(daemon, workspace)
    run_id, branch = done["id"], done["worktree"]["run_branch"]
    target_tip = commit_on(workspace, "agent/demo", "tasks/task-1.txt", "theirs\n", tmp_path / "x")
    run_tip = branch_tip(workspace, branch)

    response = daemon.request("POST", f"/runs/{run_id}/merge")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["reason"] == "merge_conflict" and body["status"] == "COMPLETED"
    assert "tasks/task-1.txt" in body["paths"] and "conflicts" in body["error"]
    assert branch_tip(workspace, "agent/demo") == target_tip
    assert branch_tip(workspace, branch) == run_tip
    run = daemon.run(run_id)
    assert run["merge_commit"] is None and run["review_status"] == "pending"
    assert Path(run["worktree"]["worktree_path"]).is_dir()  # still awaiting review
    assert "MERGE_COMPLETED" not in types(daemon, run_id)


def test_merged_tree_verification_failure_answers_409(daemon: Loopd, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, name="verified")
    done = completed_run(daemon, workspace, verify_cmds="test ! -f poison")
    target_tip = commit_on(workspace, "agent/demo", "poison", "x\n", tmp_path / "p")
    response = daemon.request("POST", f"/runs/{done['id']}/merge")
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "merge_verification_failed"
    assert branch_tip(workspace, "agent/demo") == target_tip
    log = workspace / "logs" / "loop" / f"run-{done['id']}" / "verify-merge.log"
    assert log.exists()


def test_scrap_deletes_branch_and_worktree_and_is_idempotent(
    daemon: Loopd, workspace: Path
) -> None:
    done = completed_run(daemon, workspace)
    run_id, branch = done["id"], done["worktree"]["run_branch"]
    worktree = Path(done["worktree"]["worktree_path"])

    response = daemon.request("POST", f"/runs/{run_id}/scrap")
    assert response.status_code == 200, response.text
    run = response.json()["run"]
    assert run["review_status"] == "scrapped" and run["worktree_cleanup_status"] == "cleaned"
    assert branch_tip(workspace, branch) is None and not worktree.exists()
    assert str(worktree) not in git(workspace, "worktree", "list")
    removed = [e for e in history(daemon, run_id) if e["event_type"] == "WORKTREE_REMOVED"]
    assert len(removed) == 1 and removed[0]["payload"]["branch_deleted"] == branch

    again = daemon.request("POST", f"/runs/{run_id}/scrap")
    assert again.status_code == 200 and again.json()["run"]["review_status"] == "scrapped"
    assert types(daemon, run_id).count("WORKTREE_REMOVED") == 1
    merge = daemon.request("POST", f"/runs/{run_id}/merge")
    assert merge.status_code == 409 and merge.json()["reason"] == "scrapped"


def test_scrap_refuses_a_running_run(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, model="delay=30")
    daemon.wait_status(run["id"], "RUNNING")
    response = daemon.request("POST", f"/runs/{run['id']}/scrap")
    assert response.status_code == 409
    assert response.json()["status"] == "RUNNING" and "cancel it first" in response.json()["error"]
    merge = daemon.request("POST", f"/runs/{run['id']}/merge")
    assert merge.status_code == 409 and merge.json()["reason"] == "not_terminal"
    assert daemon.request("POST", f"/runs/{run['id']}/cancel").status_code == 204
    branch = daemon.wait_status(run["id"], "CANCELED")["worktree"]["run_branch"]
    assert branch and branch_tip(workspace, branch) is not None
    scrapped = daemon.request("POST", f"/runs/{run['id']}/scrap")
    assert scrapped.status_code == 200, scrapped.text
    assert branch_tip(workspace, branch) is None
