"""``loopctl tail <run> [-f]`` (agent output under phase/iteration headers) and
``loopctl events <run> [-f]`` (one line per event).

Without ``-f`` they print what loopd has now; with ``-f`` they follow until the run ends,
reconnecting after a dropped connection or a daemon restart and resuming after the last
sequence number seen (``Last-Event-ID``), so no line is repeated or lost. Under ``--json``
each item is one envelope per line (JSON Lines) as it arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.refs import RUN

if TYPE_CHECKING:
    from agentloop.cli.sse import Kind


def _follow_option(func: Any) -> Any:
    return click.option("-f", "--follow", is_flag=True, help="Keep following until the run ends.")(
        func
    )


def _after_option(func: Any) -> Any:
    return click.option(
        "--after",
        type=click.IntRange(min=0),
        default=0,
        metavar="SEQ",
        help="Start after this sequence number.",
    )(func)


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
@_follow_option
@_after_option
def tail(ref: str, follow: bool, after: int) -> None:
    """Print RUN's agent output, with a header per phase and iteration."""
    stream_run(ref, "output", follow, after)


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
@_follow_option
@_after_option
def events(ref: str, follow: bool, after: int) -> None:
    """Print RUN's events, one per line: sequence, time, type, payload."""
    stream_run(ref, "events", follow, after)


def stream_run(ref: str, kind: Kind, follow: bool, after: int) -> None:
    from agentloop.cli.refs import connect, resolve_run
    from agentloop.cli.render import Screen, emit_item, emit_note
    from agentloop.cli.sse import StreamReader

    client = connect()
    run = resolve_run(client, ref)
    as_json = client_options().json_output
    reader = StreamReader(
        client,
        run["id"],
        kind,
        after=after,
        follow=follow,
        on_reconnect=lambda why: emit_note(f"{why}; reconnecting to loopd at {client.addr}…"),
    )
    show = _json_printer(emit_item) if as_json else _text_printer(kind, Screen.detect())
    try:
        for item in reader:
            show(item)
    except KeyboardInterrupt:
        emit_note(f"\nstopped following {run.get('name')} ({run['id']}) at seq {reader.last_seq}")
        raise


def _json_printer(emit_item: Any) -> Any:
    def show(item: dict[str, Any]) -> None:
        emit_item(item)

    return show


def _text_printer(kind: Kind, screen: Any) -> Any:
    import sys

    from agentloop.cli.stream_views import EVENT_STYLE, OutputLayout, event_line

    if kind == "events":

        def show_event(item: dict[str, Any]) -> None:
            color = EVENT_STYLE.get(str(item.get("event_type")))
            line = event_line(item)
            screen.echo(screen.style(line, fg=color) if color else line)
            sys.stdout.flush()

        return show_event

    layout = OutputLayout()

    def show_line(item: dict[str, Any]) -> None:
        for text, header in layout.lines(item):
            screen.echo(screen.style(text, bold=True, fg="cyan") if header else text)
        sys.stdout.flush()

    return show_line
