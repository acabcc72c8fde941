"""A run's worktree: the provider seam, the plain-git provider, and the dirty-tree check.

A :class:`WorktreeProvider` creates the run branch and its worktree and removes them.
Both operations are idempotent, because the engine may repeat a step after a crash:
``create`` reuses a worktree already at the path when it is on the expected branch (and
refuses one on another branch), ``remove`` of something already gone succeeds. A failed
``create`` undoes what it did (the branch it made, the directory it made).
"""

from __future__ import annotations

import builtins
import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agentloop.core.errors import DirtyWorktreeError, GitError
from agentloop.core.types import WorktreeProviderName
from agentloop.vcs.git import Git, refname_arg

_SHOWN_PATHS = 20


@dataclass(frozen=True)
class Worktree:
    """A run's working tree: where it is, its branch, what it branched from, who made it."""

    path: Path
    branch: str
    base_branch: str
    provider: WorktreeProviderName

    def __post_init__(self) -> None:
        # Callers rebuilding a Worktree from stored JSON pass plain strings.
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "provider", WorktreeProviderName(self.provider))

    def to_json(self) -> dict[str, str]:
        return {
            "worktree_path": str(self.path),
            "run_branch": self.branch,
            "base_branch": self.base_branch,
            "provider": self.provider.value,
        }


@dataclass(frozen=True)
class WorktreeEntry:
    """One record of ``git worktree list --porcelain``; ``branch`` is the short name."""

    path: Path
    head: str | None = None
    branch: str | None = None
    detached: bool = False
    bare: bool = False
    locked: bool = False
    prunable: bool = False
    primary: bool = False


class WorktreeProvider(Protocol):
    """Creates and removes run worktrees; see the module docstring for the guarantees."""

    name: WorktreeProviderName

    def create(self, repo_root: Path, path: Path, branch: str, base: str) -> Worktree: ...

    def remove(self, repo_root: Path, worktree: Worktree, delete_branch: bool = False) -> None: ...

    def list(self, repo_root: Path) -> builtins.list[WorktreeEntry]: ...


def list_worktrees(repo_root: Path) -> list[WorktreeEntry]:
    """All worktrees of the repository at ``repo_root``, the primary one first."""
    out = Git(repo_root).run("worktree", "list", "--porcelain", "-z").stdout
    entries: list[WorktreeEntry] = []
    for block in out.split("\0\0"):
        attrs: dict[str, str] = {}
        for line in block.split("\0"):
            key, _, value = line.partition(" ")
            if key:
                attrs[key] = value
        if "worktree" not in attrs:
            continue
        branch = attrs.get("branch")
        entries.append(
            WorktreeEntry(
                path=Path(attrs["worktree"]),
                head=attrs.get("HEAD"),
                branch=branch.removeprefix("refs/heads/") if branch else None,
                detached="detached" in attrs,
                bare="bare" in attrs,
                locked="locked" in attrs,
                prunable="prunable" in attrs,
                primary=not entries,
            )
        )
    return entries


def resolve_worktree_path(repo_root: Path, path: Path | str) -> Path:
    """``path`` made absolute against ``repo_root`` (templates give ``../repo.branch``)."""
    return (Path(repo_root) / path).resolve()


def find_reusable(repo_root: Path, path: Path, branch: str) -> WorktreeEntry | None:
    """The worktree already at ``path`` on ``branch``, or None when there is none yet.

    Raises :class:`GitError` when ``path`` holds a worktree on another branch, when
    ``branch`` is checked out somewhere else, or when ``path`` is a non-empty directory that
    is not a worktree. Stale records (directory deleted by hand) are pruned first.
    """
    entries = list_worktrees(repo_root)
    if any(e.prunable for e in entries):
        Git(repo_root).run("worktree", "prune")
        entries = list_worktrees(repo_root)
    for entry in entries:
        same_path = _same_path(entry.path, path)
        if same_path and entry.branch == branch:
            return entry
        if same_path:
            on = f"branch {entry.branch!r}" if entry.branch else "a detached HEAD"
            raise GitError(
                f"worktree {path} exists but is on {on}, not on the run branch {branch!r}; "
                "remove it or choose another worktree path",
                args=["worktree", "list"],
            )
        if entry.branch == branch:
            raise GitError(
                f"branch {branch!r} is already checked out in worktree {entry.path}, not at {path}",
                args=["worktree", "list"],
            )
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GitError(
            f"worktree path {path} already exists and is not a worktree of {repo_root}",
            args=["worktree", "add", str(path)],
        )
    return None


def _same_path(a: Path, b: Path) -> bool:
    return a == b or a.resolve() == b.resolve()


