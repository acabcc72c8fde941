"""The git wrapper: process handling, error translation, typed reads."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest

from agentloop.core.errors import GitError
from agentloop.vcs import git as git_module
from agentloop.vcs.git import Git, command_env, parse_status_z, run_process, toplevel

from .conftest import MakeRepo, Repo


def test_run_returns_output(repo: Repo) -> None:
    result = Git(repo.path).run("rev-parse", "HEAD")
    assert result.returncode == 0
    assert result.stdout.strip() == repo.sha()
    assert result.stderr == ""


def test_failure_becomes_git_error_with_facts(repo: Repo) -> None:
    with pytest.raises(GitError) as info:
        Git(repo.path).run("rev-parse", "--verify", "no-such-rev")
    error = info.value
    assert error.git_args == ["git", "rev-parse", "--verify", "no-such-rev"]
    assert error.returncode == 128
    assert "Needed a single revision" in error.stderr
    assert "exit 128" in str(error)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is GitError and clone.stderr == error.stderr


def test_check_false_returns_the_failure(repo: Repo) -> None:
    result = Git(repo.path).run("rev-parse", "--verify", "-q", "nope", check=False)
    assert result.returncode == 1


def test_input_is_passed_on_stdin(repo: Repo) -> None:
    result = Git(repo.path).run("hash-object", "--stdin", input="abc\n")
    assert result.stdout.strip() == "8baef1b4abc478178b004d62031cf7fe6db6f903"


def test_timeout_kills_and_raises_chained(tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        run_process(["sleep", "5"], tmp_path, timeout=0.2)
    assert info.value.returncode == 124
    assert "timed out" in str(info.value)
    assert isinstance(info.value.__cause__, subprocess.TimeoutExpired)


def test_missing_program_raises_chained(tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        run_process(["definitely-not-a-program-xyz"], tmp_path)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist"):
        Git(tmp_path / "gone").run("status")


def test_environment_is_explicit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    env = command_env({"EXTRA": "1"})
    assert "GIT_DIR" not in env
    assert env["LC_ALL"] == "C"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_PAGER"] == "cat"
    assert env["EXTRA"] == "1"


def test_inherited_git_dir_does_not_redirect(
    repo: Repo, make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_repo("other")
    other.commit("only in other")  # the two heads differ whatever second they were made in
    expected = repo.sha()  # before GIT_DIR is set: the helper's git inherits the environment
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    assert Git(repo.path).rev_parse("HEAD") == expected


def test_toplevel(repo: Repo, tmp_path: Path) -> None:
    (repo.path / "src").mkdir(exist_ok=True)
    assert toplevel(repo.path / "src") == repo.path
    assert Git(repo.path).toplevel() == repo.path
    plain = tmp_path / "plain"
    plain.mkdir()
    assert toplevel(plain) is None
    assert toplevel(tmp_path / "missing") is None


def test_current_branch(make_repo: MakeRepo) -> None:
    repo = make_repo()
    assert Git(repo.path).current_branch() == "main"
    repo.git("checkout", "-q", "--detach")
    assert Git(repo.path).current_branch() is None
    unborn = make_repo("unborn", identity=False, branch="trunk")
    assert Git(unborn.path).current_branch() == "trunk"


def test_default_branch_prefers_origin_head(make_repo: MakeRepo, tmp_path: Path) -> None:
    upstream = make_repo("upstream", branch="trunk")
    clone = Repo(tmp_path / "clone")
    upstream.git("clone", "-q", "--bare", str(upstream.path), str(tmp_path / "origin.git"))
    upstream.git("clone", "-q", str(tmp_path / "origin.git"), str(clone.path))
    clone.git("checkout", "-q", "-b", "feature")
    assert clone.git("symbolic-ref", "refs/remotes/origin/HEAD") == "refs/remotes/origin/trunk"
    assert Git(clone.path).default_branch() == "trunk"


def test_default_branch_current_then_main(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.git("checkout", "-q", "-b", "dev")
    assert Git(repo.path).default_branch() == "dev"
    repo.git("checkout", "-q", "--detach")
    assert Git(repo.path).default_branch() == "main"


def test_branches_and_revisions(repo: Repo) -> None:
    git = Git(repo.path)
    first = repo.sha()
    repo.git("branch", "run/a")
    repo.git("branch", "run/b")
    repo.git("branch", "other")
    second = repo.commit("second", {"b.txt": "b\n"})
    assert git.branch_exists("run/a")
    assert not git.branch_exists("run/zzz")
    assert git.list_branches("run/") == ["run/a", "run/b"]
    assert git.list_branches() == ["main", "other", "run/a", "run/b"]
    assert git.rev_parse("main") == second
    assert git.try_rev_parse("missing") is None
    with pytest.raises(GitError, match="unknown revision"):
        git.rev_parse("missing")
    assert git.is_ancestor(first, second)
    assert not git.is_ancestor(second, first)
    with pytest.raises(GitError):
        git.is_ancestor("missing", second)


def test_option_like_ref_is_refused(repo: Repo) -> None:
    with pytest.raises(GitError, match="invalid ref name"):
        Git(repo.path).rev_parse("--all")


def test_commits_between(repo: Repo) -> None:
    base = repo.sha()
    repo.git("checkout", "-q", "-b", "feature")
    one = repo.commit("add one", {"one.txt": "1\n"})
    two = repo.commit("add two", {"two.txt": "2\n"})
    commits = Git(repo.path).commits_between("main", "feature")
    assert [c.sha for c in commits] == [two, one]
    assert commits[0].subject == "add two"
    assert commits[0].author == "Test User"
    assert commits[0].author_email == "test@example.com"
    assert commits[0].timestamp > 1_600_000_000
    assert Git(repo.path).commits_between("feature", base) == []
    assert commits[0].to_json()["sha"] == two


def test_tracked_changes_ignores_untracked(repo: Repo) -> None:
    git = Git(repo.path)
    assert git.tracked_changes() == []
    repo.write("untracked.txt", "x")
    assert git.tracked_changes() == []
    repo.write("README.md", "changed\n")
    repo.write("new.txt", "staged\n")
    repo.git("add", "new.txt")
    repo.git("mv", "src/app.py", "src/main.py")
    changes = {c.path: c for c in git.tracked_changes()}
    assert changes["README.md"].xy == " M"
    assert changes["new.txt"].xy == "A "
    assert changes["src/main.py"].xy == "R "
    assert changes["src/main.py"].old_path == "src/app.py"
    assert [c.path for c in git.tracked_changes("README.md")] == ["README.md"]


def test_parse_status_z_handles_spaces_and_renames() -> None:
    out = " M a file.txt\0R  new name\0old name\0D  gone\0"
    parsed = parse_status_z(out)
    assert [(c.xy, c.path, c.old_path) for c in parsed] == [
        (" M", "a file.txt", None),
        ("R ", "new name", "old name"),
        ("D ", "gone", None),
    ]


def test_identity_args_only_when_missing(make_repo: MakeRepo) -> None:
    assert Git(make_repo("with").path).identity_args() == []
    bare = make_repo("without", identity=False)
    assert Git(bare.path).identity_args() == [
        "-c",
        f"user.name={git_module.AGENTLOOP_NAME}",
        "-c",
        f"user.email={git_module.AGENTLOOP_EMAIL}",
    ]
    bare.git("config", "user.name", "Someone")
    assert Git(bare.path).identity_args() == ["-c", "user.email=agentloop@localhost"]
