"""Prepare (SPEC 2.3): refuse a dirty primary tree, choose the run branch, create the
worktree, write the prompt snapshot and an empty runner-notes.txt.

Safe to run twice: the chosen branch and path are recorded BEFORE the worktree is created,
so a replay after a crash reuses them instead of creating a second branch.
"""

from __future__ import annotations

from pathlib import Path

from agentloop.core.errors import Conflict
from agentloop.core.templates import branch_slug, render_worktree_path, spec_slug
from agentloop.core.types import EventType, RunMode
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.outcome import StepOutcome
from agentloop.engine.prompting import write_initial_prompt
from agentloop.engine.recorder import ACTIVE_STATUSES, Recorder
from agentloop.engine.repo_lock import prepare_lock
from agentloop.vcs.branches import unique_branch
from agentloop.vcs.git import Git
from agentloop.vcs.head import head_sha
from agentloop.vcs.provider import select_provider
from agentloop.vcs.worktree import Worktree, WorktreeProvider, refuse_dirty


def prepare(ctx: RunContext) -> StepOutcome:
    with prepare_lock(ctx.workspace):  # runs of one workspace must not pick the same branch
        return _prepare(ctx)


def _prepare(ctx: RunContext) -> StepOutcome:
    config = ctx.config
    workspace = ctx.workspace
    recorder = Recorder(ctx)
    info = ctx.run.worktree
    git = Git(workspace)
    if not info.run_branch:
        refuse_dirty(workspace)
    provider_name = config.worktree_provider.value
    provider = select_provider(
        provider_name,
        config.worktrunk_bin,
        config.worktrunk_config_path,
        config.worktrunk_copy_ignored,
    )
    provider_label = provider.name.value
    branch = info.run_branch
    path_text = info.worktree_path
    base = info.base_branch or config.base_branch or git.default_branch()
    if not branch or not path_text:
        branch = unique_branch(git, config.run_branch_prefix, branch_slug(ctx.run.name))
        template = config.worktree_path_template or "../{{ repo }}.{{ run_branch | sanitize }}"
        rendered = render_worktree_path(
            template,
            repo=workspace.name,
            run_branch=branch,
            spec_slug=spec_slug(ctx.run.spec_path),
            run_id=ctx.run_id,
            name=ctx.run.name,
        )
        path = Path(rendered)
        if not path.is_absolute():
            path = (workspace / path).resolve()
        path_text = str(path)
        recorder.event(
            EventType.WORKTREE_PROVIDER_SELECTED,
            "provider_selected",
            run={
                "base_branch": base,
                "run_branch": branch,
                "worktree_path": path_text,
                "worktree_provider": provider_label,
            },
            provider=provider_label,
            expect=ACTIVE_STATUSES,
        )
    worktree = provider.create(workspace, Path(path_text), branch, base)
    ctx.state.start_head = head_sha(worktree.path)
    files = RunFiles(ctx)
    if not files.exists("runner-notes.txt"):
        files.write("runner-notes.txt", "")
    write_initial_prompt(ctx, Path(path_text))
    try:
        recorder.event(
            EventType.WORKTREE_CREATED,
            "worktree_created",
            run={"worktree_path": str(worktree.path)},
            state=True,
            provider=provider_label,
            worktree_path=str(worktree.path),
            run_branch=branch,
            expect=ACTIVE_STATUSES,  # canceled meanwhile: the cancel's cleanup removes it
        )
    except Conflict:
        _remove_unless_recorded(ctx, provider, worktree)
        raise
    return StepOutcome.done(experiment=config.mode is RunMode.EXPERIMENT)


def _remove_unless_recorded(
    ctx: RunContext, provider: WorktreeProvider, worktree: Worktree
) -> None:
    """This prepare's attempt was superseded (a reset) after it created the worktree: the
    run no longer records it, so nobody else would remove it. Its branch stays, as a
    reset leaves the old one."""
    if ctx.store.get_run(ctx.run_id).worktree.worktree_path != str(worktree.path):
        provider.remove(ctx.workspace, worktree)
