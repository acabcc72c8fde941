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

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentloop.core.errors import GitError
from agentloop.vcs.worktree_lock import common_git_dir, repository_flock

LOCK_NAME = "agentloop-prepare.lock"


@contextmanager
def prepare_lock(workspace: Path) -> Iterator[None]:
    common = common_git_dir(workspace)
    if common is None:
        raise GitError(
            f"{workspace} is not in a git repository", args=["rev-parse", "--git-common-dir"]
        )
    with repository_flock(common, LOCK_NAME):
        yield
