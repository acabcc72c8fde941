"""The prompts a run's agent receives: the snapshot written at prepare, the watchdog's
rewrites, and the reminders the engine adds for one iteration."""

from __future__ import annotations

from pathlib import Path

from agentloop.core.experiment import EXPERIMENT_LOG
from agentloop.core.prompts import (
    PromptInputs,
    build_experiment_prompt,
    build_implementation_prompt,
    build_review_prompt,
    load_custom_instructions,
)
from agentloop.core.types import MetricGoal, RunMode
from agentloop.engine.context import RunContext
from agentloop.engine.files import RunFiles
from agentloop.engine.run_env import in_worktree

PROMPT_SNAPSHOT = "prompt.txt"


def prompt_inputs(ctx: RunContext, worktree: Path | None) -> PromptInputs:
    """The prompt's file references, remapped into the worktree so edits land on the branch."""
    return PromptInputs.for_run(
        workspace=ctx.workspace,
        spec_path=Path(ctx.run.spec_path),
        plan_path=Path(ctx.run.plan_path),
        runner_notes=RunFiles(ctx).path("runner-notes.txt"),
        context_files=[Path(p) for p in ctx.config.context_files],
        worktree=worktree,
        completion_mode=ctx.config.completion_mode,
        custom_instructions=load_custom_instructions(ctx.workspace, ctx.config.prompt_file),
    )


def write_initial_prompt(ctx: RunContext, worktree: Path) -> Path:
    return RunFiles(ctx).write(PROMPT_SNAPSHOT, _first_prompt(ctx, worktree))


def _first_prompt(ctx: RunContext, worktree: Path | None) -> str:
    inputs = prompt_inputs(ctx, worktree)
    config = ctx.config
    if config.mode is RunMode.EXPERIMENT:
        return build_experiment_prompt(
            inputs,
            metric=config.metric or "",
            maximize=config.metric_goal is MetricGoal.MAX,
            target=config.metric_target,
            log_path=(worktree or ctx.workspace) / EXPERIMENT_LOG,
        )
    return build_implementation_prompt(inputs)


def implementation_prompt(ctx: RunContext) -> str:
    files = RunFiles(ctx)
    name = ctx.state.prompt_path or PROMPT_SNAPSHOT
    text = files.read(name) if files.exists(name) else _first_prompt(ctx, ctx.worktree)
    if ctx.state.pending_notes:
        text = text.rstrip("\n") + "\n\n" + "\n".join(ctx.state.pending_notes) + "\n"
    return text


def review_prompt(ctx: RunContext) -> str:
    return build_review_prompt(prompt_inputs(ctx, ctx.worktree))


def worktree_plan_path(ctx: RunContext) -> Path:
    """The plan as the agent edits it: inside the worktree."""
    return in_worktree(ctx, ctx.run.plan_path)
