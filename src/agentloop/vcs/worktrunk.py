"""The ``worktrunk`` provider: run worktrees made by the ``wt`` CLI (worktrunk.dev).

Commands used (worktrunk's documented CLI):

- create: ``wt -C <repo> switch --create <branch> --base <base> --no-cd --yes``, or without
  ``--create``/``--base`` when the branch already exists (a crash between branch and
  worktree). worktrunk computes the path from its ``worktree-path`` template; we pin it
  to the path agentloop rendered by setting ``WORKTRUNK_WORKTREE_PATH`` to that absolute
  path, and check afterwards (with git) that the worktree is there on the branch.
- optional: ``wt -C <worktree> step copy-ignored`` (copy gitignored files such as ``.env``
  into the new worktree; ``worktrunk_copy_ignored``).
- remove: ``wt -C <repo> remove <branch> --foreground --force --yes`` plus
  ``--no-delete-branch`` (keep) or ``--force-delete`` (delete even when unmerged).
- ``worktrunk_config_path`` is handed over as ``WORKTRUNK_CONFIG_PATH``.

``--yes`` skips worktrunk's approval prompts (there is no terminal to answer them); the
user's hooks still run. Listing uses git, the source of truth worktrunk also reads.
"""

from __future__ import annotations

import builtins
from pathlib import Path

from agentloop.core.errors import GitError
from agentloop.core.types import WorktreeProviderName
from agentloop.vcs.git import DEFAULT_TIMEOUT, Git, GitResult, refname_arg, run_process
from agentloop.vcs.worktree import (
    Undo,
    Worktree,
    WorktreeEntry,
    delete_branch_if_exists,
    find_reusable,
    list_worktrees,
    remove_with_git,
    resolve_worktree_path,
    undo_new_branch,
    undo_new_worktree,
)


class Worktrunk:
    """The ``worktrunk`` provider; ``binary`` is the ``wt`` executable (``worktrunk_bin``)."""

    name = WorktreeProviderName.WORKTRUNK

    def __init__(
        self,
        binary: str = "wt",
        config_path: Path | None = None,
        copy_ignored: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.binary = binary
        self.config_path = config_path
        self.copy_ignored = copy_ignored
        self.timeout = timeout

    def _wt(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> GitResult:
        extra = dict(env or {})
        if self.config_path is not None:
            extra["WORKTRUNK_CONFIG_PATH"] = str(self.config_path)
        return run_process(
            [self.binary, "-C", str(cwd), *args], cwd, env=extra, timeout=self.timeout
        )

    def create(self, repo_root: Path, path: Path, branch: str, base: str) -> Worktree:
        """Create ``branch`` from ``base`` at ``path`` with ``wt switch``, or reuse it."""
        git = Git(repo_root)
        target = resolve_worktree_path(repo_root, path)
        worktree = Worktree(target, refname_arg(branch), base, self.name)
        if find_reusable(repo_root, target, branch) is not None:
            return worktree
        if "{{" in str(target) or "{%" in str(target):
            raise GitError(
                f"worktree path {target} contains template syntax worktrunk would expand",
                args=[self.binary, "switch"],
            )
        pin = {"WORKTRUNK_WORKTREE_PATH": str(target)}
        undo = Undo()  # runs newest first: the worktree goes before its branch can
        try:
            existing = git.branch_exists(branch)
            if not existing:
                git.resolve_start_point(base)  # a clear error for a missing base
                undo.push(undo_new_branch(repo_root, branch))
            undo.push(undo_new_worktree(repo_root, target, branch, not target.exists()))
            if existing:
                self._wt(repo_root, "switch", branch, "--no-cd", "--yes", env=pin)
            else:
                start_ref = base if git.try_rev_parse(base) else f"origin/{base}"
                self._wt(
                    repo_root,
                    "switch", "--create", branch, "--base", start_ref, "--no-cd", "--yes",
                    env=pin,
                )  # fmt: skip
            self._check_created(repo_root, target, branch)
            if self.copy_ignored:
                self._wt(target, "step", "copy-ignored")
        except BaseException:
            undo.run()
            raise
        return worktree

    def _check_created(self, repo_root: Path, target: Path, branch: str) -> None:
        for entry in list_worktrees(repo_root):
            if entry.branch == branch and entry.path.resolve() == target:
                return
            if entry.branch == branch:
                raise GitError(
                    f"{self.binary} created the worktree of {branch!r} at {entry.path}, "
                    f"not at {target}; check worktrunk's worktree-path settings",
                    args=[self.binary, "switch", branch],
                )
        raise GitError(
            f"{self.binary} switch reported success but no worktree of {branch!r} exists",
            args=[self.binary, "switch", branch],
        )

    def remove(self, repo_root: Path, worktree: Worktree, delete_branch: bool = False) -> None:
        """Remove with ``wt remove``; a worktree already gone is pruned with git instead."""
        target = resolve_worktree_path(repo_root, worktree.path)
        present = [
            e
            for e in list_worktrees(repo_root)
            if e.path.resolve() == target and not e.prunable and not e.primary
        ]
        if not present or present[0].branch != worktree.branch:
            # Gone already, or detached/odd: plain git handles (and guards) those cases.
            remove_with_git(repo_root, worktree, delete_branch)
            return
        branch_flag = "--force-delete" if delete_branch else "--no-delete-branch"
        self._wt(
            repo_root, "remove", worktree.branch, "--foreground", "--force", branch_flag, "--yes"
        )
        git = Git(repo_root)
        git.run("worktree", "prune")
        if delete_branch:
            delete_branch_if_exists(git, worktree.branch)

    def list(self, repo_root: Path) -> builtins.list[WorktreeEntry]:
        return list_worktrees(repo_root)
