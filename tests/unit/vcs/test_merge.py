"""merge_run: squash/merge in a temporary worktree, verify, CAS, conflicts, idempotency.

Every test also checks what the user would notice: the primary checkout keeps its branch,
HEAD, index and files, and no temporary worktree is left behind.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentloop.core.errors import GitError, MergeConflictError, MergeVerificationError
from agentloop.core.types import MergeStrategy
from agentloop.vcs.merge import MergeResult, VerifyOutcome, merge_run
from agentloop.vcs.worktree import GitWorktrees

from .conftest import MakeRepo, Repo

RUN_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


@dataclass
class Setup:
    repo: Repo
    run_path: Path
    tmp_parent: Path
    primary: tuple[str, str, str, str]

    def primary_state(self) -> tuple[str, str, str, str]:
        repo = self.repo
        readme = (repo.path / "README.md").read_text()
        return (repo.branch(), repo.sha(), repo.status(), readme)

    def assert_primary_untouched(self) -> None:
        assert self.primary_state() == self.primary

    def assert_no_temp_worktree(self) -> None:
        assert self.repo.worktree_paths() == [self.repo.path, self.run_path]
        assert not any(self.tmp_parent.iterdir()) if self.tmp_parent.exists() else True

    def merge(self, **overrides: object) -> MergeResult:
        args: dict[str, object] = {
            "repo_root": self.repo.path,
            "run_branch": "run/feature",
            "target": "agent/feature",
            "base": "main",
            "strategy": MergeStrategy.SQUASH,
            "message": "Add feature\n\nDone by agentloop.",
            "verify": None,
            "tmp_parent": self.tmp_parent,
            "run_id": RUN_ID,
        }
        args.update(overrides)
        return merge_run(**args)


@pytest.fixture
def setup(make_repo: MakeRepo, tmp_path: Path) -> Setup:
    return make_setup(make_repo("repo"), tmp_path)


def make_setup(repo: Repo, tmp_path: Path) -> Setup:
    wt = GitWorktrees().create(repo.path, Path("../repo.run"), "run/feature", "main")
    run = Repo(wt.path)
    run.commit("add feature", {"feature.txt": "feature\n"})
    run.commit("tweak app", {"src/app.py": "print('hello')\n"})
    # The user keeps working in the primary checkout: an untracked file and a local edit.
    repo.write("scratch.txt", "user notes\n")
    repo.write("README.md", "hello\nuser edit in progress\n")
    s = Setup(repo, wt.path, tmp_path / "merge-tmp", ("", "", "", ""))
    s.primary = s.primary_state()
    return s


def test_squash_into_new_target(setup: Setup) -> None:
    base = setup.repo.sha("main")
    result = setup.merge()
    repo = setup.repo
    assert result == MergeResult(result.commit, False, "agent/feature", created_target=True)
    assert repo.sha("agent/feature") == result.commit
    assert repo.git("rev-list", "--parents", "-n1", result.commit).split()[1:] == [base]
    body = repo.git("log", "-1", "--format=%B", result.commit)
    assert body.startswith("Add feature\n\nDone by agentloop.")
    assert f"Agentloop-Run: {RUN_ID}" in body
    assert f"Agentloop-Head: {repo.sha('run/feature')}" in body
    assert repo.git("show", f"{result.commit}:feature.txt") == "feature"
    assert repo.git("show", f"{result.commit}:src/app.py") == "print('hello')"
    assert repo.sha("main") == base
    setup.assert_primary_untouched()
    setup.assert_no_temp_worktree()


def test_merge_into_existing_target(setup: Setup) -> None:
    repo = setup.repo
    repo.git("branch", "agent/feature", "main")
    old = repo.sha("agent/feature")
    run_tip = repo.sha("run/feature")
    result = setup.merge(strategy="merge", message="Merge run/feature")
    assert not result.already_merged and not result.created_target
    parents = repo.git("rev-list", "--parents", "-n1", result.commit).split()[1:]
    assert parents == [old, run_tip]
    assert repo.git("log", "-1", "--format=%s", result.commit) == "Merge run/feature"
    setup.assert_primary_untouched()
    setup.assert_no_temp_worktree()


def test_squash_onto_advanced_target(setup: Setup) -> None:
    repo = setup.repo
    repo.git("branch", "agent/feature", "main")
    repo.git("worktree", "add", "-q", str(setup.tmp_parent.parent / "o"), "agent/feature")
    Repo(setup.tmp_parent.parent / "o").commit("unrelated", {"other.txt": "o\n"})
    repo.git("worktree", "remove", str(setup.tmp_parent.parent / "o"))
    before = repo.sha("agent/feature")
    result = setup.merge()
    assert repo.git("rev-parse", f"{result.commit}^") == before
    assert repo.git("show", f"{result.commit}:other.txt") == "o"
    assert repo.git("show", f"{result.commit}:feature.txt") == "feature"


def test_verify_sees_merged_tree_before_target_moves(setup: Setup) -> None:
    seen: list[tuple[Path, str, str]] = []

    def verify(path: Path) -> VerifyOutcome:
        seen.append((path, (path / "feature.txt").read_text(), setup.repo.sha("agent/feature")))
        return VerifyOutcome(ok=True)

    result = setup.merge(verify=verify)
    ((path, content, target_then),) = seen
    assert path.parent == setup.tmp_parent
    assert content == "feature\n"
    assert target_then == ""  # the target did not exist yet while verifying
    assert setup.repo.sha("agent/feature") == result.commit
    assert not path.exists()


def test_verify_failure_leaves_target_untouched(setup: Setup) -> None:
    setup.repo.git("branch", "agent/feature", "main")
    old = setup.repo.sha("agent/feature")
    with pytest.raises(MergeVerificationError) as info:
        setup.merge(verify=lambda p: VerifyOutcome(ok=False, detail="pytest exited 1"))
    assert info.value.detail == "pytest exited 1"
    assert "was not changed" in str(info.value)
    assert setup.repo.sha("agent/feature") == old
    setup.assert_primary_untouched()
    setup.assert_no_temp_worktree()
    assert pickle.loads(pickle.dumps(info.value)).detail == "pytest exited 1"


def test_verify_failure_does_not_create_target(setup: Setup) -> None:
    with pytest.raises(MergeVerificationError):
        setup.merge(verify=lambda p: VerifyOutcome(ok=False))
    assert setup.repo.sha("agent/feature") == ""
    setup.assert_no_temp_worktree()


def test_verify_exception_cleans_up(setup: Setup) -> None:
    def boom(path: Path) -> VerifyOutcome:
        raise RuntimeError("verifier crashed")

    with pytest.raises(RuntimeError):
        setup.merge(verify=boom)
    assert setup.repo.sha("agent/feature") == ""
    setup.assert_no_temp_worktree()


@pytest.mark.parametrize("strategy", ["squash", "merge"])
def test_conflict_raises_with_paths_and_keeps_everything(setup: Setup, strategy: str) -> None:
    repo = setup.repo
    repo.git("branch", "agent/feature", "main")
    side = setup.tmp_parent.parent / "side"
    repo.git("worktree", "add", "-q", str(side), "agent/feature")
    Repo(side).commit("conflicting", {"src/app.py": "print('other')\n", "feature.txt": "x\n"})
    repo.git("worktree", "remove", str(side))
    target_before = repo.sha("agent/feature")
    run_before = repo.sha("run/feature")
    with pytest.raises(MergeConflictError) as info:
        setup.merge(strategy=strategy)
    assert info.value.paths == ["feature.txt", "src/app.py"]
    assert "conflicts in feature.txt, src/app.py" in str(info.value)
    assert repo.sha("agent/feature") == target_before
    assert repo.sha("run/feature") == run_before
    assert Repo(setup.run_path).status() == ""
    setup.assert_primary_untouched()
    setup.assert_no_temp_worktree()
    assert pickle.loads(pickle.dumps(info.value)).paths == ["feature.txt", "src/app.py"]


@pytest.mark.parametrize("strategy", ["squash", "merge"])
def test_same_merge_twice_is_already_merged(setup: Setup, strategy: str) -> None:
    first = setup.merge(strategy=strategy)
    count = setup.repo.git("rev-list", "--count", "agent/feature")
    again = setup.merge(strategy=strategy)
    assert again == MergeResult(first.commit, True, "agent/feature")
    assert setup.repo.git("rev-list", "--count", "agent/feature") == count
    setup.assert_no_temp_worktree()


def test_new_run_commits_merge_again(setup: Setup) -> None:
    first = setup.merge()
    Repo(setup.run_path).commit("more work", {"more.txt": "more\n"})
    second = setup.merge()
    assert not second.already_merged
    assert setup.repo.git("rev-parse", f"{second.commit}^") == first.commit
    assert setup.repo.git("show", f"{second.commit}:more.txt") == "more"


def test_nothing_to_merge(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo()
    GitWorktrees().create(repo.path, Path("../repo.run"), "run/feature", "main")
    result = merge_run(
        repo.path, "run/feature", "agent/feature", "main", "squash", "msg", None,
        tmp_path / "merge-tmp", run_id=RUN_ID,
    )  # fmt: skip
    assert result.already_merged and result.created_target
    assert result.commit == repo.sha("main") == repo.sha("agent/feature")


def test_target_checked_out_in_primary_is_refused(setup: Setup) -> None:
    repo = setup.repo
    with pytest.raises(GitError, match=r"checked out in .*does not move a branch"):
        setup.merge(target="main")
    assert repo.sha("main") == setup.primary[1]
    setup.assert_primary_untouched()
    setup.assert_no_temp_worktree()


def test_target_moved_concurrently_is_not_overwritten(setup: Setup) -> None:
    repo = setup.repo
    repo.git("branch", "agent/feature", "main")
    moved_to = repo.sha("main~0")

    def interfere(path: Path) -> VerifyOutcome:
        repo.git("update-ref", "refs/heads/agent/feature", repo.sha("run/feature"))
        return VerifyOutcome(ok=True)

    with pytest.raises(GitError, match="changed while merging"):
        setup.merge(verify=interfere)
    assert repo.sha("agent/feature") == repo.sha("run/feature") != moved_to
    setup.assert_no_temp_worktree()


def test_stale_temp_worktree_from_a_crash_is_replaced(setup: Setup) -> None:
    stale = setup.tmp_parent / f"agentloop-merge-{RUN_ID}"
    setup.repo.git("worktree", "add", "-q", "--detach", str(stale), "main")
    (stale / "junk.txt").write_text("half-done merge")
    result = setup.merge()
    assert setup.repo.git("show", f"{result.commit}:feature.txt") == "feature"
    setup.assert_no_temp_worktree()


def test_temp_worktree_left_by_a_crash_after_the_move_is_removed_on_replay(setup: Setup) -> None:
    """A kill between moving the target and recording the step leaves the temp worktree."""
    first = setup.merge()
    leftover = setup.tmp_parent / f"agentloop-merge-{RUN_ID}"
    setup.repo.git("worktree", "add", "-q", "--detach", str(leftover), first.commit)
    again = setup.merge()
    assert again == MergeResult(first.commit, True, "agent/feature")
    setup.assert_no_temp_worktree()


def test_commit_identity_when_repo_has_none(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo()
    s = make_setup(repo, tmp_path)
    repo.git("config", "--unset", "user.name")
    repo.git("config", "--unset", "user.email")
    result = s.merge()
    assert repo.git("log", "-1", "--format=%an <%ae>", result.commit) == (
        "agentloop <agentloop@localhost>"
    )


@pytest.mark.parametrize("ff", ["false", "only"])
def test_user_merge_ff_config_does_not_break_squash(setup: Setup, ff: str) -> None:
    setup.repo.git("config", "merge.ff", ff)
    result = setup.merge()
    assert setup.repo.git("show", f"{result.commit}:feature.txt") == "feature"


def test_bad_arguments(setup: Setup) -> None:
    with pytest.raises(GitError, match="does not exist"):
        setup.merge(run_branch="run/missing")
    with pytest.raises(GitError, match="does not merge"):
        setup.merge(strategy="none")
    with pytest.raises(GitError, match="not a valid git branch name"):
        setup.merge(target="bad..name")
    with pytest.raises(GitError, match="both"):
        setup.merge(target="run/feature")
    with pytest.raises(GitError, match="base branch 'nope'"):
        setup.merge(base="nope")
    setup.assert_no_temp_worktree()
