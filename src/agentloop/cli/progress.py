"""Live progress of one run (``run --follow``): status, phase, iteration, tasks, elapsed time,
tokens and cost, until the run ends.

The run's events drive it (:class:`~agentloop.cli.sse.StreamReader`, so it survives a
daemon restart); after each step event the run itself is read again for its totals. On a
terminal the figures stay in a live panel under the scrolling event lines; piped, each event
is one plain line and a summary line closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentloop.cli.client import Loopd
from agentloop.cli.render import Screen, emit_note
from agentloop.cli.sse import TERMINAL_EVENTS, StreamReader
from agentloop.cli.stream_views import EVENT_STYLE, event_line
from agentloop.cli.views import (
    STATUS_STYLE,
    elapsed_s,
    fmt_cost,
    fmt_duration,
    fmt_iteration,
    fmt_tasks,
    fmt_tokens,
)

_REFRESH_ON = frozenset(
    {"RUN_STARTED", "STEP_STARTED", "STEP_FINISHED", "RUN_PAUSED", "RUN_RESUMED", *TERMINAL_EVENTS}
)


def progress_fields(run: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
    return [
        ("status", str(run.get("status", ""))),
        ("phase", str(run.get("phase") or "-")),
        ("iteration", fmt_iteration(run)),
        ("tasks", fmt_tasks(run)),
        ("elapsed", fmt_duration(elapsed_s(run, now))),
        ("tokens", fmt_tokens(run)),
        ("cost", fmt_cost(run.get("cost_usd"))),
    ]


def progress_line(run: dict[str, Any], now: datetime) -> str:
    name = run.get("name") or run.get("id")
    return f"{name}: " + "  ".join(f"{label} {value}" for label, value in progress_fields(run, now))


@dataclass
class RunProgress:
    """The run as last read, plus what the events said since."""

    run: dict[str, Any]

    def apply(self, event: dict[str, Any]) -> None:
        payload = event.get("payload") or {}
        kind = event.get("event_type")
        if kind == "STEP_STARTED":
            self.run = {
                **self.run,
                "phase": payload.get("phase", self.run.get("phase")),
                "iteration": payload.get("iteration", self.run.get("iteration")),
            }
        elif kind in TERMINAL_EVENTS:
            status = str(kind).removeprefix("RUN_")
            self.run = {**self.run, "status": status, "reason": payload.get("reason")}


class ProgressPanel:
    """A rich renderable of the progress, drawn anew at each refresh (elapsed time moves)."""

    def __init__(self, progress: RunProgress, now: Callable[[], datetime]) -> None:
        self.progress = progress
        self.now = now

    def __rich__(self) -> Any:
        from rich.markup import escape
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        run = self.progress.run
        grid = Table.grid(padding=(0, 2))
        fields = progress_fields(run, self.now())
        for _ in fields:
            grid.add_column(no_wrap=True)
        status_style = STATUS_STYLE.get(fields[0][1], "")
        grid.add_row(*(f"[dim]{label}[/]" for label, _ in fields))
        grid.add_row(
            *(
                f"[{status_style}]{escape(value)}[/]" if i == 0 and status_style else escape(value)
                for i, (_, value) in enumerate(fields)
            )
        )
        total = int(run.get("tasks_total") or 0)
        bar = ProgressBar(total=max(total, 1), completed=int(run.get("tasks_done") or 0), width=40)
        outer = Table.grid()
        outer.add_row(f"[bold]{escape(str(run.get('name') or run.get('id')))}[/]")
        outer.add_row(grid)
        if total:
            outer.add_row(bar)
        return outer


def follow_run(
    client: Loopd, run: dict[str, Any], screen: Screen, now: Callable[[], datetime]
) -> dict[str, Any]:
    """Show the run's progress until it ends; the run as it ended."""
    progress = RunProgress(run)
    reader = StreamReader(
        client,
        run["id"],
        "events",
        follow=True,
        on_reconnect=lambda why: emit_note(f"{why}; reconnecting to loopd at {client.addr}…"),
    )

    def take(event: dict[str, Any]) -> None:
        progress.apply(event)
        if event.get("event_type") in _REFRESH_ON:
            progress.run = client.get_run(run["id"])

    if screen.rich:
        from rich.live import Live
        from rich.markup import escape

        console = screen.console()
        with Live(
            ProgressPanel(progress, now), console=console, refresh_per_second=4, transient=False
        ) as live:
            for event in reader:
                style = EVENT_STYLE.get(str(event.get("event_type")), "dim")
                live.console.print(f"[{style}]{escape(event_line(event))}[/]")
                take(event)
    else:
        for event in reader:
            screen.echo(event_line(event))
            take(event)
        screen.echo(progress_line(progress.run, now()))
    return client.get_run(run["id"])
