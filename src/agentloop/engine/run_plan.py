"""The plan of a run as it stands now (SPEC 3, 18), for the run page's live task list.

Read from the first place that has it:

1. the run's worktree, where the agent edits it (ticks not committed yet included);
2. the run branch's last commit, once the worktree is removed after the run;
3. the workspace, while the run has no branch yet (the plan it will start from).

A run whose branch was deleted (scrapped) has no plan of its own any more: the workspace's
copy would show its tasks undone, so that is a :class:`NotFound` saying so.

The worktree and the workspace are read only inside themselves, symlinks followed: an agent
could leave a symlink where its plan was, and loopd reads nothing outside a workspace or
run dir for a client (SPEC 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agentloop.core.errors import InvalidInput, NotFound
from agentloop.core.models import Run
from agentloop.core.plan import Plan, parse_plan, read_plan
from agentloop.core.workspace import ensure_within
from agentloop.vcs.git import Git, refname_arg

__all__ = ["PlanSource", "RunPlan", "read_run_plan"]


class PlanSource(StrEnum):
    WORKTREE = "worktree"
    BRANCH = "branch"
    WORKSPACE = "workspace"


@dataclass(frozen=True)
class RunPlan:
    source: PlanSource
    location: str
    """The file read, or ``<branch>:<path>`` for the run branch's copy."""
    plan: Plan


def read_run_plan(run: Run) -> RunPlan:
    """The run's plan now; :class:`NotFound` when no place has it (an experiment's plan is
    optional), :class:`PathEscapeError` when it resolves outside where it must stay."""
    workspace = Path(run.workspace_root)
    try:
        relative = Path(run.plan_path).relative_to(workspace)
    except ValueError as exc:
        raise InvalidInput(f"the run's plan {run.plan_path!r} is outside its workspace") from exc
    info = run.worktree
    if info.worktree_path and Path(info.worktree_path).is_dir():
        found = _file_within(Path(info.worktree_path), relative)
        if found is not None:
            return RunPlan(PlanSource.WORKTREE, str(found), read_plan(found))
    if info.run_branch:
        text = _committed(workspace, info.run_branch, relative)
        if text is not None:
            return RunPlan(PlanSource.BRANCH, f"{info.run_branch}:{relative}", parse_plan(text))
        raise NotFound(
            f"the run's plan {str(relative)!r} is neither in its worktree nor on its branch "
            f"{info.run_branch} (a scrapped run's branch is deleted)"
        )
    found = _file_within(workspace, relative)
    if found is not None:
        return RunPlan(PlanSource.WORKSPACE, str(found), read_plan(found))
    raise NotFound(f"the run's plan {str(relative)!r} is not in its workspace")


def _file_within(root: Path, relative: Path) -> Path | None:
    path = ensure_within(relative, root)
    return path if path.is_file() else None


def _committed(workspace: Path, branch: str, relative: Path) -> str | None:
    if not workspace.is_dir():
        return None
    spec = f"refs/heads/{refname_arg(branch)}:{relative.as_posix()}"
    done = Git(workspace).run("cat-file", "blob", spec, check=False, new_session=False)
    return done.stdout if done.returncode == 0 else None
