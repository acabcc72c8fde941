"""Review actions on a finished run (SPEC 8, 14): merge, scrap, create a pull request.

A run that completes without a merge target waits for a person: these are the three ways
out. Each is idempotent (asking again for what is done answers the run as it is) and
refuses with :class:`ReviewRefused` (HTTP 409, a ``reason`` word) what the run's state does
not allow. They run under the run's control lock, after its workflow has ended, so they
never race a pause/retry/reset of the same run or the workflow's own worktree cleanup.

- **merge**: a ``COMPLETED`` run, or one that ``FAILED`` only at its merge
  (``merge_conflict``, ``merge_verification_failed``: the work was done, the merge was
  refused), into ``target`` > the run's ``merge_target_branch`` > ``agent/<spec-slug>``,
  with ``strategy`` > the run's strategy (``squash`` when that is ``none``). The same merge
  as the engine's merge phase (temporary worktree, merged-tree verification, never a push);
  then the worktree is removed when ``worktree_cleanup`` is on. The run branch is kept.
- **scrap**: any terminal run: its worktree and its branch are deleted.
- **create_pr**: ``gh pr create`` for the run branch. agentloop never pushes, so the branch
  must already be on a remote (an upstream, or a ``refs/remotes/*/<branch>``); otherwise the
  answer says which ``git push`` to run. Without ``gh`` on PATH the answer says so.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

from agentloop.core.errors import (
    ConfigError,
    Conflict,
    GitError,
    InvalidInput,
    MergeConflictError,
    MergeVerificationError,
)
from agentloop.core.models import Run
from agentloop.core.names import spec_slug
from agentloop.core.types import CleanupStatus, EventType, MergeStrategy, RunStatus
from agentloop.engine import finish as finishing
from agentloop.engine.context import RunContext
from agentloop.engine.control import await_workflow_end, run_lock
from agentloop.engine.phases.merge import merge_into
from agentloop.engine.recorder import Recorder
from agentloop.engine.runtime import Runtime

_log = logging.getLogger("agentloop.engine")

MERGED = "merged"
SCRAPPED = "scrapped"
PR_CREATED = "pr_created"  # the reference's word (SPEC 20); "pr_opened" before
MERGEABLE_FAILURES = frozenset({"merge_conflict", "merge_verification_failed"})
GH_TIMEOUT_SEC = 120.0
_URL = re.compile(r"https://\S+")


class ReviewRefused(Conflict):
    """A review action the run's state does not allow; ``reason`` is one word for clients
    (``merge_conflict``, ``merge_verification_failed``, ``merge_failed``, ``not_terminal``,
    ``not_mergeable``, ``scrapped``, ``no_branch``, ``gh_missing``, ``not_pushed``,
    ``gh_failed``, ``scrap_failed``)."""

    def __init__(self, message: str, current_status: str, reason: str, **facts: Any) -> None:
        Conflict.__init__(self, message, current_status)
        self.facts.update(reason=reason, **facts)
        self.reason = reason
        for name, value in facts.items():
            setattr(self, name, value)


def _context(runtime: Runtime, run_id: str) -> RunContext:
    return RunContext.load(runtime, run_id, step_key=0)


def _refuse(run: Run, reason: str, message: str, **facts: Any) -> ReviewRefused:
    return ReviewRefused(message, run.status.value, reason, **facts)


# -- merge -------------------------------------------------------------------------------------
def merge(
    runtime: Runtime, run_id: str, target: str | None = None, strategy: str | None = None
) -> Run:
    how = _strategy(strategy)
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        run = ctx.run
        if run.merge_commit:
            return run
        _check_mergeable(run)
        await_workflow_end(run_id)
        ctx = _context(runtime, run_id)
        info = ctx.run.worktree
        into = target or info.merge_target_branch or f"agent/{spec_slug(run.spec_path)}"
        _check_target(ctx, into)
        chosen = how or info.merge_strategy
        if chosen is MergeStrategy.NONE:
            chosen = MergeStrategy.SQUASH
        try:
            result = merge_into(ctx, into, chosen)
        except MergeConflictError as exc:
            paths = exc.facts.get("paths", [])
            raise _refuse(run, "merge_conflict", exc.message, paths=paths) from exc
        except MergeVerificationError as exc:
            raise _refuse(run, "merge_verification_failed", exc.message) from exc
        except GitError as exc:
            raise _refuse(run, "merge_failed", exc.message) from exc
        Recorder(ctx).event(
            EventType.MERGE_COMPLETED,
            f"review:merge:{result.commit}",
            run={
                "merge_commit": result.commit,
                "review_status": MERGED,
                "merge_target_branch": into,
                "merge_strategy": chosen.value,
            },
            target=into,
            strategy=chosen.value,
            commit=result.commit,
            already_merged=result.already_merged,
            source="review",
        )
        _clean_up_after_merge(runtime, run_id)
        return runtime.store.get_run(run_id)


def _strategy(strategy: str | None) -> MergeStrategy | None:
    if strategy is None:
        return None
    allowed = (MergeStrategy.SQUASH.value, MergeStrategy.MERGE.value)
    if strategy not in allowed:
        raise InvalidInput(f"strategy {strategy!r}: expected one of {', '.join(allowed)}")
    return MergeStrategy(strategy)


def _check_mergeable(run: Run) -> None:
    if run.review_status == SCRAPPED:
        raise _refuse(run, "scrapped", "the run was scrapped: its branch is gone")
    if run.status is RunStatus.COMPLETED:
        return
    if run.status is RunStatus.FAILED and run.reason in MERGEABLE_FAILURES:
        return
    if not run.status.is_terminal:
        raise _refuse(run, "not_terminal", f"cannot merge a run that is {run.status.value}")
    why = f" ({run.reason})" if run.reason else ""
    raise _refuse(
        run,
        "not_mergeable",
        f"cannot merge a run that is {run.status.value}{why}: only completed runs (or runs "
        "that failed at their merge) are merged; retry it, or scrap it",
    )


def _check_target(ctx: RunContext, target: str) -> None:
    from agentloop.vcs.branches import validate_branch_name
    from agentloop.vcs.git import Git

    run_branch = ctx.run.worktree.run_branch
    if not run_branch:
        raise _refuse(ctx.run, "no_branch", "the run has no branch to merge")
    if target == run_branch:
        raise InvalidInput(f"merge target {target!r} is the run branch itself")
    if target.startswith("-"):
        raise InvalidInput(f"{target!r} is not a valid git branch name")
    try:
        validate_branch_name(Git(ctx.workspace), target)
    except GitError as exc:
        if "not a valid" in exc.message:
            raise InvalidInput(exc.message) from exc
        raise _refuse(ctx.run, "merge_failed", exc.message) from exc


def _clean_up_after_merge(runtime: Runtime, run_id: str) -> None:
    """The run no longer awaits review: remove its worktree as a finished run's would be."""
    try:
        ctx = _context(runtime, run_id)
        if ctx.run.worktree_cleanup_status is not CleanupStatus.CLEANED:
            finishing.clean_up(ctx)
    except Exception:
        _log.exception("run %s: worktree cleanup after merge failed", run_id)


