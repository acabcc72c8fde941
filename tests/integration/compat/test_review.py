"""Review, worktrees and the postmortem as the reference's clients call and decode them
(SPEC 20): the dashboard's diff, merge and create-pr, loopctl's worktrees, worktree-rm and
analyze."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from integration.compat.conftest import PR_URL, compat_workspace, completed_run
from integration.compat.reference import (
    CreatePrResponse,
    ErrorResponse,
    GetPostmortemResponse,
    GetRunResponse,
    ListWorktreesResponse,
    MergeResponse,
    PostmortemResponse,
    RunDiff,
)
from integration.loopd import Loopd, git

SHA = re.compile(r"[0-9a-f]{40}")


def test_the_diff_decodes_as_the_dashboard_reads_it(
    daemon: Loopd, finished: dict[str, Any]
) -> None:
    answer = daemon.request("GET", f"/runs/{finished['id']}/diff")
    diff = RunDiff.model_validate_json(answer.text)
    assert (diff.base_ref, diff.head_ref) == ("main", finished["worktree"]["run_branch"])
    assert diff.stats.files_changed == len(diff.files) >= 3
    assert diff.stats.additions == sum(f.additions for f in diff.files)
    assert {f.status for f in diff.files} == {"added", "modified"}  # tasks/*, the plan
    assert len(diff.commits) >= 3
    for commit in diff.commits:
        assert commit.files and commit.stats.files_changed == len(commit.files)
        assert commit.stats.additions == sum(f.additions for f in commit.files)
        assert commit.message and commit.timestamp.endswith("Z")
    ours = answer.json()  # beside the reference's, ours are all there
    assert ours["base"] == "main" and ours["branch"] == diff.head_ref
    assert ours["additions"] == diff.stats.additions and SHA.fullmatch(ours["merge_base"])
    assert {f["status_letter"] for f in ours["files"]} == {"A", "M"}
    first = ours["commits"][0]
    assert first["subject"] == first["message"] and isinstance(first["timestamp_s"], int)


def test_merge_as_the_dashboard_asks_answers_the_commit(
    daemon: Loopd, places: dict[str, Path]
) -> None:
    workspace = compat_workspace(places["root"], "merging")
    done = completed_run(daemon, workspace)
    with daemon.client() as client:  # the dashboard posts no body and no content type
        answer = client.post(f"/runs/{done['id']}/merge", headers={"Content-Type": ""})
    assert answer.status_code == 200, answer.text
    merged = MergeResponse.model_validate_json(answer.text)
    run = GetRunResponse.model_validate(answer.json()).run
    assert SHA.fullmatch(merged.commit) and run.merge_commit == merged.commit
    assert run.review_status == "merged"
    assert git(workspace, "rev-parse", "agent/demo") == merged.commit


def test_create_pr_takes_title_and_body_and_answers_the_url(
    daemon: Loopd, places: dict[str, Path]
) -> None:
    workspace = compat_workspace(places["root"], "pulling")
    done = completed_run(daemon, workspace)
    branch = done["worktree"]["run_branch"]
    remote = places["root"] / "pulling-remote.git"
    git(places["root"], "init", "-q", "--bare", str(remote))
    git(workspace, "remote", "add", "origin", str(remote))
    git(workspace, "push", "-q", "-u", "origin", branch)
    answer = daemon.request(
        "POST",
        f"/runs/{done['id']}/create-pr",
        json={"title": "Compat title", "body": "Made by the dashboard"},
    )
    assert answer.status_code == 200, answer.text
    assert CreatePrResponse.model_validate_json(answer.text).url == PR_URL
    run = GetRunResponse.model_validate(answer.json()).run
    assert run.pr_url == PR_URL and run.review_status == "pr_created"
    argv = json.loads(places["gh_log"].read_text().splitlines()[-1])
    assert argv[argv.index("--title") + 1] == "Compat title"
    assert argv[argv.index("--body") + 1] == "Made by the dashboard"


def test_the_postmortem_as_loopctl_analyze_asks_for_it(
    daemon: Loopd, finished: dict[str, Any]
) -> None:
    path = f"/runs/{finished['id']}/postmortem"
    daemon.wait_for(lambda: daemon.request("GET", path).json()["status"] == "done", what="done")
    wrong = daemon.request("POST", path, json={"model": "bogus_knob=1", "prompt_only": False})
    assert wrong.status_code in (200, 202), wrong.text
    started = PostmortemResponse.model_validate_json(wrong.text)
    assert started.status == "running" and started.artifacts[0].endswith("postmortem.md")
    failed = daemon.wait_for(
        lambda: (p := daemon.request("GET", path).json())["status"] != "running" and p,
        what="the postmortem",
    )
    assert failed["status"] == "failed" and "bogus_knob" in failed["reason"]  # the model asked
    asked = daemon.request("POST", path, json={"model": "opus", "prompt_only": False})
    assert PostmortemResponse.model_validate_json(asked.text).status == "running"
    done = daemon.wait_for(
        lambda: (p := daemon.request("GET", path)).json()["status"] == "done" and p,
        what="the postmortem",
    )
    listing = GetPostmortemResponse.model_validate_json(done.text)
    exists = {Path(a.path).name: a.exists for a in listing.artifacts}
    assert exists["postmortem.md"] and Path(listing.analysis_dir).name == "analysis"

    only = daemon.request("POST", path, json={"model": "opus", "prompt_only": True})
    prompt = PostmortemResponse.model_validate_json(only.text)
    assert prompt.status == "prompt_only" and "postmortem" in Path(prompt.artifacts[0]).read_text()
    listing = GetPostmortemResponse.model_validate_json(daemon.request("GET", path).text)
    assert all(a.exists for a in listing.artifacts)


def test_worktrees_of_a_workspace_and_removing_one(daemon: Loopd, places: dict[str, Path]) -> None:
    workspace = compat_workspace(places["root"], "trees")
    done = completed_run(daemon, workspace)
    tree = Path(done["worktree"]["worktree_path"])
    for asked in (workspace, workspace / "specs"):  # loopctl sends its (canonical) cwd
        answer = daemon.request("GET", "/worktrees", params={"workspace": str(asked)})
        listing = ListWorktreesResponse.model_validate_json(answer.text)
        assert listing.workspace == str(asked)
        (entry,) = [w for w in listing.worktrees if w.path == str(tree)]
        assert entry.run_id == done["id"] and entry.run_status == "COMPLETED"
        assert entry.branch == done["worktree"]["run_branch"] and SHA.fullmatch(entry.commit)
    unknown = daemon.request("GET", "/worktrees", params={"workspace": "/no/such/dir"})
    assert unknown.status_code == 404 and ErrorResponse.model_validate_json(unknown.text)

    (tree / "draft.txt").write_text("not committed\n")
    query = {"workspace": str(workspace), "path": str(tree), "force": "false"}
    kept = daemon.request("DELETE", "/worktrees", params=query)
    assert (
        not kept.is_success and "uncommitted" in ErrorResponse.model_validate_json(kept.text).error
    )
    assert tree.exists()
    removed = daemon.request("DELETE", "/worktrees", params={**query, "force": "true"})
    assert removed.is_success, removed.text
    assert not tree.exists()
    listing = ListWorktreesResponse.model_validate_json(
        daemon.request("GET", "/worktrees", params={"workspace": str(workspace)}).text
    )
    assert str(tree) not in {w.path for w in listing.worktrees}
