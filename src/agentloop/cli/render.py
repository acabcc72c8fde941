"""How command results and errors reach the terminal: plain text, or a versioned JSON
envelope with ``--json`` (``{"version", "ok", "data"}`` or ``{"version", "ok", "error"}``,
on stdout, so a script reads one stream). Commands build results; only this module prints.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import click

ENVELOPE_VERSION = 1


class CommandResult(Protocol):
    def to_text(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


def emit(result: CommandResult, *, as_json: bool) -> None:
    if as_json:
        envelope = {"version": ENVELOPE_VERSION, "ok": True, "data": result.to_json()}
        click.echo(json.dumps(envelope, indent=2, sort_keys=True))
    else:
        click.echo(result.to_text())


def emit_error(message: str, *, as_json: bool) -> None:
    if as_json:
        envelope = {"version": ENVELOPE_VERSION, "ok": False, "error": message}
        click.echo(json.dumps(envelope, indent=2, sort_keys=True))
    else:
        click.echo(f"error: {message}", err=True)


def emit_warning(message: str) -> None:
    click.echo(f"warning: {message}", err=True)