# -- scrap -------------------------------------------------------------------------------------
def scrap(runtime: Runtime, run_id: str) -> Run:
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        run = ctx.run
        if run.review_status == SCRAPPED:
            return run
        if not run.status.is_terminal:
            raise _refuse(
                run,
                "not_terminal",
                f"cannot scrap a run that is {run.status.value}; cancel it first",
            )
        await_workflow_end(run_id)
        ctx = _context(runtime, run_id)
        try:
            _delete_worktree_and_branch(ctx)
        except GitError as exc:
            raise _refuse(run, "scrap_failed", exc.message) from exc
        info = ctx.run.worktree
        changes: dict[str, Any] = {"worktree_cleanup_status": CleanupStatus.CLEANED.value}
        if ctx.run.review_status != MERGED:  # a merged run's history says merged
            changes["review_status"] = SCRAPPED
        Recorder(ctx).event(
            EventType.WORKTREE_REMOVED,
            "review:scrap",
            run=changes,
            worktree_path=info.worktree_path,
            status=CleanupStatus.CLEANED.value,
            branch_deleted=info.run_branch,
            source="review",
        )
        return runtime.store.get_run(run_id)


def _delete_worktree_and_branch(ctx: RunContext) -> None:
    from agentloop.vcs.git import Git
    from agentloop.vcs.provider import select_provider
    from agentloop.vcs.worktree import GitWorktrees, Worktree, delete_branch_if_exists

    info = ctx.run.worktree
    if not ctx.workspace.is_dir():
        raise GitError(f"the workspace {ctx.workspace} is gone", args=["worktree", "remove"])
    if info.worktree_path and info.run_branch:
        try:
            provider = select_provider(info.provider or "git", ctx.config.worktrunk_bin)
        except ConfigError:  # made by worktrunk, whose `wt` is gone now: git removes it too
            provider = GitWorktrees()
        provider.remove(
            ctx.workspace,
            Worktree(
                path=Path(info.worktree_path),
                branch=info.run_branch,
                base_branch=info.base_branch or "",
                provider=provider.name,
            ),
            delete_branch=True,
        )
    elif info.run_branch:
        delete_branch_if_exists(Git(ctx.workspace), info.run_branch)


