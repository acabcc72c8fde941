"""``loopctl prompt``: print the exact prompt a run of a spec would get, without a daemon.

The paths are the workspace's: a run's prompt names the same files inside its worktree,
and its runner notes inside its run dir, which do not exist before the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.render import emit, emit_warning
from agentloop.cli.workspace import find_workspace


@dataclass(frozen=True)
class PromptResult:
    prompt: str
    phase: str
    workspace: Path
    spec_path: Path
    plan_path: Path

    def to_text(self) -> str:
        return self.prompt

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "phase": self.phase,
            "workspace": str(self.workspace),
            "spec_path": str(self.spec_path),
            "plan_path": str(self.plan_path),
        }


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.argument("plan", required=False, type=click.Path(path_type=Path))
@click.option("--review", is_flag=True, help="Print the review prompt instead.")
@click.option(
    "--config",
    "config_file",
    envvar="LOOP_CONFIG",
    type=click.Path(path_type=Path),
    show_envvar=True,
    help="Config file over .loop/config.",
)
def prompt(spec: Path, plan: Path | None, review: bool, config_file: Path | None) -> None:
    """Print the prompt a run of SPEC would get.

    PLAN defaults to <plans_dir>/<spec-stem>-plan.md. Paths are shown in the workspace; a
    run's prompt names the same files inside its worktree.
    """
    emit(
        build_prompt(Path.cwd(), spec, plan, review, config_file),
        as_json=client_options().json_output,
    )


def build_prompt(
    cwd: Path, spec: Path, plan: Path | None, review: bool, config_file: Path | None
) -> PromptResult:
    from agentloop.core.config import load_config
    from agentloop.core.plan import read_plan
    from agentloop.core.prompts import (
        PromptInputs,
        build_implementation_prompt,
        build_review_prompt,
        load_custom_instructions,
    )
    from agentloop.core.workspace import resolve_run_inputs

    workspace = find_workspace(cwd)
    # --config (or $LOOP_CONFIG, read by click) is relative to the caller's directory.
    config_path = cwd / config_file if config_file else None
    loaded = load_config(workspace, config_file=config_path, environ={})
    for warning in loaded.warnings:
        emit_warning(warning)
    config = loaded.config
    files = resolve_run_inputs(
        workspace, cwd / spec, cwd / plan if plan else None, config.plans_dir
    )
    inputs = PromptInputs.for_run(
        workspace=files.workspace,
        spec_path=files.spec_path,
        plan_path=files.plan_path,
        runner_notes=files.workspace / config.log_dir / "run-<run-id>" / "runner-notes.txt",
        context_files=config.context_files,
        completion_mode=config.completion_mode,
        custom_instructions=load_custom_instructions(files.workspace, config.prompt_file),
    )
    if review:
        task = read_plan(files.plan_path).first_awaiting_review()
        if task is None:
            emit_warning("no task of the plan awaits review ([x]); a run would not review now")
        text = build_review_prompt(inputs, task)
    else:
        text = build_implementation_prompt(inputs)
    return PromptResult(
        prompt=text,
        phase="review" if review else "implementation",
        workspace=files.workspace,
        spec_path=files.spec_path,
        plan_path=files.plan_path,
    )
