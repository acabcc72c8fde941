"""POST /runs/{id}/create-pr: through a stand-in ``gh`` on PATH, and without ``gh``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from integration.loopd import Loopd, git
from integration.review.conftest import PR_URL
from integration.review.support import completed_run


def test_create_pr_needs_a_pushed_branch_then_calls_gh_once(
    daemon: Loopd, workspace: Path, tmp_path: Path, gh_log: Path
) -> None:
    done = completed_run(daemon, workspace)
    run_id, branch = done["id"], done["worktree"]["run_branch"]

    unpushed = daemon.request("POST", f"/runs/{run_id}/create-pr")
    assert unpushed.status_code == 409, unpushed.text
    body = unpushed.json()
    assert body["reason"] == "not_pushed" and f"push -u origin {branch}" in body["error"]
    assert not gh_log.exists()  # gh was not even asked

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(workspace, "remote", "add", "origin", str(remote))
    git(workspace, "push", "-q", "-u", "origin", branch)

    response = daemon.request("POST", f"/runs/{run_id}/create-pr", json={"draft": True})
    assert response.status_code == 200, response.text
    run = response.json()["run"]
    assert run["pr_url"] == PR_URL and run["review_status"] == "pr_created"
    calls = [json.loads(line) for line in gh_log.read_text().splitlines()]
    assert len(calls) == 1
    argv = calls[0]["argv"]
    assert argv[:2] == ["pr", "create"] and "--draft" in argv
    assert argv[argv.index("--head") + 1] == branch
    assert argv[argv.index("--base") + 1] == "main"
    assert argv[argv.index("--title") + 1].startswith("agentloop: ")
    assert run_id in argv[argv.index("--body") + 1]
    assert Path(calls[0]["cwd"]).resolve() == workspace.resolve()

    again = daemon.request("POST", f"/runs/{run_id}/create-pr")
    assert again.status_code == 200 and again.json()["run"]["pr_url"] == PR_URL
    assert len(gh_log.read_text().splitlines()) == 1  # idempotent: gh not called again


@pytest.mark.skipif(shutil.which("gh") is not None, reason="gh is installed on this machine")
def test_create_pr_without_gh_says_so(bare_daemon: Loopd, workspace: Path) -> None:
    done = completed_run(bare_daemon, workspace)
    response = bare_daemon.request("POST", f"/runs/{done['id']}/create-pr")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["reason"] == "gh_missing"
    assert body["error"].startswith("gh is not installed")
    assert done["worktree"]["run_branch"] in body["error"]
    assert bare_daemon.run(done["id"])["pr_url"] is None