# -- pull request ------------------------------------------------------------------------------
def create_pr(
    runtime: Runtime,
    run_id: str,
    base: str | None = None,
    title: str | None = None,
    draft: bool = False,
    body: str | None = None,
) -> Run:
    with run_lock(run_id):
        ctx = _context(runtime, run_id)
        run = ctx.run
        if run.pr_url:
            return run
        if not run.status.is_terminal:
            raise _refuse(
                run, "not_terminal", f"cannot open a pull request for a {run.status.value} run"
            )
        if run.review_status == SCRAPPED:
            raise _refuse(run, "scrapped", "the run was scrapped: its branch is gone")
        try:
            url = _open_pr(ctx, base, title, draft, body)
        except GitError as exc:  # git or gh could not run at all (missing dir, timeout)
            raise _refuse(run, "gh_failed", exc.message) from exc
        Recorder(ctx).set_run(pr_url=url, review_status=PR_CREATED)
        return runtime.store.get_run(run_id)


def _open_pr(
    ctx: RunContext, base: str | None, title: str | None, draft: bool, body: str | None
) -> str:
    from agentloop.vcs.git import Git, run_process

    run = ctx.run
    branch = run.worktree.run_branch
    git = Git(ctx.workspace)
    if not branch or not git.branch_exists(branch):
        raise _refuse(run, "no_branch", "the run has no branch to open a pull request for")
    gh = shutil.which("gh")
    if gh is None:
        raise _refuse(
            run,
            "gh_missing",
            "gh is not installed: install the GitHub CLI (https://cli.github.com) or open "
            f"the pull request by hand for branch {branch}",
            branch=branch,
        )
    _require_pushed(ctx, git, branch)
    into = base or run.worktree.base_branch or git.default_branch()
    argv = [
        gh, "pr", "create", "--head", branch, "--base", into,
        "--title", title or f"agentloop: {run.name}", "--body", body or _pr_body(run),
    ]  # fmt: skip
    if draft:
        argv.append("--draft")
    done = run_process(argv, ctx.workspace, check=False, timeout=GH_TIMEOUT_SEC)
    if done.returncode == 0:
        url = _pr_url(done.stdout)
    else:  # gh names the existing pull request of the branch: that one is ours
        url = _pr_url(done.stderr) if "already exists" in done.stderr else None
    if url is None:
        said = (done.stderr or done.stdout).strip() or "no output"
        raise _refuse(run, "gh_failed", f"gh pr create failed (exit {done.returncode}): {said}")
    return url


def _require_pushed(ctx: RunContext, git: Any, branch: str) -> None:
    """agentloop never pushes: the branch must have an upstream or a remote-tracking copy."""
    upstream = git.run(
        "rev-parse", "--abbrev-ref", "--symbolic-full-name", f"{branch}@{{upstream}}", check=False
    )
    if upstream.returncode == 0 and upstream.stdout.strip():
        return
    remotes = git.run("remote", check=False).stdout.split()
    if any(git.try_rev_parse(f"refs/remotes/{remote}/{branch}") for remote in remotes):
        return
    raise _refuse(
        ctx.run,
        "not_pushed",
        f"branch {branch} is not on any remote, and agentloop never pushes: push it first "
        f"(git -C {ctx.workspace} push -u origin {branch}), then create the pull request again",
        branch=branch,
    )


def _pr_body(run: Run) -> str:
    return (
        f"Opened by agentloop from run {run.name} ({run.id}).\n\n"
        f"- Spec: `{Path(run.spec_path).name}`\n"
        f"- Tasks: {run.tasks_done}/{run.tasks_total}\n"
        f"- Iterations: {run.iteration}\n"
    )


def _pr_url(text: str) -> str | None:
    found = _URL.findall(text or "")
    return found[-1] if found else None
