"""``loopctl list``: the runs of this workspace (or of one given, or of all), newest first.

Kept light: it is the command people run most, with a 120 ms startup budget
(``bench/bench_cli.py``). It imports no rich when piped and no pydantic ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.render import emit

STATUSES = ("PENDING", "RUNNING", "PAUSED", "COMPLETED", "FAILED", "CANCELED")


@dataclass(frozen=True)
class RunListResult:
    runs: list[dict[str, Any]]
    total: int
    workspace: str | None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_text(self) -> str:
        from agentloop.cli.views import runs_text

        return runs_text(self.runs, self.now) + self._more()

    def to_rich(self) -> Any:
        from rich.console import Group

        from agentloop.cli.views import runs_table

        if not self.runs:
            return "no runs" + (f" in {self.workspace}" if self.workspace else "")
        title = f"runs in {self.workspace}" if self.workspace else "runs in every workspace"
        return Group(runs_table(self.runs, self.now, title=title), self._more().strip())

    def to_json(self) -> dict[str, Any]:
        return {"runs": self.runs, "total": self.total, "workspace_root": self.workspace}

    def _more(self) -> str:
        hidden = self.total - len(self.runs)
        return f"\n({hidden} more; use --limit)" if hidden > 0 else ""


def _status_list(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[str]:
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            word = part.strip().upper()
            if not word:
                continue
            if word not in STATUSES:
                raise click.BadParameter(f"{part!r}: expected one of {', '.join(STATUSES)}")
            found.append(word)
    return found


@click.command(name="list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    callback=_status_list,
    metavar="STATUS[,STATUS]",
    help="Only runs in these statuses (repeatable or comma-separated).",
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="Runs of this workspace instead of the current one.",
)
@click.option("--all", "every", is_flag=True, help="Runs of every workspace.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def list_runs(statuses: list[str], workspace: Path | None, every: bool, limit: int) -> None:
    """List runs, newest first: by default those of the current workspace."""
    emit(collect(statuses, workspace, every, limit), as_json=client_options().json_output)


def collect(
    statuses: list[str],
    workspace: Path | None,
    every: bool,
    limit: int,
    cwd: Callable[[], Path] = Path.cwd,
) -> RunListResult:
    from agentloop.cli.refs import connect
    from agentloop.cli.workspace import find_workspace

    if every and workspace is not None:
        raise click.UsageError("--all and --workspace exclude each other")
    root = None if every else str(find_workspace((workspace or cwd()).resolve()).resolve())
    runs, total = connect().list_runs(workspace_root=root, statuses=statuses, limit=limit)
    return RunListResult(runs=runs, total=total, workspace=root)
