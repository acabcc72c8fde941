"""One run at a time picks a branch and makes a worktree in a repository.

Runs of one workspace prepare concurrently (nothing caps them per workspace by default),
and choosing ``<prefix><slug>`` free of existing branches, then creating it, is a
read-then-write on the repository: two runs of the same spec both chose ``run/demo``, both
ran ``git worktree add`` at the same path, and each one's undo removed the other's
worktree, so every one of them failed. Holding this lock from the choice until the worktree
exists makes the second run see the first one's branch and take ``run/demo-2``.

The lock is an ``flock`` on a file in the repository's git directory: it holds between the
threads of one loopd (each acquisition opens the file anew), between processes, and between
hosts sharing the workspace path.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentloop.vcs.git import Git

LOCK_NAME = "agentloop-prepare.lock"


@contextmanager
def prepare_lock(workspace: Path) -> Iterator[None]:
    with _lock_path(workspace).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_path(workspace: Path) -> Path:
    git_dir = workspace / ".git"
    if not git_dir.is_dir():  # a linked worktree or a submodule: .git is a file
        common = Git(workspace).run("rev-parse", "--git-common-dir").stdout.strip()
        git_dir = (workspace / common).resolve()
    return git_dir / LOCK_NAME
