"""Worktree-escape detection: tracked changes and HEAD moves in the primary checkout."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agentloop.vcs.escape import PrimarySnapshot, changed_since, snapshot_primary
from agentloop.vcs.worktree import GitWorktrees

from .conftest import Repo


def test_nothing_changed(repo: Repo) -> None:
    snap = snapshot_primary(repo.path)
    assert changed_since(snap) == []


def test_untracked_files_do_not_count(repo: Repo) -> None:
    snap = snapshot_primary(repo.path)
    repo.write("new_untracked.txt", "x")
    assert changed_since(snap) == []


def test_tracked_edits_are_reported(repo: Repo) -> None:
    snap = snapshot_primary(repo.path)
    repo.write("README.md", "agent wrote here\n")
    repo.write("src/app.py", "print('moved')\n")
    repo.git("add", "src/app.py")
    assert changed_since(snap) == ["README.md", "src/app.py"]


def test_edit_of_already_dirty_file(repo: Repo) -> None:
    path = repo.write("README.md", "user edit\n")
    snap = snapshot_primary(repo.path)
    assert changed_since(snap) == []
    path.write_text("agent edit, longer\n")
    assert changed_since(snap) == ["README.md"]


def test_same_size_edit_of_dirty_file_is_seen_by_mtime(repo: Repo) -> None:
    path = repo.write("README.md", "aaaa\n")
    snap = snapshot_primary(repo.path)
    path.write_text("bbbb\n")
    later = time.time_ns() + 5_000_000_000
    os.utime(path, ns=(later, later))
    assert changed_since(snap) == ["README.md"]


def test_revert_of_dirty_file(repo: Repo) -> None:
    repo.write("README.md", "user edit\n")
    snap = snapshot_primary(repo.path)
    repo.git("checkout", "--", "README.md")
    assert changed_since(snap) == ["README.md"]


def test_commit_and_branch_switch_move_head(repo: Repo) -> None:
    snap = snapshot_primary(repo.path)
    repo.commit("agent committed in the wrong place", {"oops.txt": "x\n"})
    assert changed_since(snap) == ["HEAD"]
    snap = snapshot_primary(repo.path)
    repo.git("checkout", "-q", "-b", "elsewhere")
    assert changed_since(snap) == ["HEAD"]


def test_work_in_the_run_worktree_is_not_an_escape(repo: Repo) -> None:
    wt = GitWorktrees().create(repo.path, Path("../repo.run"), "run/x", "main")
    snap = snapshot_primary(repo.path)
    Repo(wt.path).commit("proper work", {"README.md": "changed in worktree\n"})
    (wt.path / "src/app.py").write_text("uncommitted in worktree\n")
    assert changed_since(snap) == []


def test_json_round_trip(repo: Repo) -> None:
    repo.write("README.md", "dirty\n")
    snap = snapshot_primary(repo.path)
    again = PrimarySnapshot.from_json(snap.to_json())
    assert again == snap
    assert changed_since(again) == []
