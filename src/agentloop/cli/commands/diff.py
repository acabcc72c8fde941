"""``loopctl diff <run>``: what the run branch changed against its base: commits, a file
summary, then each file's patch (coloured on a terminal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.refs import RUN
from agentloop.cli.render import Screen

_STATUS_WORD = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied"}


@dataclass(frozen=True)
class DiffResult:
    run_id: str
    diff: dict[str, Any]
    stat_only: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **self.diff}

    def to_text(self) -> str:
        return "\n".join(text for text, _ in self.lines())

    def lines(self) -> list[tuple[str, str | None]]:
        """``(text, colour)`` pairs; colour is a click colour name or None."""
        d = self.diff
        base, branch = d.get("base", "?"), d.get("branch", "?")
        merge_base = str(d.get("merge_base") or "")[:12]
        out: list[tuple[str, str | None]] = [
            (
                f"{branch} against {base}" + (f" (merge base {merge_base})" if merge_base else ""),
                None,
            )
        ]
        commits = d.get("commits") or []
        out.append((f"{len(commits)} commit{'s' if len(commits) != 1 else ''}:", None))
        out += [
            (f"  {str(c.get('sha', ''))[:12]}  {c.get('subject', '')}", "yellow") for c in commits
        ]
        files = d.get("files") or []
        added = sum(int(f.get("additions") or 0) for f in files)
        deleted = sum(int(f.get("deletions") or 0) for f in files)
        out.append(
            (
                f"{len(files)} file{'s' if len(files) != 1 else ''} changed, +{added} -{deleted}:",
                None,
            )
        )
        for f in files:
            word = _STATUS_WORD.get(str(f.get("status", ""))[:1], str(f.get("status", "")))
            counts = f"+{f.get('additions') or 0} -{f.get('deletions') or 0}"
            out.append((f"  {word:<9} {counts:>10}  {f.get('path', '')}", None))
        if not self.stat_only:
            for f in files:
                patch = str(f.get("patch") or "")
                if patch:
                    out.append(("", None))
                    out += [(line, _colour(line)) for line in patch.rstrip("\n").split("\n")]
        return out


def _colour(line: str) -> str | None:
    if line.startswith(("+++", "---", "diff ", "index ")):
        return "bright_white"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    if line.startswith("@@"):
        return "cyan"
    return None


@click.command()
@click.argument("ref", metavar="RUN", type=RUN)
@click.option("--stat", "stat_only", is_flag=True, help="Commits and file summary only.")
def diff(ref: str, stat_only: bool) -> None:
    """Show what RUN's branch changed against its base branch."""
    from agentloop.cli.refs import connect, resolve_run
    from agentloop.cli.render import emit

    client = connect()
    run = resolve_run(client, ref)
    result = DiffResult(run["id"], client.diff(run["id"]), stat_only)
    if client_options().json_output:
        emit(result, as_json=True)
        return
    screen = Screen.detect()
    for text, colour in result.lines():
        screen.echo(screen.style(text, fg=colour) if colour else text)
