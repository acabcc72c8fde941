"""`DELETE /worktrees` (SPEC 8, 20): remove worktrees of ended runs, or one worktree by path.

Never the primary checkout, never an active run's worktree, and never uncommitted work
without ``force``: a worktree with uncommitted changes (untracked files included) is kept
and reported with why. Branches stay (they hold every commit). What ``force`` removes is
still saved first under ``refs/agentloop/wip/<run id>`` (see :mod:`agentloop.vcs.wip`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentloop.core.errors import InvalidInput
from agentloop.core.models import Run
from agentloop.core.types import CleanupStatus, WorktreeProviderName
from agentloop.engine.runtime import Runtime
from agentloop.vcs.wip import save_uncommitted, uncommitted_paths
from agentloop.vcs.worktree import Worktree, list_worktrees, remove_with_git

__all__ = ["remove_worktrees"]

_SHOWN = 5


@dataclass
class Removal:
    removed: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, run_id: str | None, path: str, reason: str) -> None:
        self.kept.append({"run_id": run_id, "path": path, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        return {"removed": self.removed, "kept": self.kept}


def remove_worktrees(
    runtime: Runtime,
    *,
    run_id: str | None = None,
    workspace: str | None = None,
    path: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Remove ended runs' worktrees (of one run or one workspace, or all), or the worktree
    at ``path`` of ``workspace``; see the module docstring."""
    removal = Removal()
    root = _workspace(workspace) if workspace else None
    if path is not None:
        if root is None:
            raise InvalidInput("path needs workspace: the repository the worktree belongs to")
        _remove_one(runtime, root, path, force, removal)
        return removal.to_json()
    if run_id:
        runs = [runtime.store.resolve_run(run_id)]
    else:
        runs = runtime.store.list_runs(limit=10_000)[0]
        if root is not None:
            runs = [run for run in runs if Path(run.workspace_root) == root]
    for run in runs:
        where = run.worktree.worktree_path
        if where and Path(where).exists():
            _remove_of_run(runtime, run, Path(where), force, removal)
    return removal.to_json()


def _workspace(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute() or not path.is_dir():
        raise InvalidInput(f"workspace {raw!r} must be an existing absolute directory")
    return path.resolve()


def _remove_one(runtime: Runtime, root: Path, raw: str, force: bool, removal: Removal) -> None:
    target = Path(raw).expanduser()
    target = (root / target).resolve() if not target.is_absolute() else target.resolve()
    entries = {entry.path.resolve(): entry for entry in list_worktrees(root)}
    entry = entries.get(target)
    if entry is None:
        raise InvalidInput(f"{raw!r} is not a worktree of the repository {str(root)!r}")
    if entry.primary:
        raise InvalidInput(f"{raw!r} is the repository's primary checkout, never removed")
    owner = next(
        (
            run
            for run in runtime.store.list_runs(limit=10_000)[0]
            if run.worktree.worktree_path and Path(run.worktree.worktree_path).resolve() == target
        ),
        None,
    )
    if owner is not None:
        _remove_of_run(runtime, owner, target, force, removal)
        return
    if _kept_for_changes(None, target, force, removal):
        return
    label = "path-" + hashlib.sha256(str(target).encode()).hexdigest()[:12]
    save_uncommitted(target, label)
    worktree = Worktree(target, entry.branch or "", "", WorktreeProviderName.GIT)
    remove_with_git(root, worktree, delete_branch=False)
    removal.removed.append({"run_id": None, "path": str(target), "status": "cleaned"})


def _remove_of_run(runtime: Runtime, run: Run, path: Path, force: bool, removal: Removal) -> None:
    from agentloop.engine.context import RunContext
    from agentloop.engine.finish import remove_worktree

    if not run.status.is_terminal:
        removal.keep(run.id, str(path), f"run is {run.status.value}")
        return
    if _kept_for_changes(run.id, path, force, removal):
        return
    status = remove_worktree(RunContext.load(runtime, run.id, step_key=0), path)
    runtime.store.update_run(run.id, worktree_cleanup_status=status.value)
    entry = {"run_id": run.id, "path": str(path), "status": status.value}
    if status is CleanupStatus.CLEANED:
        removal.removed.append(entry)
    else:
        removal.keep(run.id, str(path), "git could not remove it (see loopd's log)")


def _kept_for_changes(run_id: str | None, path: Path, force: bool, removal: Removal) -> bool:
    if force:
        return False
    changed = uncommitted_paths(path)
    if not changed:
        return False
    more = f" and {len(changed) - _SHOWN} more" if len(changed) > _SHOWN else ""
    shown = ", ".join(changed[:_SHOWN]) + more
    removal.keep(run_id, str(path), f"uncommitted changes ({shown}); pass force=true to remove")
    return True