@dataclass
class Undo:
    """Undo actions collected during a change, run newest first when the change fails."""

    actions: list[Callable[[], None]] = field(default_factory=list)

    def push(self, action: Callable[[], None]) -> None:
        self.actions.append(action)

    def run(self) -> None:
        for action in reversed(self.actions):
            # best effort: the original failure is what the caller must see
            with contextlib.suppress(GitError, OSError):
                action()
        self.actions.clear()


def undo_new_worktree(
    repo_root: Path, path: Path, branch: str, remove_dir: bool
) -> Callable[[], None]:
    """An undo action removing the worktree a failed create made at ``path`` or on
    ``branch`` (checked beforehand to be checked out nowhere, so any such worktree is
    ours), and ``path`` itself when it did not exist before."""

    def undo() -> None:
        git = Git(repo_root)
        for entry in list_worktrees(repo_root):
            if not entry.primary and (_same_path(entry.path, path) or entry.branch == branch):
                git.run("worktree", "remove", "--force", str(entry.path), check=False)
        if remove_dir and path.exists():
            shutil.rmtree(path)
        git.run("worktree", "prune", check=False)

    return undo


def undo_new_branch(repo_root: Path, branch: str) -> Callable[[], None]:
    """An undo action deleting ``branch``, which we created."""

    def undo() -> None:
        Git(repo_root).run("branch", "-D", branch, check=False)

    return undo


class GitWorktrees:
    """The ``git`` provider: ``git worktree add`` / ``remove`` / ``list``."""

    name = WorktreeProviderName.GIT

    def create(self, repo_root: Path, path: Path, branch: str, base: str) -> Worktree:
        """Create ``branch`` from ``base`` checked out at ``path``, or reuse it (idempotent)."""
        git = Git(repo_root)
        target = resolve_worktree_path(repo_root, path)
        worktree = Worktree(target, refname_arg(branch), base, self.name)
        if find_reusable(repo_root, target, branch) is not None:
            return worktree
        undo = Undo()  # runs newest first: the worktree goes before its branch can
        try:
            if git.branch_exists(branch):
                start = None
            else:
                start = git.resolve_start_point(base)
                undo.push(undo_new_branch(repo_root, branch))
            undo.push(undo_new_worktree(repo_root, target, branch, not target.exists()))
            if start is None:
                git.run("worktree", "add", "--quiet", str(target), branch)
            else:
                git.run("worktree", "add", "--quiet", "-b", branch, str(target), start)
        except BaseException:
            undo.run()
            raise
        return worktree

    def remove(self, repo_root: Path, worktree: Worktree, delete_branch: bool = False) -> None:
        """Remove the worktree (``--force``: its changes go too) and optionally its branch."""
        remove_with_git(repo_root, worktree, delete_branch)

    def list(self, repo_root: Path) -> builtins.list[WorktreeEntry]:
        return list_worktrees(repo_root)


def remove_with_git(repo_root: Path, worktree: Worktree, delete_branch: bool) -> None:
    """Remove ``worktree`` with plain git; nothing to remove is not an error."""
    git = Git(repo_root)
    target = resolve_worktree_path(repo_root, worktree.path)
    for entry in list_worktrees(repo_root):
        if not _same_path(entry.path, target):
            continue
        if entry.primary:
            raise GitError(
                f"refusing to remove {target}: it is the repository's primary working tree",
                args=["worktree", "remove", str(target)],
            )
        if not entry.prunable:
            git.run("worktree", "remove", "--force", str(target))
    git.run("worktree", "prune")
    if delete_branch:
        delete_branch_if_exists(git, worktree.branch)


def delete_branch_if_exists(git: Git, branch: str) -> None:
    if branch and git.branch_exists(branch):
        git.run("branch", "-D", branch)


def refuse_dirty(repo_root: Path) -> None:
    """SPEC 2.3: raise :class:`DirtyWorktreeError` when tracked files have changes.

    Untracked files do not count: they cannot be lost by creating a branch or worktree.
    """
    changes = Git(repo_root).tracked_changes()
    if not changes:
        return
    paths = [c.path for c in changes]
    shown = ", ".join(paths[:_SHOWN_PATHS])
    more = f" and {len(paths) - _SHOWN_PATHS} more" if len(paths) > _SHOWN_PATHS else ""
    raise DirtyWorktreeError(
        f"the working tree at {repo_root} has uncommitted changes to tracked files: "
        f"{shown}{more}; commit or stash them before starting a run",
        args=["status", "--porcelain=v1", "--untracked-files=no"],
        paths=paths,
    )
