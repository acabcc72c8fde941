"""``GET /runs/{id}/plan`` against a real loopd: the plan's tasks with their markers as the
run goes (read from the worktree), after the worktree is gone (the run branch), before the
run has a branch (the workspace), none after a scrap; a plan that became a symlink out of
the worktree is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integration.loopd import Loopd, git, make_workspace

PLAN = """\
# Plan

- [ ] first task
- [ ]? optional polish

```
- [ ] not a task: in a code fence
```

## Blockers Discovered
- [~] waiting for credentials

## Verification
- [ ] check it by hand
"""


def plan_of(daemon: Loopd, run_id: str) -> Any:
    return daemon.request("GET", f"/runs/{run_id}/plan")


def markers(answer: Any) -> list[tuple[str, str]]:
    return [(task["marker"], task["text"]) for task in answer.json()["tasks"]]


def detailed_workspace(tmp_path: Path) -> Path:
    repo = make_workspace(tmp_path, name="detailed")
    (repo / "specs" / "planning" / "demo-plan.md").write_text(PLAN)
    git(repo, "commit", "-q", "-am", "a detailed plan")
    return repo


def test_markers_follow_the_run_in_its_worktree(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, model="delay=1")
    daemon.wait_for(lambda: daemon.run(run["id"])["tasks_done"] >= 1, what="a task done")
    answer = plan_of(daemon, run["id"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    worktree = daemon.run(run["id"])["worktree"]["worktree_path"]
    assert body["source"] == "worktree" and body["location"].startswith(worktree)
    assert body["tasks"][0]["marker"] in {"[x]", "[R]"}
    assert body["tasks"][2]["marker"] == "[ ]"
    assert body["tasks_total"] == 3 and body["tasks_done"] >= 1
    daemon.request("POST", f"/runs/{run['id']}/cancel")
    daemon.wait_status(run["id"], "CANCELED")


def test_every_marker_and_the_branch_copy_once_the_worktree_is_gone(
    daemon: Loopd, tmp_path: Path
) -> None:
    repo = detailed_workspace(tmp_path)
    run = daemon.create_run(repo, merge_target_branch="agent/demo")
    done = daemon.wait_status(run["id"], "COMPLETED")
    daemon.wait_for(
        lambda: daemon.run(run["id"])["worktree_cleanup_status"] == "cleaned",
        what="the merged run's worktree removed",
    )
    assert not Path(done["worktree"]["worktree_path"]).exists()
    answer = plan_of(daemon, run["id"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["source"], body["location"]) == (
        "branch",
        f"{done['worktree']['run_branch']}:specs/planning/demo-plan.md",
    )
    assert (body["tasks_done"], body["tasks_total"]) == (1, 2)
    assert body["tasks"] == [
        {
            "line": 3,
            "marker": "[R]",
            "state": "reviewed",
            "text": "first task",
            "section": "Plan",
            "optional": False,
            "manual": False,
            "counted": True,
        },
        {
            "line": 4,
            "marker": "[ ]?",
            "state": "open",
            "text": "optional polish",
            "section": "Plan",
            "optional": True,
            "manual": False,
            "counted": False,
        },
        {
            "line": 11,
            "marker": "[~]",
            "state": "blocked",
            "text": "waiting for credentials",
            "section": "Blockers Discovered",
            "optional": False,
            "manual": False,
            "counted": True,
        },
        {
            "line": 14,
            "marker": "[ ]",
            "state": "open",
            "text": "check it by hand",
            "section": "Verification",
            "optional": False,
            "manual": True,
            "counted": False,
        },
    ]


def test_a_run_without_a_branch_shows_the_workspace_plan(daemon: Loopd, workspace: Path) -> None:
    (workspace / "specs" / "demo.md").write_text("# Demo\n\nEdited, not committed.\n")
    run = daemon.create_run(workspace)  # refused at prepare: a dirty primary working tree
    failed = daemon.wait_status(run["id"], "FAILED")
    assert failed["worktree"] is None
    answer = plan_of(daemon, run["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "workspace"
    assert answer.json()["location"] == str(workspace / "specs" / "planning" / "demo-plan.md")
    assert markers(answer) == [("[ ]", f"task number {i}") for i in (1, 2, 3)]


def test_a_scrapped_run_has_no_plan_any_more(daemon: Loopd, workspace: Path) -> None:
    run = daemon.create_run(workspace, reviewer=False)
    daemon.wait_status(run["id"], "COMPLETED")
    assert plan_of(daemon, run["id"]).json()["tasks_done"] == 3
    assert daemon.request("POST", f"/runs/{run['id']}/scrap").status_code == 200
    answer = plan_of(daemon, run["id"])
    assert answer.status_code == 404, answer.text
    assert "scrapped run's branch is deleted" in answer.json()["error"]


def test_a_plan_turned_into_a_symlink_out_of_the_worktree_is_refused(
    daemon: Loopd, workspace: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("- [ ] the secret task\n")
    run = daemon.create_run(workspace, reviewer=False)
    done = daemon.wait_status(run["id"], "COMPLETED")  # awaits review: its worktree stays
    plan = Path(done["worktree"]["worktree_path"]) / "specs" / "planning" / "demo-plan.md"
    plan.unlink()
    plan.symlink_to(secret)
    answer = plan_of(daemon, run["id"])
    assert answer.status_code == 400, answer.text
    assert "escapes" in answer.json()["error"]
    assert "secret task" not in answer.text


def test_an_unknown_run_is_a_404(daemon: Loopd) -> None:
    answer = plan_of(daemon, "no-such-run")
    assert answer.status_code == 404
    assert answer.json()["error"]
