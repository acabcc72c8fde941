"""Choosing the worktree provider from config (SPEC 8: ``auto`` | ``git`` | ``worktrunk``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from agentloop.core.errors import ConfigError
from agentloop.core.types import WorktreeProviderName
from agentloop.vcs.worktree import GitWorktrees, WorktreeProvider
from agentloop.vcs.worktrunk import Worktrunk


def select_provider(
    name: WorktreeProviderName | str,
    worktrunk_bin: str = "wt",
    worktrunk_config_path: Path | str | None = None,
    worktrunk_copy_ignored: bool = False,
) -> WorktreeProvider:
    """``auto`` picks worktrunk when ``worktrunk_bin`` is on PATH (or is a path to an
    executable), else git. ``worktrunk`` without the binary raises :class:`ConfigError`."""
    try:
        choice = WorktreeProviderName(name)
    except ValueError as exc:
        raise ConfigError("worktree_provider", name, "auto, git or worktrunk") from exc
    if choice is WorktreeProviderName.GIT:
        return GitWorktrees()
    found = shutil.which(worktrunk_bin)
    if found is None:
        if choice is WorktreeProviderName.AUTO:
            return GitWorktrees()
        raise ConfigError(
            "worktrunk_bin", worktrunk_bin, "the worktrunk 'wt' executable, on PATH or as a path"
        )
    config = Path(worktrunk_config_path) if worktrunk_config_path else None
    return Worktrunk(found, config_path=config, copy_ignored=worktrunk_copy_ignored)
