"""Review workflow reads (SPEC 8): the run branch's diff against its base, and worktrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentloop.core.errors import Conflict
from agentloop.core.models import Run
from agentloop.core.types import CleanupStatus
from agentloop.engine.runtime import Runtime
from agentloop.vcs.diff import branch_diff
from agentloop.vcs.worktree import list_worktrees as git_worktrees


def diff(runtime: Runtime, run: Run) -> dict[str, Any]:
    info = run.worktree
    if not info.run_branch or not info.base_branch:
        raise Conflict("the run has no branch yet", run.status.value)
    return branch_diff(Path(run.workspace_root), info.base_branch, info.run_branch).to_json()


def remove_finished_worktrees(runtime: Runtime, run_id: str | None = None) -> dict[str, Any]:
    """`DELETE /worktrees`: remove the worktrees of runs that have ended (their branches,
    which hold all committed work, stay); active runs' worktrees are never touched."""
    from agentloop.engine.context import RunContext
    from agentloop.engine.finish import remove_worktree

    runs = [runtime.store.resolve_run(run_id)] if run_id else runtime.store.list_runs(limit=1000)[0]
    removed: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for run in runs:
        path = run.worktree.worktree_path
        if not path or not Path(path).exists():
            continue
        if not run.status.is_terminal:
            kept.append({"run_id": run.id, "path": path, "reason": f"run is {run.status.value}"})
            continue
        ctx = RunContext.load(run.id, step_key=0)
        status = remove_worktree(ctx, Path(path))
        runtime.store.update_run(run.id, worktree_cleanup_status=status.value)
        entry = {"run_id": run.id, "path": path, "status": status.value}
        (removed if status is CleanupStatus.CLEANED else kept).append(entry)
    return {"removed": removed, "kept": kept}


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
