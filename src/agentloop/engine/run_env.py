"""The environment of every process a run starts (SPEC 4): its agents, verify commands
(in the worktree and on the merged tree), measure commands and postmortem all see the
same ``LOOP_*`` facts, and a stop finds what they leave behind by ``LOOP_RUN_ID``."""

from __future__ import annotations

from pathlib import Path

from agentloop.engine.child_env import child_env
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles

__all__ = ["in_worktree", "run_env"]


def in_worktree(ctx: RunContext, path: str | Path) -> Path:
    """``path`` (in the user's checkout) as the run sees it: inside its worktree."""
    worktree = ctx.worktree
    if worktree is None:
        return Path(path)
    try:
        return worktree / Path(path).relative_to(ctx.workspace)
    except ValueError:
        return Path(path)


def run_env(ctx: RunContext, iteration: int, **more: str) -> dict[str, str]:
    """The child environment of the run's ``iteration``, with ``more`` (e.g.
    ``LOOP_METRICS_OUT``) set too."""
    return child_env(
        LOOP_RUN_ID=ctx.run_id,
        LOOP_RUN_DIR=str(RunFiles(ctx).primary_dir),
        LOOP_ITERATION=str(iteration),
        LOOP_SPEC_PATH=str(in_worktree(ctx, ctx.run.spec_path)),
        LOOP_PLAN_PATH=str(in_worktree(ctx, ctx.run.plan_path)),
        **more,
    )
