"""Helpers of the loopctl integration tests: git workspaces and the real ``loopctl`` run as a
subprocess against a given loopd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPCTL = Path(sys.executable).parent / "loopctl"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def make_workspace(root: Path, tasks: tuple[str, ...] = ("a", "b"), name: str = "ws") -> Path:
    """A git repository with specs/demo.md and specs/planning/demo-plan.md, committed."""
    repo = root / name
    (repo / "specs" / "planning").mkdir(parents=True)
    (repo / "specs" / "demo.md").write_text("# Demo\n\nStatus: draft\nLast Updated: 2025-01-02\n")
    plan = "".join(f"- [ ] {task}\n" for task in tasks)
    (repo / "specs" / "planning" / "demo-plan.md").write_text(plan)
    (repo / ".gitignore").write_text("logs/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo.resolve()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli_env(addr: str, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPD_", "LOOP_"))}
    env.update(LOOPD_ADDR=addr, NO_COLOR="1", **GIT_ENV)
    if token:
        env["LOOPD_TOKEN"] = token
    return env


Ctl = Callable[..., Result]


def make_ctl(addr: str, cwd: Path, token: str | None = None) -> Ctl:
    def ctl(
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        where: Path | None = None,
    ) -> Result:
        done = subprocess.run(
            [str(LOOPCTL), *args],
            cwd=where or cwd,
            env=cli_env(addr, token),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return ctl
