"""Uncommitted work of a worktree is found and saved under refs/agentloop/wip/<run>."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentloop.vcs.wip import save_uncommitted, uncommitted_paths


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def repo_with_commit(root: Path) -> Path:
    git(root, "init", "-q", "-b", "main")
    (root / "kept.txt").write_text("one\n")
    (root / ".gitignore").write_text("ignored/\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return root


def test_a_clean_tree_has_nothing_to_save(tmp_path: Path):
    repo = repo_with_commit(tmp_path)
    (repo / "ignored").mkdir()
    (repo / "ignored" / "x").write_text("ignored files do not count\n")
    assert uncommitted_paths(repo) == []
    assert save_uncommitted(repo, "run1") is None


def test_changes_and_untracked_files_are_saved_without_moving_anything(tmp_path: Path):
    repo = repo_with_commit(tmp_path)
    head = git(repo, "rev-parse", "HEAD")
    (repo / "kept.txt").write_text("changed\n")
    (repo / "new.txt").write_text("untracked\n")
    assert sorted(uncommitted_paths(repo)) == ["kept.txt", "new.txt"]
    saved = save_uncommitted(repo, "run1")
    assert saved and git(repo, "rev-parse", "refs/agentloop/wip/run1") == saved
    assert git(repo, "show", f"{saved}:kept.txt") == "changed"
    assert git(repo, "show", f"{saved}:new.txt") == "untracked"
    assert git(repo, "rev-parse", f"{saved}^") == head
    # the branch, the index and the files stay as they were
    assert git(repo, "rev-parse", "HEAD") == head
    assert sorted(uncommitted_paths(repo)) == ["kept.txt", "new.txt"]
    assert git(repo, "diff", "--cached", "--name-only") == ""
