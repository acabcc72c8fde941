"""branch_diff: commits and per-file entries of a run branch against its merge-base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentloop.core.errors import GitError
from agentloop.vcs.diff import branch_diff

from .conftest import MakeRepo, Repo


@pytest.fixture
def changed(repo: Repo) -> Repo:
    repo.commit("more files", {"old_name.txt": "one\ntwo\nthree\nfour\nfive\n", "gone.txt": "x\n"})
    repo.git("checkout", "-q", "-b", "run/x")
    repo.git("mv", "old_name.txt", "new_name.txt")
    repo.git("rm", "-q", "gone.txt")
    repo.commit("rename and delete")
    repo.commit(
        "add and modify",
        {
            "README.md": "hello\nworld\n",
            "added file.txt": "a\nb\n",
            "logo.bin": bytes(range(256)) * 4,
        },
    )
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", {"main_only.txt": "m\n"})
    return repo


def test_commits_and_files(changed: Repo) -> None:
    diff = branch_diff(changed.path, "main", "run/x")
    assert [c.subject for c in diff.commits] == ["add and modify", "rename and delete"]
    assert diff.head == changed.sha("run/x")
    assert diff.merge_base == changed.git("merge-base", "main", "run/x")
    files = {f.path: f for f in diff.files}
    assert set(files) == {"README.md", "added file.txt", "gone.txt", "logo.bin", "new_name.txt"}
    assert "main_only.txt" not in files  # vs the merge-base, not base's tip

    readme = files["README.md"]
    assert (readme.status, readme.additions, readme.deletions) == ("M", 1, 0)
    assert "+world" in readme.patch and readme.patch.startswith("diff --git a/README.md")

    added = files["added file.txt"]
    assert (added.status, added.additions, added.binary) == ("A", 2, False)
    assert "+a\n+b" in added.patch

    assert (files["gone.txt"].status, files["gone.txt"].deletions) == ("D", 1)

    renamed = files["new_name.txt"]
    assert (renamed.status, renamed.old_path) == ("R", "old_name.txt")
    assert (renamed.additions, renamed.deletions) == (0, 0)
    assert "rename from old_name.txt" in renamed.patch

    binary = files["logo.bin"]
    assert binary.binary and binary.status == "A"
    assert "Binary files" in binary.patch
    assert diff.additions == 3 and diff.deletions == 1


def test_json_shape(changed: Repo) -> None:
    data = json.loads(json.dumps(branch_diff(changed.path, "main", "run/x").to_json()))
    assert set(data) == {
        "base", "branch", "merge_base", "head", "commits", "files", "additions", "deletions",
    }  # fmt: skip
    assert set(data["commits"][0]) == {"sha", "subject", "author", "author_email", "timestamp"}
    assert set(data["files"][0]) == {
        "path", "old_path", "status", "additions", "deletions", "binary", "patch", "truncated",
    }  # fmt: skip


def test_patches_are_capped(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "run/x")
    repo.commit("big", {"big.txt": "".join(f"line {i}\n" for i in range(5000)), "s.txt": "s\n"})
    diff = branch_diff(repo.path, "main", "run/x", max_patch_bytes=1000)
    files = {f.path: f for f in diff.files}
    big = files["big.txt"]
    assert big.truncated and len(big.patch.encode()) <= 1000
    assert big.patch.endswith("\n") and big.additions == 5000
    assert not files["s.txt"].truncated and files["s.txt"].patch.endswith("+s\n")


def test_no_changes(repo: Repo) -> None:
    repo.git("branch", "run/x")
    diff = branch_diff(repo.path, "main", "run/x")
    assert diff.commits == [] and diff.files == []


def test_unrelated_histories(repo: Repo, make_repo: MakeRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "--orphan", "lonely")
    repo.commit("unrelated")
    with pytest.raises(GitError, match="no common history"):
        branch_diff(repo.path, "main", "lonely")


def test_unknown_branch(repo: Repo) -> None:
    with pytest.raises(GitError, match="unknown revision"):
        branch_diff(repo.path, "main", "run/missing")
