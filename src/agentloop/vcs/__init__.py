"""Git for agentloop: branches, run worktrees, merging, diffs and escape detection.

Every git (and ``wt``) process is started by :mod:`agentloop.vcs.git`; nothing else in
the package calls subprocess.
"""

from agentloop.vcs.branches import unique_branch, validate_branch_name
from agentloop.vcs.diff import BranchDiff, FileDiff, branch_diff
from agentloop.vcs.escape import PrimarySnapshot, changed_since, snapshot_primary
from agentloop.vcs.git import Commit, Git, GitResult, TrackedChange, run_process, toplevel
from agentloop.vcs.head import HeadState, head_sha, read_head
from agentloop.vcs.merge import MergeResult, VerifyOutcome, find_merge_commit, merge_run
from agentloop.vcs.provider import select_provider
from agentloop.vcs.worktree import (
    GitWorktrees,
    Worktree,
    WorktreeEntry,
    WorktreeProvider,
    list_worktrees,
    refuse_dirty,
)
from agentloop.vcs.worktrunk import Worktrunk

__all__ = [
    "BranchDiff",
    "Commit",
    "FileDiff",
    "Git",
    "GitResult",
    "GitWorktrees",
    "HeadState",
    "MergeResult",
    "PrimarySnapshot",
    "TrackedChange",
    "VerifyOutcome",
    "Worktree",
    "WorktreeEntry",
    "WorktreeProvider",
    "Worktrunk",
    "branch_diff",
    "changed_since",
    "find_merge_commit",
    "head_sha",
    "list_worktrees",
    "merge_run",
    "read_head",
    "refuse_dirty",
    "run_process",
    "select_provider",
    "snapshot_primary",
    "toplevel",
    "unique_branch",
    "validate_branch_name",
]
