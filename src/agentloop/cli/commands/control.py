"""``loopctl pause|resume|cancel|retry|reset <run>``: one control call each (SPEC 2).

loopd answers 204, or 409 with the run's current status when the transition is impossible;
the command then exits 1 naming that status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.refs import RUN
from agentloop.cli.render import emit

ACTIONS = {
    "pause": "Pause RUN at once (its agent is stopped); `resume` continues it.",
    "resume": "Resume a paused RUN from its last completed step.",
    "cancel": "Cancel RUN for good.",
    "retry": "Make a FAILED or CANCELED RUN runnable again from its last completed step.",
    "reset": "Start RUN over on a fresh branch.",
}
PAST = {
    "pause": "paused",
    "resume": "resumed",
    "cancel": "canceled",
    "retry": "retried",
    "reset": "reset",
}


@dataclass(frozen=True)
class ControlResult:
    action: str
    run: dict[str, Any]

    def to_text(self) -> str:
        run = self.run
        return f"{PAST[self.action]} {run.get('name')} ({run['id']}): now {run.get('status')}"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "run_id": self.run["id"], "run": self.run}


def make_command(action: str) -> click.Command:
    @click.command(name=action, help=f"{ACTIONS[action]}\n\nRUN: an id, id prefix or name.")
    @click.argument("ref", metavar="RUN", type=RUN)
    def command(ref: str) -> None:
        emit(control_run(action, ref), as_json=client_options().json_output)

    return command


def control_run(action: str, ref: str) -> ControlResult:
    from agentloop.cli.errors import ApiError, ClientError
    from agentloop.cli.refs import connect, resolve_run

    client = connect()
    run = resolve_run(client, ref)
    try:
        client.control(run["id"], action)
    except ApiError as exc:
        if exc.facts.get("status") == 409:
            current = exc.facts.get("current_status") or run.get("status")
            raise ClientError(
                f"cannot {action} run {run.get('name')} ({run['id']}): it is {current}"
                f" ({exc.message})",
                current_status=current,
            ) from exc
        raise
    return ControlResult(action, client.get_run(run["id"]))


pause = make_command("pause")
resume = make_command("resume")
cancel = make_command("cancel")
retry = make_command("retry")
reset = make_command("reset")
