"""What every loopctl command gets from the group: the global options, and the exit codes."""

from __future__ import annotations

from dataclasses import dataclass

import click

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130
DEFAULT_ADDR = "http://127.0.0.1:7700"


@dataclass(frozen=True)
class ClientOptions:
    """The global options, given before the command: ``loopctl --json list``."""

    addr: str = DEFAULT_ADDR
    token: str | None = None
    json_output: bool = False


def client_options() -> ClientOptions:
    """The global options of the running command."""
    options = click.get_current_context().find_object(ClientOptions)
    return options if options is not None else ClientOptions()
