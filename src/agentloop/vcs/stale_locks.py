"""Git's lock files that a killed git process leaves behind in a run's worktree.

git creates ``index.lock`` (and ``HEAD.lock``, ``<ref>.lock``) for the length of one
command and deletes it on the way out; a git killed in between (an agent stopped by a pause
or a cancel, its processes ended after loopd died) leaves it, and every later git command
in that worktree refuses to run ("Another git process seems to be running"). Only the
worktree's own locks are touched: its index, its HEAD and the branch it has checked out,
which no process outside the run uses; never a lock of the shared repository, nor of a
primary checkout (the user's).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from agentloop.vcs.head import common_dir_of, git_dir_of, read_head


def remove_stale_locks(worktree: Path, older_than: float) -> list[Path]:
    """Remove the linked ``worktree``'s git locks last modified before ``older_than`` (a
    time.time() when none of the processes that might hold them was still running);
    the locks removed."""
    if not (worktree / ".git").is_file():
        return []  # not a linked worktree
    git_dir = git_dir_of(worktree)
    if git_dir is None:
        return []
    removed = []
    for lock in _own_locks(worktree, git_dir):
        with contextlib.suppress(FileNotFoundError):
            if lock.stat().st_mtime < older_than:
                lock.unlink()
                removed.append(lock)
    return removed


def _own_locks(worktree: Path, git_dir: Path) -> list[Path]:
    locks = [git_dir / "index.lock", git_dir / "HEAD.lock"]
    ref = read_head(worktree).ref
    if ref and ref.startswith("refs/heads/") and ".." not in ref:
        locks.append(common_dir_of(git_dir).resolve() / f"{ref}.lock")
    return locks
