"""head_sha / read_head: read from files without spawning git, fall back to git."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentloop.core.errors import GitError
from agentloop.vcs import git as git_module
from agentloop.vcs.head import HeadState, head_sha, read_head

from .conftest import MakeRepo, Repo


def forbid_spawning(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("git was spawned")

    monkeypatch.setattr(git_module.subprocess, "Popen", refuse)


def test_loose_ref_without_spawning(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = repo.sha()
    forbid_spawning(monkeypatch)
    assert read_head(repo.path) == HeadState("refs/heads/main", expected)


def test_packed_ref_without_spawning(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.git("pack-refs", "--all")
    assert not (repo.path / ".git/refs/heads/main").exists()
    expected = repo.sha()
    forbid_spawning(monkeypatch)
    assert head_sha(repo.path) == expected


def test_packed_refs_cache_follows_updates(repo: Repo) -> None:
    repo.git("pack-refs", "--all")
    assert head_sha(repo.path) == repo.sha()
    new = repo.commit("next", {"n.txt": "n\n"})
    repo.git("pack-refs", "--all")
    assert head_sha(repo.path) == new


def test_detached_head(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = repo.sha()
    (repo.path / ".git/HEAD").write_text(sha + "\n")
    forbid_spawning(monkeypatch)
    assert read_head(repo.path) == HeadState(None, sha)


def test_linked_worktree(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.git("worktree", "add", "-q", "-b", "run/x", str(tmp_path / "wt"))
    sha = repo.commit("in worktree", {"w.txt": "w\n"}, cwd=tmp_path / "wt")
    assert (tmp_path / "wt/.git").is_file()
    forbid_spawning(monkeypatch)
    assert read_head(tmp_path / "wt") == HeadState("refs/heads/run/x", sha)
    assert head_sha(repo.path) != sha


def test_unborn_branch_is_none(make_repo: MakeRepo) -> None:
    unborn = make_repo("unborn", identity=False)
    assert read_head(unborn.path) == HeadState("refs/heads/main", None)


def test_subdirectory_falls_back_to_git(repo: Repo) -> None:
    assert head_sha(repo.path / "src") == repo.sha()


def test_not_a_repository_raises(tmp_path: Path) -> None:
    with pytest.raises(GitError):
        head_sha(tmp_path)
