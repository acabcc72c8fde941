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
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_text(self) -> str:
        from agentloop.cli.sheet import inspect_text

        return inspect_text(self.run, self.steps, self.artifacts, self.now)

    def to_rich(self) -> Any:
        from agentloop.cli.sheet import inspect_rich

        return inspect_rich(self.run, self.steps, self.artifacts, self.now)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "steps": self.steps, "artifacts": self.artifacts}


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
def inspect(ref: str) -> None:
    """Show RUN (id, id prefix or name): status, branches, totals, steps and artifacts."""
    from agentloop.cli.refs import connect, resolve_run

    client = connect()
    run = resolve_run(client, ref)
    result = InspectResult(run, client.steps(run["id"]), client.artifacts(run["id"]))
    emit(result, as_json=client_options().json_output)
