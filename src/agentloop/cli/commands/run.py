"""``loopctl run <spec> [plan]``: start a run of a spec in the current workspace.

Paths are taken against the current directory; the workspace is its git toplevel. The plan
defaults to ``<plans_dir>/<spec-stem>-plan.md`` (SPEC 1), ``plans_dir`` coming from the same
configuration the run will get, so a missing plan is reported before loopd is asked.

Configuration: the ``--config`` file (or ``$LOOP_CONFIG``) is read here, with the project's
parser, and its keys sent as ``config_override`` entries with the flags over them. Reading
it client-side rather than sending ``config_path`` works for a file anywhere (loopd reads
nothing outside the workspace on a client's behalf, SPEC 17) and validates the whole
configuration (``.loop/config`` + file + flags) before the request, with ``file:line`` in
any error. loopd still reads ``.loop/config`` itself, under the overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agentloop.cli.context import client_options

FLAG_KEYS = {
    "base_branch": "base_branch",
    "run_branch_prefix": "run_branch_prefix",
    "merge_strategy": "merge_strategy",
    "worktree_path_template": "worktree_path_template",
    "worktree_provider": "worktree_provider",
    "agent": "agent",
    "model": "model",
    "iterations": "iterations",
    "max_concurrency": "max_concurrency",
    "max_runs_per_workspace": "max_runs_per_workspace",
    "queue_policy": "queue_policy",
    "mode": "mode",
    "measure_cmd": "measure_cmd",
    "metric": "metric",
    "metric_goal": "metric_goal",
    "metric_target": "metric_target",
}
"""Flag parameter -> config key it sets (``--merge-target`` is handled apart)."""
AGENTS = ("claude", "codex", "gemini", "opencode", "command", "scripted")


@dataclass(frozen=True)
class RunRequest:
    """What ``POST /runs`` gets, and what was decided on the way."""

    body: dict[str, Any]
    workspace: Path
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunResult:
    run: dict[str, Any]
    followed: bool = False
    exit_code: int = 0

    def to_text(self) -> str:
        run = self.run
        head = f"run {run.get('name')} ({run['id']})"
        if not self.followed:
            return (
                f"started {head}: {run.get('status')}\n"
                f"  follow it: loopctl tail -f {run['id']}\n"
                f"  progress:  loopctl inspect {run['id']}"
            )
        reason = f": {run['reason']}" if run.get("reason") else ""
        return f"{head} {run.get('status')}{reason}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run": self.run}
        if self.followed:
            data.update(outcome=self.run.get("status"), exit_code=self.exit_code)
        return data


def outcome_exit_code(status: str | None) -> int:
    return 0 if status == "COMPLETED" else 1


@click.command()
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@click.argument("plan", required=False, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_file",
    envvar="LOOP_CONFIG",
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file over .loop/config (its keys are sent as overrides, under the flags).",
)
@click.option("--name", help="Label of the run (default: asked of the agent, else the spec slug).")
@click.option("--name-source", type=click.Choice(["haiku", "spec_slug", "user"]))
@click.option("--base-branch", help="Branch the run starts from.")
@click.option("--run-branch-prefix", help="Prefix of the run branch (default run/).")
@click.option(
    "--merge-target",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[BRANCH]",
    help="Merge into BRANCH when done; alone: agent/<spec-slug>. Write --merge-target=BRANCH.",
)
@click.option("--merge-strategy", type=click.Choice(["squash", "merge", "none"]))
@click.option("--worktree-path-template", help="Where the worktree goes, e.g. ../{{ repo }}.x")
@click.option("--worktree-provider", type=click.Choice(["auto", "git", "worktrunk"]))
@click.option("--agent", type=click.Choice(AGENTS))
@click.option("--model")
@click.option("--iterations", type=click.IntRange(min=1))
@click.option("--max-concurrency", type=click.IntRange(min=1), help="Sets loopd's cap.")
@click.option("--max-runs-per-workspace", type=click.IntRange(min=1), help="Sets loopd's cap.")
@click.option("--queue-policy", type=click.Choice(["fifo", "newest_first"]))
@click.option("--mode", type=click.Choice(["plan", "experiment"]), help="experiment: SPEC 19.")
@click.option("--measure-cmd", help="Experiment: writes the metrics JSON to $LOOP_METRICS_OUT.")
@click.option("--metric", help="Experiment: the key of the metrics JSON to improve.")
@click.option("--metric-goal", type=click.Choice(["max", "min"]))
@click.option("--metric-target", type=float, help="Experiment: stop once reached.")
@click.option("--pick", is_flag=True, help="Choose the spec from a numbered list.")
@click.option("--follow", is_flag=True, help="Show progress; exit 0 completed, 1 failed.")
@click.pass_context
def run(
    ctx: click.Context,
    /,
    spec: Path | None,
    plan: Path | None,
    config_file: Path | None,
    name: str | None,
    name_source: str | None,
    merge_target: str | None,
    pick: bool,
    follow: bool,
    **flags: Any,
) -> None:
    """Start a run of SPEC (relative to the current directory) in this workspace.

    PLAN defaults to <plans_dir>/<spec-stem>-plan.md. With --follow, show live progress
    and exit with the run's outcome: 0 completed, 1 failed or canceled, 130 on Ctrl-C
    (the run goes on).
    """
    from agentloop.cli.refs import connect
    from agentloop.cli.render import emit, emit_warning

    if pick and spec is not None:
        raise click.UsageError("give SPEC or --pick, not both")
    if not pick and spec is None:
        raise click.UsageError("missing SPEC (or use --pick to choose one)")
    request = build_request(
        Path.cwd(), spec, plan, config_file, name, name_source, merge_target, pick, flags
    )
    for warning in request.warnings:
        emit_warning(warning)
    client = connect()
    created = client.create_run(request.body)
    as_json = client_options().json_output
    if not follow:
        emit(RunResult(created), as_json=as_json)
        return
    final = follow_created(client, created, as_json)
    code = outcome_exit_code(final.get("status"))
    emit(RunResult(final, followed=True, exit_code=code), as_json=as_json)
    ctx.exit(code)


def build_request(
    cwd: Path,
    spec: Path | None,
    plan: Path | None,
    config_file: Path | None,
    name: str | None,
    name_source: str | None,
    merge_target: str | None,
    pick: bool,
    flags: dict[str, Any],
) -> RunRequest:
    from agentloop.cli.workspace import find_workspace
    from agentloop.core.config import ALIASES, KEYS, load_config, read_config_file
    from agentloop.core.names import spec_slug
    from agentloop.core.workspace import resolve_run_inputs

    workspace = find_workspace(cwd).resolve()
    overrides: dict[str, Any] = {}
    if config_file is not None:
        layer = read_config_file(cwd / config_file)
        overrides.update({k: v for k, v in layer.values.items() if k in KEYS or k in ALIASES})
    overrides.update({FLAG_KEYS[k]: v for k, v in flags.items() if v is not None})
    config_path = (cwd / config_file) if config_file else None
    if pick:
        config = load_config(
            workspace, config_file=config_path, overrides=overrides, environ={}
        ).config
        spec = choose_spec(workspace, config.specs_dir, config.plans_dir)
    assert spec is not None
    if merge_target is not None:
        overrides["merge_target_branch"] = merge_target or f"agent/{spec_slug(spec)}"
    loaded = load_config(workspace, config_file=config_path, overrides=overrides, environ={})
    files = resolve_run_inputs(
        workspace,
        cwd / spec,
        cwd / plan if plan else None,
        loaded.config.plans_dir,
        plan_required=loaded.config.mode.value != "experiment",
    )
    body: dict[str, Any] = {
        "spec_path": str(files.spec_path),
        "plan_path": str(files.plan_path),
        "workspace_root": str(files.workspace),
    }
    if overrides:
        body["config_override"] = overrides
    if name is not None:
        body["name"] = name
    if name_source is not None:
        body["name_source"] = name_source
    return RunRequest(body=body, workspace=workspace, warnings=tuple(loaded.warnings))


def choose_spec(workspace: Path, specs_dir: str, plans_dir: str) -> Path:
    """Ask the user to pick one of the workspace's specs by number (on stderr/stdin)."""
    from agentloop.cli.specs import find_specs, pick_listing
    from agentloop.core.errors import InvalidInput

    entries = find_specs(workspace, specs_dir, plans_dir)
    if not entries:
        raise InvalidInput(f"no specs (*.md) in {workspace / specs_dir}")
    click.echo(pick_listing(entries, workspace), err=True)
    number = click.prompt(
        "run which spec", type=click.IntRange(1, len(entries)), err=True, default=1
    )
    return entries[number - 1].path


def follow_created(client: Any, run: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """Follow the new run to its end; Ctrl-C leaves it running and says how to come back."""
    from datetime import UTC, datetime

    from agentloop.cli.errors import Interrupted
    from agentloop.cli.progress import follow_run
    from agentloop.cli.render import Screen, emit_note
    from agentloop.cli.sse import StreamReader

    try:
        if as_json:
            for _event in StreamReader(client, run["id"], "events", follow=True):
                pass
            final: dict[str, Any] = client.get_run(run["id"])
            return final
        screen = Screen.detect()
        emit_note(
            f"started run {run.get('name')} ({run['id']}); Ctrl-C stops watching, not the run"
        )
        return follow_run(client, run, screen, now=lambda: datetime.now(UTC))
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped watching; run {run.get('name')} ({run['id']}) goes on in loopd.\n"
            f"reattach with: loopctl tail -f {run['id']}   (or: loopctl events -f {run['id']})",
            run_id=run["id"],
        ) from None
