"""How command results and errors reach the terminal: plain text, rich text, or a versioned
JSON envelope with ``--json``.

The envelope, on stdout so a script reads one stream::

    {"version": 1, "ok": true,  "data": {...}}      the command's result
    {"version": 1, "ok": false, "error": "..."}     what went wrong (exit code != 0)

The streaming commands (``tail`` and ``events``, with or without ``-f``) print one compact
envelope per item instead (JSON Lines), ``data`` being the item, so a follower can act on
each line as it comes.

Commands build results (frozen objects with ``to_text()``, ``to_json()`` and, for a table
on a terminal, ``to_rich()``); only this module prints them. Whether the output is a
terminal, and whether it may be coloured (not under ``NO_COLOR``), is decided once, by
:class:`Screen`. rich is imported only when a terminal gets a table.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import click

if TYPE_CHECKING:
    from rich.console import Console

ENVELOPE_VERSION = 1


class CommandResult(Protocol):
    def to_text(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Screen:
    """Where human-readable output goes: ``rich`` when it is a terminal (tables, live
    progress), ``color`` unless ``NO_COLOR`` is set (or ``TERM=dumb``)."""

    file: TextIO
    rich: bool
    color: bool
    width: int | None = None

    @classmethod
    def detect(cls, file: TextIO | None = None) -> Screen:
        stream: TextIO = sys.stdout if file is None else file
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        plain_env = "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
        return cls(file=stream, rich=tty, color=tty and not plain_env)

    def console(self) -> Console:
        from rich.console import Console

        return Console(
            file=self.file,
            width=self.width,
            no_color=not self.color,
            color_system="auto" if self.color else None,
            force_terminal=self.rich,
            highlight=False,
            soft_wrap=False,
        )

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text

    def echo(self, text: str = "") -> None:
        click.echo(text, file=self.file, color=self.color)


def envelope(data: Any) -> dict[str, Any]:
    return {"version": ENVELOPE_VERSION, "ok": True, "data": data}


def emit(result: CommandResult, *, as_json: bool, screen: Screen | None = None) -> None:
    if as_json:
        click.echo(json.dumps(envelope(result.to_json()), indent=2, sort_keys=True))
        return
    screen = screen or Screen.detect()
    to_rich: Callable[[], Any] | None = getattr(result, "to_rich", None)
    if screen.rich and to_rich is not None:
        screen.console().print(to_rich())
    else:
        screen.echo(result.to_text())


def emit_item(data: Any) -> None:
    """One item of a stream under ``--json``: a compact envelope on one line, flushed."""
    click.echo(json.dumps(envelope(data), sort_keys=True, separators=(",", ":")))
    sys.stdout.flush()


def emit_error(message: str, *, as_json: bool) -> None:
    if as_json:
        envelope = {"version": ENVELOPE_VERSION, "ok": False, "error": message}
        click.echo(json.dumps(envelope, indent=2, sort_keys=True))
    else:
        click.echo(f"error: {message}", err=True)


def emit_warning(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def emit_note(message: str) -> None:
    """A remark for the person at the terminal (never part of the result): stderr."""
    click.echo(message, err=True)


def render_text(renderable: Any, width: int = 100) -> str:
    """What ``renderable`` looks like at ``width`` columns, without colour (for tests)."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(renderable)
    return buffer.getvalue()
