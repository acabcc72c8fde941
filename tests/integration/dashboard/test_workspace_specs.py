"""``GET /workspaces/specs?workspace_root=`` against a real loopd and real git workspaces:
the specs under ``specs_dir`` with their default plans, the workspace's own config honoured,
clear 400/404 answers, nothing outside the workspace listed or read, the token required."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.loopd import Loopd, git, make_workspace


def specs_of(daemon: Loopd, workspace_root: str | Path) -> Any:
    params = {"workspace_root": str(workspace_root)}
    return daemon.request("GET", "/workspaces/specs", params=params)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def test_lists_the_specs_with_their_plans_and_a_listed_spec_starts_a_run(
    daemon: Loopd, workspace: Path
) -> None:
    (workspace / "specs" / "other.md").write_text("# Other thing\n\n**Status:** draft\n")
    (workspace / "specs" / "nested").mkdir()
    (workspace / "specs" / "nested" / "deep.md").write_text("no title\n")
    commit_all(workspace, "more specs")

    answer = specs_of(daemon, workspace / "specs")  # a directory inside: its repository
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["workspace_root"] == str(workspace.resolve())
    assert (body["specs_dir"], body["plans_dir"]) == ("specs", "specs/planning")
    by_path = {spec["path"]: spec for spec in body["specs"]}
    assert set(by_path) == {"specs/demo.md", "specs/other.md", "specs/nested/deep.md"}
    assert by_path["specs/demo.md"]["plan_path"] == "specs/planning/demo-plan.md"
    assert by_path["specs/demo.md"]["plan_exists"] is True
    assert by_path["specs/demo.md"]["title"] == "Demo"
    assert by_path["specs/other.md"] == {
        "path": "specs/other.md",
        "title": "Other thing",
        "status": "draft",
        "last_updated": None,
        "plan_path": "specs/planning/other-plan.md",
        "plan_exists": False,
    }
    assert by_path["specs/nested/deep.md"]["title"] == "deep"

    demo = by_path["specs/demo.md"]
    created = daemon.request(
        "POST",
        "/runs",
        json={
            "workspace_root": body["workspace_root"],
            "spec_path": demo["path"],
            "plan_path": demo["plan_path"],
            "name": "from-listing",
            "config_override": {"agent": "scripted", "reviewer": False},
        },
    )
    assert created.status_code == 201, created.text
    assert daemon.wait_status(created.json()["run"]["id"], "COMPLETED")["tasks_done"] == 3


def test_the_workspace_config_says_where_specs_and_plans_are(daemon: Loopd, tmp_path: Path) -> None:
    repo = make_workspace(tmp_path, name="configured")
    (repo / "docs" / "plans").mkdir(parents=True)
    (repo / "docs" / "feature.md").write_text("# Feature\n")
    (repo / "docs" / "plans" / "feature-plan.md").write_text("- [ ] one\n")
    (repo / ".loop").mkdir()
    (repo / ".loop" / "config").write_text("specs_dir=docs\nplans_dir=docs/plans\n")
    commit_all(repo, "docs")

    body = specs_of(daemon, repo).json()
    assert (body["specs_dir"], body["plans_dir"]) == ("docs", "docs/plans")
    assert [(s["path"], s["plan_path"], s["plan_exists"]) for s in body["specs"]] == [
        ("docs/feature.md", "docs/plans/feature-plan.md", True)
    ]


@pytest.mark.parametrize(
    ("workspace_root", "status", "words"),
    [
        (None, 400, "workspace_root is required"),
        ("", 400, "workspace_root is required"),
        ("relative/repo", 400, "must be an absolute path"),
        ("/no/such/workspace", 404, "workspace not found"),
    ],
)
def test_a_missing_relative_or_unknown_workspace_is_refused_clearly(
    daemon: Loopd, workspace_root: str | None, status: int, words: str
) -> None:
    params = {} if workspace_root is None else {"workspace_root": workspace_root}
    answer = daemon.request("GET", "/workspaces/specs", params=params)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_a_directory_outside_git_is_refused(daemon: Loopd, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    answer = specs_of(daemon, plain)
    assert answer.status_code == 400
    assert "not inside a git repository" in answer.json()["error"]


def test_nothing_outside_the_workspace_is_listed_or_read(daemon: Loopd, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret title\n")
    (outside / "config").write_text("specs_dir=specs\n")
    repo = make_workspace(tmp_path, name="guarded")
    (repo / "specs" / "leak.md").symlink_to(outside / "secret.md")
    commit_all(repo, "a symlink out")

    listed = specs_of(daemon, repo).json()["specs"]
    assert [s["path"] for s in listed] == ["specs/demo.md"]
    assert "Secret title" not in str(listed)

    (repo / ".loop").mkdir()
    for key, value in (("specs_dir", "../outside"), ("plans_dir", "../outside/plans")):
        (repo / ".loop" / "config").write_text(f"{key}={value}\n")
        answer = specs_of(daemon, repo)
        assert answer.status_code == 400, answer.text
        assert f"{key} '{value}' is outside the workspace" in answer.json()["error"]

    (repo / ".loop" / "config").unlink()
    (repo / ".loop" / "config").symlink_to(outside / "config")
    answer = specs_of(daemon, repo)
    assert answer.status_code == 400
    assert "escapes" in answer.json()["error"]


def test_a_bad_workspace_config_is_a_400_naming_the_key(daemon: Loopd, workspace: Path) -> None:
    (workspace / ".loop").mkdir()
    (workspace / ".loop" / "config").write_text("iterations=many\n")
    answer = specs_of(daemon, workspace)
    assert answer.status_code == 400
    assert "iterations" in answer.json()["error"]


def test_the_bearer_token_is_required(tmp_path: Path, workspace: Path) -> None:
    secured = Loopd(tmp_path / "secured", token="specs-token").start()
    try:
        url = f"{secured.base}/workspaces/specs"
        plain = httpx.get(url, params={"workspace_root": str(workspace)}, timeout=10)
        assert plain.status_code == 401
        assert "error" in plain.json()
        answer = specs_of(secured, workspace)
        assert answer.status_code == 200
        assert [s["path"] for s in answer.json()["specs"]] == ["specs/demo.md"]
    finally:
        secured.stop()
