"""Review workflow reads (SPEC 8): the run branch's diff against its base, and worktrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentloop.core.errors import Conflict
from agentloop.core.models import Run
from agentloop.engine.runtime import Runtime
from agentloop.vcs.diff import branch_diff
from agentloop.vcs.worktree import list_worktrees as git_worktrees


def diff(runtime: Runtime, run: Run) -> dict[str, Any]:
    info = run.worktree
    if not info.run_branch or not info.base_branch:
        raise Conflict("the run has no branch yet", run.status.value)
    return branch_diff(Path(run.workspace_root), info.base_branch, info.run_branch).to_json()


def list_worktrees(runtime: Runtime) -> list[dict[str, Any]]:
    """Worktrees of every run's workspace, each marked with the run that owns it."""
    runs, _ = runtime.store.list_runs(limit=1000)
    owners = {r.worktree.worktree_path: r for r in runs if r.worktree.worktree_path}
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    for workspace in sorted({r.workspace_root for r in runs}):
        if not Path(workspace).is_dir():
            continue
        for entry in git_worktrees(Path(workspace)):
            path = str(entry.path)
            if path in seen or entry.primary:
                continue
            seen.add(path)
            owner = owners.get(path)
            found.append(
                {
                    "path": path,
                    "branch": entry.branch,
                    "head": entry.head,
                    "workspace_root": workspace,
                    "run_id": owner.id if owner else None,
                    "run_status": owner.status.value if owner else None,
                }
            )
    return found
