"""unique_branch: <prefix><slug>, de-duplicated, validated."""

from __future__ import annotations

import pytest

from agentloop.core.errors import GitError
from agentloop.vcs.branches import unique_branch
from agentloop.vcs.git import Git

from .conftest import Repo


def test_plain_name_when_free(repo: Repo) -> None:
    assert unique_branch(Git(repo.path), "run/", "add-login") == "run/add-login"


def test_suffixes_count_up(repo: Repo) -> None:
    git = Git(repo.path)
    repo.git("branch", "run/add-login")
    assert unique_branch(git, "run/", "add-login") == "run/add-login-2"
    repo.git("branch", "run/add-login-2")
    repo.git("branch", "run/add-login-3")
    assert unique_branch(git, "run/", "add-login") == "run/add-login-4"


def test_other_prefixes_do_not_count(repo: Repo) -> None:
    repo.git("branch", "agent/add-login")
    assert unique_branch(Git(repo.path), "run/", "add-login") == "run/add-login"


def test_name_used_as_directory_is_taken(repo: Repo) -> None:
    repo.git("branch", "run/x/y")
    assert unique_branch(Git(repo.path), "run/", "x") == "run/x-2"


@pytest.mark.parametrize("slug", ["a..b", "bad name", "ends.lock", "x~1", ""])
def test_invalid_names_are_refused(repo: Repo, slug: str) -> None:
    with pytest.raises(GitError, match="not a valid git branch name"):
        unique_branch(Git(repo.path), "run/", slug)
