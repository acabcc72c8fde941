"""The git locks a killed git leaves in a run's worktree are removed; nothing else is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agentloop.vcs.stale_locks import remove_stale_locks

from .conftest import MakeRepo, Repo


def linked_worktree(repo: Repo, tmp_path: Path) -> Path:
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "-b", "agent/run", str(worktree))
    return worktree


def git_path(worktree: Path, repo: Repo, name: str) -> Path:
    path = Path(repo.git("rev-parse", "--git-path", name, cwd=worktree))
    return path if path.is_absolute() else worktree / path


def aged(path: Path, seconds_ago: float = 5.0) -> Path:
    path.write_text("")
    when = time.time() - seconds_ago
    os.utime(path, (when, when))
    return path


def test_a_killed_commits_locks_are_removed_and_git_works_again(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo()
    worktree = linked_worktree(repo, tmp_path)
    index_lock = aged(git_path(worktree, repo, "index.lock"))
    head_lock = aged(git_path(worktree, repo, "HEAD.lock"))
    branch_lock = aged(git_path(worktree, repo, "refs/heads/agent/run.lock"))
    repo.write("new.txt", "work\n", cwd=worktree)
    with pytest.raises(AssertionError, match=r"index\.lock"):
        repo.git("add", "-A", cwd=worktree)

    removed = remove_stale_locks(worktree, older_than=time.time())

    assert sorted(removed) == sorted([index_lock, head_lock, branch_lock])
    assert not any(p.exists() for p in (index_lock, head_lock, branch_lock))
    repo.commit("after the interruption", cwd=worktree)
    assert repo.git("log", "-1", "--format=%s", "agent/run") == "after the interruption"


def test_a_lock_made_after_the_interruption_is_left_to_its_git(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo()
    worktree = linked_worktree(repo, tmp_path)
    interrupted_at = time.time() - 10
    fresh = aged(git_path(worktree, repo, "index.lock"), seconds_ago=1)

    assert remove_stale_locks(worktree, older_than=interrupted_at) == []
    assert fresh.exists()


def test_the_shared_repository_and_a_primary_checkout_are_never_touched(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo()
    worktree = linked_worktree(repo, tmp_path)
    shared = [
        aged(repo.path / ".git" / "index.lock"),  # the user's checkout
        aged(repo.path / ".git" / "packed-refs.lock"),
        aged(repo.path / ".git" / "refs" / "heads" / "main.lock"),  # another branch
    ]

    assert remove_stale_locks(worktree, older_than=time.time()) == []
    assert remove_stale_locks(repo.path, older_than=time.time()) == []
    assert all(p.exists() for p in shared)
