"""The package face of agentloop.vcs: what the engine and the API may import."""

from __future__ import annotations

import agentloop.vcs as vcs


def test_public_face() -> None:
    assert sorted(vcs.__all__) == [
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
    for name in vcs.__all__:
        assert getattr(vcs, name).__module__.startswith("agentloop.vcs.")


def test_only_git_module_starts_processes() -> None:
    from pathlib import Path

    package = Path(vcs.__file__).parent
    for module in package.glob("*.py"):
        if module.name != "git.py":
            source = module.read_text()
            assert "import subprocess" not in source, module.name
            assert "os.system" not in source and "os.exec" not in source, module.name
