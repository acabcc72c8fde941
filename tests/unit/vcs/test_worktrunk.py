"""The worktrunk provider, driven through the stand-in ``wt`` of fake_wt.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agentloop.core.errors import GitError
from agentloop.core.types import WorktreeProviderName
from agentloop.vcs.worktree import Worktree, list_worktrees
from agentloop.vcs.worktrunk import Worktrunk

from .conftest import Repo


def calls(fake_wt: Path) -> list[dict[str, Any]]:
    log = Path(os.environ["FAKE_WT_LOG"])
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_create_uses_wt_switch_with_pinned_path(repo: Repo, fake_wt: Path, tmp_path: Path) -> None:
    provider = Worktrunk(str(fake_wt), config_path=tmp_path / "wt.toml")
    wt = provider.create(repo.path, Path("../repo.run-x"), "run/x", "main")
    target = tmp_path / "repo.run-x"
    assert wt == Worktree(target, "run/x", "main", WorktreeProviderName.WORKTRUNK)
    assert Repo(target).branch() == "run/x"
    (call,) = calls(fake_wt)
    assert call["argv"] == [
        "-C", str(repo.path), "switch", "--create", "run/x", "--base", "main", "--no-cd", "--yes",
    ]  # fmt: skip
    assert call["env"] == {
        "WORKTRUNK_WORKTREE_PATH": str(target),
        "WORKTRUNK_CONFIG_PATH": str(tmp_path / "wt.toml"),
    }


def test_create_reuses_without_calling_wt(repo: Repo, fake_wt: Path) -> None:
    provider = Worktrunk(str(fake_wt))
    first = provider.create(repo.path, Path("../repo.run-x"), "run/x", "main")
    assert provider.create(repo.path, Path("../repo.run-x"), "run/x", "main") == first
    assert len(calls(fake_wt)) == 1


def test_existing_branch_switches_without_create(repo: Repo, fake_wt: Path) -> None:
    repo.git("branch", "run/x")
    Worktrunk(str(fake_wt)).create(repo.path, Path("../repo.run-x"), "run/x", "main")
    (call,) = calls(fake_wt)
    assert call["argv"][2:] == ["switch", "run/x", "--no-cd", "--yes"]


def test_wrong_branch_at_path_is_refused(repo: Repo, fake_wt: Path, tmp_path: Path) -> None:
    repo.git("worktree", "add", "-q", "-b", "other", str(tmp_path / "repo.run-x"))
    with pytest.raises(GitError, match="not on the run branch"):
        Worktrunk(str(fake_wt)).create(repo.path, Path("../repo.run-x"), "run/x", "main")
    assert calls(fake_wt) == []


def test_misplaced_worktree_is_an_error_and_undone(
    repo: Repo, fake_wt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WT_MISPLACE", "1")
    with pytest.raises(GitError, match="not at"):
        Worktrunk(str(fake_wt)).create(repo.path, Path("../repo.run-x"), "run/x", "main")
    assert not repo.git("branch", "--list", "run/x")


def test_wt_failure_is_undone(
    repo: Repo, fake_wt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_WT_FAIL", "switch")
    with pytest.raises(GitError, match="post-start hook failed"):
        Worktrunk(str(fake_wt)).create(repo.path, Path("../repo.run-x"), "run/x", "main")
    assert not (tmp_path / "repo.run-x").exists()
    assert not repo.git("branch", "--list", "run/x")
    assert len(list_worktrees(repo.path)) == 1


def test_copy_ignored(repo: Repo, fake_wt: Path) -> None:
    repo.commit("ignore env", {".gitignore": ".env\n"})
    repo.write(".env", "SECRET=1\n")
    provider = Worktrunk(str(fake_wt), copy_ignored=True)
    wt = provider.create(repo.path, Path("../repo.run-x"), "run/x", "main")
    assert (wt.path / ".env").read_text() == "SECRET=1\n"
    assert calls(fake_wt)[-1]["argv"] == ["-C", str(wt.path), "step", "copy-ignored"]


def test_remove_keeps_or_deletes_branch(repo: Repo, fake_wt: Path) -> None:
    provider = Worktrunk(str(fake_wt))
    wt = provider.create(repo.path, Path("../repo.run-x"), "run/x", "main")
    (wt.path / "scratch.txt").write_text("untracked")
    provider.remove(repo.path, wt)
    assert not wt.path.exists()
    assert repo.git("branch", "--list", "run/x")
    assert calls(fake_wt)[-1]["argv"] == [
        "-C", str(repo.path), "remove", "run/x",
        "--foreground", "--force", "--no-delete-branch", "--yes",
    ]  # fmt: skip
    wt = provider.create(repo.path, Path("../repo.run-x"), "run/x", "main")
    Repo(wt.path).commit("unmerged", {"u.txt": "u\n"})
    provider.remove(repo.path, wt, delete_branch=True)
    assert "--force-delete" in calls(fake_wt)[-1]["argv"]
    assert not repo.git("branch", "--list", "run/x")


def test_remove_is_idempotent(repo: Repo, fake_wt: Path) -> None:
    provider = Worktrunk(str(fake_wt))
    wt = provider.create(repo.path, Path("../repo.run-x"), "run/x", "main")
    provider.remove(repo.path, wt)
    count = len(calls(fake_wt))
    provider.remove(repo.path, wt)
    provider.remove(repo.path, wt, delete_branch=True)
    assert len(calls(fake_wt)) == count
    assert not repo.git("branch", "--list", "run/x")
    assert provider.list(repo.path)[0].path == repo.path
