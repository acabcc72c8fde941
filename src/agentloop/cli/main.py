"""loopctl: the command-line client of loopd (SPEC 15).

Commands live in their own modules under ``agentloop.cli.commands`` and are imported only
when run (or when ``--help`` lists them), so that starting loopctl stays fast: nothing heavy
(pydantic, httpx, rich) is imported at module level here or in a command module. To add a
command, add its module and one line to :data:`COMMANDS`.

Errors: every :class:`~agentloop.core.errors.AgentloopError` (and OSError) a command lets
through is printed once, here, and exits with its code (:mod:`agentloop.cli.errors`: 1, or 3
when loopd is unreachable or refuses the token); click's usage errors exit 2; Ctrl-C 130.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
from typing import Any

import click

from agentloop import __version__
from agentloop.cli.context import DEFAULT_ADDR, EXIT_INTERRUPTED, ClientOptions
from agentloop.cli.errors import exit_code_for
from agentloop.cli.render import emit_error
from agentloop.core.errors import AgentloopError

COMMANDS: dict[str, str] = {
    "analyze": "agentloop.cli.commands.review:analyze",
    "cancel": "agentloop.cli.commands.control:cancel",
    "completion": "agentloop.cli.commands.completion:completion",
    "create-pr": "agentloop.cli.commands.review:create_pr",
    "diff": "agentloop.cli.commands.diff:diff",
    "doctor": "agentloop.cli.commands.doctor:doctor",
    "events": "agentloop.cli.commands.stream:events",
    "init": "agentloop.cli.commands.init:init",
    "inspect": "agentloop.cli.commands.inspect:inspect",
    "list": "agentloop.cli.commands.list:list_runs",
    "merge": "agentloop.cli.commands.review:merge",
    "pause": "agentloop.cli.commands.control:pause",
    "postmortem": "agentloop.cli.commands.review:postmortem",
    "prompt": "agentloop.cli.commands.prompt:prompt",
    "reset": "agentloop.cli.commands.control:reset",
    "resume": "agentloop.cli.commands.control:resume",
    "retry": "agentloop.cli.commands.control:retry",
    "run": "agentloop.cli.commands.run:run",
    "say": "agentloop.cli.commands.say:say",
    "scrap": "agentloop.cli.commands.review:scrap",
    "tail": "agentloop.cli.commands.stream:tail",
    "worktree-rm": "agentloop.cli.commands.worktrees:worktree_rm",
    "worktrees": "agentloop.cli.commands.worktrees:worktrees",
}
"""Command name -> ``module:attribute`` of its click command."""
EXIT_BROKEN_PIPE = 141
"""As if killed by SIGPIPE, like other Unix tools whose reader went away."""


class LoopctlGroup(click.Group):
    """A group whose commands are imported on first use, and which turns our errors into
    a message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command), target
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()  # `loopctl list | head`: the reader left, nothing to say
            ctx.exit(EXIT_BROKEN_PIPE)
        except (AgentloopError, OSError) as exc:
            options = ctx.find_object(ClientOptions)
            emit_error(_message(exc), as_json=bool(options and options.json_output))
            ctx.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            click.echo("", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


@click.group(cls=LoopctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--addr",
    envvar="LOOPD_ADDR",
    default=DEFAULT_ADDR,
    show_default=True,
    show_envvar=True,
    help="Address of loopd.",
)
@click.option("--token", envvar="LOOPD_TOKEN", show_envvar=True, help="API token of loopd.")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON output.")
@click.version_option(__version__, prog_name="loopctl")
@click.pass_context
def main(ctx: click.Context, addr: str, token: str | None, json_output: bool) -> None:
    """Run AI coding agents in supervised loops: the client of loopd."""
    ctx.obj = ClientOptions(addr=addr, token=token or None, json_output=json_output)
