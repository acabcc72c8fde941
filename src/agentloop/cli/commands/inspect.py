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
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_text(self) -> str:
        from agentloop.cli.sheet import experiment_text, inspect_text

        text = inspect_text(self.run, self.steps, self.artifacts, self.now)
        if self.measurements is not None:
            text += "\n\n" + experiment_text(self.measurements)
        return text

    def to_rich(self) -> Any:
        from rich.console import Group

        from agentloop.cli.sheet import experiment_text, inspect_rich

        shown = inspect_rich(self.run, self.steps, self.artifacts, self.now)
        if self.measurements is None:
            return shown
        return Group(shown, "", experiment_text(self.measurements))

    def to_json(self) -> dict[str, Any]:
        data = {"run": self.run, "steps": self.steps, "artifacts": self.artifacts}
        if self.measurements is not None:
            data["measurements"] = self.measurements
        return data


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
def inspect(ref: str) -> None:
    """Show RUN (id, id prefix or name): status, branches, totals, steps and artifacts."""
    from agentloop.cli.refs import connect, resolve_run

    client = connect()
    run = resolve_run(client, ref)
    experiment = (run.get("config") or {}).get("mode") == "experiment"
    result = InspectResult(
        run,
        client.steps(run["id"]),
        client.artifacts(run["id"]),
        client.measurements(run["id"]) if experiment else None,
    )
    emit(result, as_json=client_options().json_output)
