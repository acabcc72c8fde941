"""``loopctl doctor``: is everything a run needs in place? loopd, the token, git, the agent
CLIs, ``wt`` and ``gh``; for each thing missing, how to fix it.

Exit 1 when something a run of this workspace needs is missing (loopd, the token, git, the
workspace's configured agent); optional tools (other agents, ``wt``, ``gh``) only warn, as
does running as root with claude (it refuses to skip permissions for root, SPEC 4).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agentloop.cli.context import client_options
from agentloop.cli.render import emit

MIN_GIT = (2, 36)
"""``git worktree list --porcelain -z`` (vcs.worktree) needs git 2.36."""
AGENT_CLIS = {
    "claude": ("claude", "npm install -g @anthropic-ai/claude-code, then run `claude` to log in"),
    "codex": ("codex", "npm install -g @openai/codex"),
    "gemini": ("gemini", "npm install -g @google/gemini-cli"),
    "opencode": ("opencode", "npm install -g opencode-ai"),
}
MARK = {"ok": "ok", "warn": "warn", "fail": "FAIL", "skip": "skip"}


@dataclass(frozen=True)
class Check:
    name: str
    state: str
    """``ok``, ``warn`` (optional, missing), ``fail`` (needed, missing) or ``skip``."""
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class DoctorResult:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.state != "fail" for check in self.checks)

    def to_text(self) -> str:
        width = max(len(check.name) for check in self.checks)
        lines = []
        for check in self.checks:
            lines.append(f"{MARK[check.state]:<4}  {check.name.ljust(width)}  {check.detail}")
            if check.fix and check.state in ("fail", "warn"):
                lines.append(f"{'':<4}  {''.ljust(width)}  fix: {check.fix}")
        lines.append(self._verdict())
        return "\n".join(lines)

    def _verdict(self) -> str:
        return "all good" if self.ok else "something a run needs is missing (see FAIL)"

    def to_rich(self) -> Any:
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table

        colours = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
        table = Table(box=None, show_header=False, pad_edge=False)
        for _ in range(3):
            table.add_column()
        for check in self.checks:
            colour = colours[check.state]
            detail = escape(check.detail)
            if check.fix and check.state in ("fail", "warn"):
                detail += f"\n[dim]fix: {escape(check.fix)}[/]"
            table.add_row(f"[{colour}]{MARK[check.state]}[/]", check.name, detail)
        return Group(table, "", self._verdict())

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.to_json() for check in self.checks]}


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check loopd, the token, git, the agent CLIs, wt and gh; say how to fix what is missing."""
    options = client_options()
    result = DoctorResult(tuple(run_checks(options.addr, options.token, Path.cwd())))
    emit(result, as_json=options.json_output)
    ctx.exit(0 if result.ok else 1)


def run_checks(
    addr: str,
    token: str | None,
    cwd: Path,
    which: Callable[[str], str | None] = shutil.which,
    *,
    environ: Mapping[str, str] = os.environ,
    euid: Callable[[], int] = os.geteuid,
) -> list[Check]:
    agent, permission_mode = _configured_agent(cwd)
    checks = [*_daemon_checks(addr, token), _git_check(which)]
    for name, (binary, how) in AGENT_CLIS.items():
        found = which(binary)
        needed = name == agent
        if found:
            checks.append(Check(f"agent {name}", "ok", found))
        else:
            why = "the configured agent of this workspace" if needed else "optional"
            checks.append(
                Check(
                    f"agent {name}",
                    "fail" if needed else "warn",
                    f"{binary} not on PATH ({why})",
                    how,
                )
            )
    if agent == "claude":
        checks.append(_root_check(permission_mode, environ, euid()))
    checks.append(
        _tool_check(
            which,
            "wt",
            "worktrunk worktrees (worktree_provider=worktrunk)",
            "install worktrunk (https://worktrunk.dev), or keep worktree_provider=auto/git",
        )
    )
    checks.append(
        _tool_check(
            which,
            "gh",
            "`loopctl create-pr`",
            "install the GitHub CLI (https://cli.github.com) and `gh auth login`",
        )
    )
    return checks


