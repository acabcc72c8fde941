"""One change at a time to a repository's worktrees.

``git worktree add`` reads every entry of ``<git dir>/worktrees`` and dies on one that
another ``add`` or ``remove`` has half written ("failed to read .../commondir"): runs of one
repository merging, preparing or being cleaned up at the same moment failed each other (fuzz
seed 56145). Every ``git worktree add|remove|prune|move|repair`` we run holds this lock, an
``flock`` on a file in the repository's common git dir: it holds between the threads of one
loopd (each acquisition opens the file anew), between processes, and between hosts sharing
the workspace. It is held only around the one command, so it nests inside any other lock.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentloop.vcs.head import common_dir_of, git_dir_of

LOCK_NAME = "agentloop-worktrees.lock"
CHANGES = frozenset({"add", "remove", "prune", "move", "repair"})


def changes_worktrees(args: tuple[str, ...]) -> bool:
    """Whether the git command ``args`` adds, removes or moves worktrees."""
    return len(args) > 1 and args[0] == "worktree" and args[1] in CHANGES


@contextmanager
def worktree_lock(cwd: Path) -> Iterator[None]:
    """Hold the worktree lock of the repository ``cwd`` is a working tree of (nothing to
    hold when it is none: git then fails on its own)."""
    common = common_git_dir(cwd)
    if common is None:
        yield
        return
    with repository_flock(common, LOCK_NAME):
        yield


@contextmanager
def repository_flock(common: Path, name: str) -> Iterator[None]:
    """An exclusive ``flock`` on file ``name`` of the repository's common git dir."""
    with (common / name).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def common_git_dir(cwd: Path) -> Path | None:
    """The common git dir of the repository ``cwd`` is in (a linked worktree's or a
    submodule's included); None when it is in none."""
    from agentloop.vcs.git import Git

    try:
        git_dir = git_dir_of(cwd)
    except OSError:
        git_dir = None
    if git_dir is not None:
        common = common_dir_of(git_dir)
    else:  # a directory inside a working tree: ask git
        found = Git(cwd).run("rev-parse", "--git-common-dir", check=False, new_session=False)
        if found.returncode != 0 or not found.stdout.strip():
            return None
        common = cwd / found.stdout.strip()
    return common if common.is_dir() else None
