"""Run worktrees with plain git: create, reuse, refuse, remove; the dirty-tree check."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from agentloop.core.errors import ConfigError, DirtyWorktreeError, GitError
from agentloop.core.types import WorktreeProviderName
from agentloop.vcs.provider import select_provider
from agentloop.vcs.worktree import GitWorktrees, Worktree, list_worktrees, refuse_dirty
from agentloop.vcs.worktrunk import Worktrunk

from .conftest import MakeRepo, Repo

provider = GitWorktrees()


def create(repo: Repo, path: Path | str = "../repo.run-x", branch: str = "run/x") -> Worktree:
    return provider.create(repo.path, Path(path), branch, "main")


def test_create_branches_from_base_at_the_rendered_path(repo: Repo, tmp_path: Path) -> None:
    base = repo.sha()
    repo.commit("on main later", {"later.txt": "x\n"})
    repo.git("branch", "release", base)
    wt = provider.create(repo.path, Path("../repo.run-x"), "run/x", "release")
    assert wt == Worktree(tmp_path / "repo.run-x", "run/x", "release", WorktreeProviderName.GIT)
    assert repo.sha("run/x") == base
    assert Repo(wt.path).branch() == "run/x"
    assert (wt.path / "README.md").read_text() == "hello\n"
    assert repo.branch() == "main" and repo.status() == ""
    assert wt.to_json()["provider"] == "git"


def test_create_is_idempotent(repo: Repo) -> None:
    first = create(repo)
    marker = first.path / "work.txt"
    marker.write_text("agent work in progress")
    second = create(repo)
    assert second == first
    assert marker.read_text() == "agent work in progress"
    assert len(list_worktrees(repo.path)) == 2


def test_existing_branch_is_checked_out_not_reset(repo: Repo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "run/x")
    tip = repo.commit("earlier attempt", {"a.txt": "a\n"})
    repo.git("checkout", "-q", "main")
    wt = create(repo)
    assert Repo(wt.path).sha() == tip


def test_base_may_exist_only_on_origin(make_repo: MakeRepo, tmp_path: Path) -> None:
    upstream = make_repo("upstream")
    upstream.git("branch", "release")
    clone = Repo(tmp_path / "clone")
    upstream.git("clone", "-q", str(upstream.path), str(clone.path))
    wt = provider.create(clone.path, Path("../clone.run"), "run/x", "release")
    assert clone.sha("run/x") == upstream.sha("release")
    assert clone.git("config", "--get", "branch.run/x.merge", check=False) == ""
    assert wt.base_branch == "release"


def test_wrong_branch_at_path_is_refused(repo: Repo, tmp_path: Path) -> None:
    repo.git("worktree", "add", "-q", "-b", "other", str(tmp_path / "repo.run-x"))
    with pytest.raises(GitError, match="is on branch 'other', not on the run branch 'run/x'"):
        create(repo)
    assert not Repo(repo.path).git("branch", "--list", "run/x")


def test_branch_checked_out_elsewhere_is_refused(repo: Repo, tmp_path: Path) -> None:
    create(repo, "../first")
    with pytest.raises(GitError, match="already checked out in worktree"):
        create(repo, "../second")
    assert not (tmp_path / "second").exists()


def test_foreign_directory_is_refused_and_kept(repo: Repo, tmp_path: Path) -> None:
    foreign = tmp_path / "repo.run-x"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("mine")
    with pytest.raises(GitError, match="already exists and is not a worktree"):
        create(repo)
    assert (foreign / "precious.txt").read_text() == "mine"
    assert not repo.git("branch", "--list", "run/x")


def test_empty_directory_is_used(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "repo.run-x").mkdir()
    assert Repo(create(repo).path).branch() == "run/x"


def test_failed_create_leaves_nothing(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="base branch 'nope' does not exist"):
        provider.create(repo.path, Path("../repo.run-x"), "run/x", "nope")
    assert not (tmp_path / "repo.run-x").exists()
    assert not repo.git("branch", "--list", "run/x")


def test_failed_checkout_undoes_branch_and_directory(repo: Repo, tmp_path: Path) -> None:
    hook = repo.path / ".git/hooks/post-checkout"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitError):
        create(repo)
    assert not (tmp_path / "repo.run-x").exists()
    assert not repo.git("branch", "--list", "run/x")
    assert len(list_worktrees(repo.path)) == 1


def test_stale_record_is_pruned_and_recreated(repo: Repo) -> None:
    wt = create(repo)
    shutil.rmtree(wt.path)
    again = create(repo)
    assert Repo(again.path).branch() == "run/x"


def test_remove_keeps_branch_by_default_and_is_idempotent(repo: Repo) -> None:
    wt = create(repo)
    (wt.path / "dirty.txt").write_text("untracked")
    (wt.path / "README.md").write_text("modified")
    provider.remove(repo.path, wt)
    assert not wt.path.exists()
    assert repo.git("branch", "--list", "run/x")
    assert repo.worktree_paths() == [repo.path]
    provider.remove(repo.path, wt)


def test_remove_can_delete_branch(repo: Repo) -> None:
    wt = create(repo)
    Repo(wt.path).commit("unmerged work", {"w.txt": "w\n"})
    provider.remove(repo.path, wt, delete_branch=True)
    assert not repo.git("branch", "--list", "run/x")
    provider.remove(repo.path, wt, delete_branch=True)


def test_remove_after_manual_deletion(repo: Repo) -> None:
    wt = create(repo)
    shutil.rmtree(wt.path)
    provider.remove(repo.path, wt, delete_branch=True)
    assert repo.worktree_paths() == [repo.path]
    assert not repo.git("branch", "--list", "run/x")


def test_worktree_from_stored_strings(repo: Repo) -> None:
    wt = create(repo)
    again = Worktree(str(wt.path), "run/x", "main", "git")  # type: ignore[arg-type,unused-ignore]
    assert again == wt
    provider.remove(repo.path, again)
    assert not wt.path.exists()


def test_primary_tree_is_never_removed(repo: Repo) -> None:
    fake = Worktree(repo.path, "main", "main", WorktreeProviderName.GIT)
    with pytest.raises(GitError, match="primary working tree"):
        provider.remove(repo.path, fake)
    assert (repo.path / "README.md").exists()


def test_list_worktrees(repo: Repo, tmp_path: Path) -> None:
    wt = create(repo)
    repo.git("worktree", "add", "-q", "--detach", str(tmp_path / "detached"))
    entries = provider.list(repo.path)
    assert entries[0].path == repo.path
    assert entries[0].primary and entries[0].branch == "main"
    by_path = {e.path: e for e in entries[1:]}
    assert set(by_path) == {wt.path, tmp_path / "detached"}
    assert by_path[wt.path].branch == "run/x" and by_path[wt.path].head == repo.sha("run/x")
    assert not by_path[wt.path].primary
    assert by_path[tmp_path / "detached"].detached
    assert by_path[tmp_path / "detached"].branch is None


def test_refuse_dirty_ignores_untracked(repo: Repo) -> None:
    refuse_dirty(repo.path)
    repo.write("notes.txt", "untracked is fine")
    refuse_dirty(repo.path)


def test_refuse_dirty_lists_changed_tracked_paths(repo: Repo) -> None:
    repo.write("README.md", "edited\n")
    repo.write("staged.txt", "new\n")
    repo.git("add", "staged.txt")
    with pytest.raises(DirtyWorktreeError) as info:
        refuse_dirty(repo.path)
    assert info.value.paths == ["README.md", "staged.txt"]
    assert "README.md, staged.txt" in str(info.value)
    assert pickle.loads(pickle.dumps(info.value)).paths == ["README.md", "staged.txt"]


def test_select_provider(fake_wt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(select_provider("git"), GitWorktrees)
    chosen = select_provider("auto", worktrunk_config_path="/cfg.toml")
    assert isinstance(chosen, Worktrunk)
    assert chosen.binary == str(fake_wt) and chosen.config_path == Path("/cfg.toml")
    assert isinstance(select_provider(WorktreeProviderName.WORKTRUNK), Worktrunk)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert isinstance(select_provider("auto"), GitWorktrees)
    assert isinstance(select_provider("auto", worktrunk_bin=str(fake_wt)), Worktrunk)
    with pytest.raises(ConfigError, match="worktrunk_bin"):
        select_provider("worktrunk")
    with pytest.raises(ConfigError, match="worktree_provider"):
        select_provider("svn")
