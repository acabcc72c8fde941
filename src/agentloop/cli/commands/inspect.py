"""``loopctl inspect <run>``: everything about one run: its fields, steps and artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.refs import RUN
from agentloop.cli.render import emit


@dataclass(frozen=True)
class InspectResult:
    run: dict[str, Any]
    steps: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]
    measurements: dict[str, Any] | None = None
    attention: list[dict[str, Any]] | None = None  # the signals of a needs_attention pause
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def extra_text(self) -> list[str]:
        from agentloop.cli.sheet import attention_text, experiment_text

        parts = []
        if self.attention is not None:
            parts.append(attention_text(self.run, self.attention))
        if self.measurements is not None:
            parts.append(experiment_text(self.measurements))
        return parts

    def to_text(self) -> str:
        from agentloop.cli.sheet import inspect_text

        text = inspect_text(self.run, self.steps, self.artifacts, self.now)
        return "\n\n".join([text, *self.extra_text()])

    def to_rich(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        from agentloop.cli.sheet import inspect_rich

        shown = inspect_rich(self.run, self.steps, self.artifacts, self.now)
        extra = self.extra_text()
        return (
            Group(shown, *(part for text in extra for part in ("", Text(text)))) if extra else shown
        )

    def to_json(self) -> dict[str, Any]:
        data = {"run": self.run, "steps": self.steps, "artifacts": self.artifacts}
        if self.measurements is not None:
            data["measurements"] = self.measurements
        if self.attention is not None:
            data["attention"] = self.attention
        return data


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
def inspect(ref: str) -> None:
    """Show RUN (id, id prefix or name): status, branches, totals, steps and artifacts."""
    from agentloop.cli.refs import connect, resolve_run

    client = connect()
    run = resolve_run(client, ref)
    experiment = (run.get("config") or {}).get("mode") == "experiment"
    needs_attention = run.get("status") == "PAUSED" and run.get("reason") == "needs_attention"
    result = InspectResult(
        run,
        client.steps(run["id"]),
        client.artifacts(run["id"]),
        client.measurements(run["id"]) if experiment else None,
        attention_signals(client, run["id"]) if needs_attention else None,
    )
    emit(result, as_json=client_options().json_output)


def attention_signals(client: Any, run_id: str) -> list[dict[str, Any]]:
    """The signals of the run's last needs_attention pause, from its stored events."""
    from agentloop.cli.sse import StreamReader

    signals: list[dict[str, Any]] = []
    for event in StreamReader(client, run_id, "events", follow=False):
        payload = event.get("payload") or {}
        if event.get("event_type") == "RUN_PAUSED" and payload.get("reason") == "needs_attention":
            signals = list(payload.get("signals") or [])
    return signals