def _daemon_checks(addr: str, token: str | None) -> list[Check]:
    from agentloop.cli.client import Loopd
    from agentloop.cli.errors import ClientError, Unauthorized

    try:
        client = Loopd(addr, token, timeout=3.0, ready_budget=0)
        health = client.probe(timeout=3.0)
    except ClientError as exc:
        reason = exc.facts.get("reason", exc.message)
        return [
            Check(
                "loopd",
                "fail",
                f"not reachable at {addr} ({reason})",
                f"start it: `loopd --addr {addr}` (or set LOOPD_ADDR / --addr to where it runs)",
            ),
            Check("token", "skip", "not checked: loopd is not reachable"),
        ]
    daemon = Check(
        "loopd",
        "ok",
        f"loopd {health.get('version', '?')} at {addr}, up {float(health.get('uptime_s', 0)):.0f}s,"
        f" {health.get('runs_active', 0)} run(s) active",
    )
    try:
        client.call("GET", "/runs", query={"limit": 1})
    except Unauthorized:
        fix = "pass --token or set LOOPD_TOKEN to loopd's LOOPD_AUTH_TOKEN"
        state = "wrong token" if token else "loopd requires a token and none was given"
        return [daemon, Check("token", "fail", state, fix)]
    except ClientError as exc:
        return [daemon, Check("token", "warn", f"GET /runs failed: {exc.message}")]
    return [daemon, Check("token", "ok", "accepted" if token else "loopd requires none")]


def _git_check(which: Callable[[str], str | None]) -> Check:
    from agentloop.core.errors import GitError
    from agentloop.vcs.git import run_process

    fix = f"install git >= {MIN_GIT[0]}.{MIN_GIT[1]} (https://git-scm.com)"
    if which("git") is None:
        return Check("git", "fail", "git not on PATH", fix)
    try:
        out = run_process(["git", "--version"], Path.cwd(), timeout=10).stdout.strip()
    except GitError as exc:
        return Check("git", "fail", exc.message, fix)
    version = parse_git_version(out)
    if version is None:
        return Check("git", "warn", f"cannot read the version from {out!r}")
    shown = ".".join(map(str, version))
    if version < MIN_GIT:
        return Check("git", "fail", f"git {shown} is too old", fix)
    return Check("git", "ok", f"git {shown}")


def parse_git_version(text: str) -> tuple[int, int] | None:
    import re

    found = re.search(r"(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2])) if found else None


def _tool_check(which: Callable[[str], str | None], binary: str, used_for: str, fix: str) -> Check:
    found = which(binary)
    if found:
        return Check(binary, "ok", found)
    return Check(binary, "warn", f"{binary} not on PATH (optional: needed for {used_for})", fix)


def _root_check(permission_mode: str, environ: Mapping[str, str], euid: int) -> Check:
    """Claude Code refuses ``--dangerously-skip-permissions`` for root unless IS_SANDBOX=1:
    every run would fail at its first step. Checked here, where loopctl runs: loopd is
    usually started by the same user, in the same environment."""
    name = "claude as root"
    if euid != 0:
        return Check(name, "ok", "not running as root")
    if environ.get("IS_SANDBOX") == "1":
        return Check(name, "ok", "root, with IS_SANDBOX=1")
    if permission_mode != "bypassPermissions":
        return Check(name, "ok", f"root, permission_mode={permission_mode}")
    return Check(
        name,
        "warn",
        "running as root without IS_SANDBOX=1: claude refuses --dangerously-skip-permissions "
        "for root, so every run would fail at once",
        "set IS_SANDBOX=1 in loopd's environment, or run loopd as a normal user",
    )


def _configured_agent(cwd: Path) -> tuple[str, str]:
    """The workspace's agent and claude permission mode (the defaults without a config)."""
    from agentloop.cli.workspace import find_workspace
    from agentloop.core.config import load_config
    from agentloop.core.errors import AgentloopError

    try:
        config = load_config(find_workspace(cwd), environ={}).config
    except AgentloopError:
        return "claude", "bypassPermissions"
    return str(config.agent), str(config.permission_mode.value)
