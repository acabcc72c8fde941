"""``loopctl say <run> "text" [--file F --line N]``: a note for the run's next agent step
(SPEC 18). A paused run (e.g. needs attention) takes it too: ``loopctl resume`` then
continues with the note in the agent's prompt."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.refs import RUN
from agentloop.cli.render import emit


@dataclass(frozen=True)
class SayResult:
    run: dict[str, Any]
    note: dict[str, Any]

    def to_text(self) -> str:
        where = ""
        if self.note.get("file"):
            line = self.note.get("line")
            where = f" about {self.note['file']}" + (f":{line}" if line else "")
        hint = ""
        if self.run.get("status") == "PAUSED":
            hint = f"\nthe run is paused: `loopctl resume {self.run['id'][:13]}` to go on"
        return (
            f"note {self.note['id']} for {self.run.get('name')} ({self.run['id']}){where}: "
            f"delivered to its next agent step{hint}"
        )

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run["id"], "note": self.note}


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
@click.argument("text")
@click.option("--file", "file", help="The file the note is about (path in the repository).")
@click.option("--line", type=click.IntRange(min=1), help="The line of --file it is about.")
def say(ref: str, text: str, file: str | None, line: int | None) -> None:
    """Tell RUN's agent something: TEXT reaches its next agent step (prompt and runner
    notes). Use - as TEXT to read it from standard input."""
    from agentloop.cli.client import run_path
    from agentloop.cli.refs import connect, resolve_run

    if line is not None and file is None:
        raise click.UsageError("--line needs --file")
    if text == "-":
        text = sys.stdin.read()
    client = connect()
    run = resolve_run(client, ref)
    body: dict[str, Any] = {"text": text, "source": "cli"}
    if file is not None:
        body["file"] = file
    if line is not None:
        body["line"] = line
    answer = client.call("POST", run_path(run["id"], "notes"), body=body)
    emit(SayResult(run, dict(answer["note"])), as_json=client_options().json_output)
