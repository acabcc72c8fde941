"""Uncommitted work in a run's worktree: find it, and keep it before the worktree goes.

Removing a worktree deletes its uncommitted changes and untracked files. Before loopd
removes one (cleanup after a run ended), whatever is uncommitted is saved as a commit under
``refs/agentloop/wip/<run id>`` (the worktree's HEAD as parent, a scratch index, so neither
the branch nor the worktree's own index moves): ``git show refs/agentloop/wip/<id>`` gets
it back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agentloop.vcs.git import Git

__all__ = ["WIP_REF_PREFIX", "save_uncommitted", "uncommitted_paths"]

WIP_REF_PREFIX = "refs/agentloop/wip/"


def uncommitted_paths(worktree: Path) -> list[str]:
    """Paths with uncommitted changes, untracked files included (ignored ones are not)."""
    out = (
        Git(worktree)
        .run("--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all")
        .stdout
    )
    paths = []
    fields = out.split("\0")
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy: the old path follows
            index += 1
    return paths


def save_uncommitted(worktree: Path, run_id: str) -> str | None:
    """Commit everything uncommitted in ``worktree`` to ``refs/agentloop/wip/<run_id>``;
    the commit id, or None when there was nothing to save."""
    if not uncommitted_paths(worktree):
        return None
    git = Git(worktree)
    head = git.run("rev-parse", "--verify", "-q", "HEAD", check=False).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="agentloop-wip-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if head:
            git.run("read-tree", head, env=env)
        git.run("add", "-A", env=env)
        tree = git.run("write-tree", env=env).stdout.strip()
    parents = ["-p", head] if head else []
    message = f"agentloop: uncommitted work of run {run_id}, saved before its worktree went"
    commit = git.run(
        *git.identity_args(), "commit-tree", tree, *parents, "-m", message
    ).stdout.strip()
    git.run("update-ref", f"{WIP_REF_PREFIX}{run_id}", commit)
    return commit
