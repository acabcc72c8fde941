"""Which workspace the caller is in: the git toplevel of the working directory, else the
directory itself (SPEC 1). git is asked through :mod:`agentloop.vcs.git`, the project's one
door to subprocesses."""

from __future__ import annotations

from pathlib import Path

from agentloop.core.errors import GitError
from agentloop.core.workspace import workspace_root


def find_workspace(cwd: Path) -> Path:
    from agentloop.vcs.git import toplevel

    try:
        found = toplevel(cwd)
    except GitError:  # no git at all, or a directory git cannot read: not a repository
        found = None
    return workspace_root(found, cwd)
