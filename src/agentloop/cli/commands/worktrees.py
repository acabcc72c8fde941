"""``loopctl worktrees [WORKSPACE]`` and ``loopctl worktree-rm PATH [--workspace] [-f]``:
the reference loopctl's worktree commands, same arguments (SPEC 20).

``worktrees`` lists the linked worktrees of a repository (default: the one the current
directory is in) with the run that owns each; ``worktree-rm`` removes one of them, never
one with uncommitted changes unless ``-f``, never the worktree of an active run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.render import emit


@dataclass(frozen=True)
class WorktreeListResult:
    workspace: str
    worktrees: list[dict[str, Any]]

    def to_text(self) -> str:
        from agentloop.cli.views import columns

        if not self.worktrees:
            return f"no worktrees in {self.workspace}"
        rows = [
            [
                str(w.get("path", "")),
                str(w.get("branch") or "-"),
                str(w.get("run_status") or "-"),
                str(w.get("run_id") or "-"),
            ]
            for w in self.worktrees
        ]
        table = columns(("PATH", "BRANCH", "RUN STATUS", "RUN ID"), rows)
        return f"{table}\n\n{len(rows)} worktree(s) in {self.workspace}"

    def to_json(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "worktrees": self.worktrees}


@dataclass(frozen=True)
class WorktreeRemovalResult:
    path: str
    answer: dict[str, Any]

    def to_text(self) -> str:
        return f"removed worktree {self.path}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **self.answer}


def _directory(raw: str, what: str) -> str:
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        raise click.BadParameter(f"{raw!r} is not a directory", param_hint=what)
    return str(path)


def _repository(raw: str) -> str:
    from agentloop.cli.workspace import find_workspace

    return str(find_workspace(Path(_directory(raw, "WORKSPACE"))))


@click.command()
@click.argument("workspace", default=".")
def worktrees(workspace: str) -> None:
    """List the worktrees of WORKSPACE (default: this repository) and their runs."""
    from agentloop.cli.refs import connect

    root = _repository(workspace)
    answer = connect().call("GET", "/worktrees", query={"workspace": root})
    result = WorktreeListResult(root, list(answer.get("worktrees", [])))
    emit(result, as_json=client_options().json_output)


@click.command(name="worktree-rm")
@click.argument("path")
@click.option("--workspace", default=".", help="The repository (default: this one).")
@click.option("-f", "--force", is_flag=True, help="Remove it even with uncommitted changes.")
def worktree_rm(path: str, workspace: str, force: bool) -> None:
    """Remove the worktree at PATH (its branch stays)."""
    from agentloop.cli.refs import connect

    target = _directory(path, "PATH")
    query = {"workspace": _repository(workspace), "path": target, "force": str(force).lower()}
    answer = connect().call("DELETE", "/worktrees", query=query)
    emit(WorktreeRemovalResult(target, dict(answer or {})), as_json=client_options().json_output)
