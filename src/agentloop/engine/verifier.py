"""Verification commands (SPEC 7): run each `verify_cmds` entry in a directory, in order,
stop at the first failure, and describe the failure for runner-notes.txt."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentloop.agents.process import run_command

NOTES_TAIL_LINES = 200


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    command: str | None = None
    exit_code: int | None = None
    tail: tuple[str, ...] = ()
    timed_out: bool = False

    def failure_context(self) -> str:
        if self.ok:
            return ""
        cause = "timed out" if self.timed_out else f"exited with code {self.exit_code}"
        lines = [
            "## Verification failed",
            "",
            f"Command: {self.command}",
            f"Result: {cause}",
            f"Last {len(self.tail)} lines of output:",
            "```",
            *self.tail,
            "```",
            "",
            "Fix the cause before picking a new task.",
        ]
        return "\n".join(lines) + "\n"


def run_verification(
    commands: Sequence[str],
    cwd: Path,
    *,
    timeout_sec: float,
    on_line: Callable[[str], None],
    owner: str,
    cancel: threading.Event,
    env: Mapping[str, str],
) -> VerifyResult:
    """Run ``commands`` in ``cwd``; ``on_line`` receives every output line (and headers).

    ``cancel`` is the run's cancel event: a command that would start once the run's pause
    or cancel has stopped it does not run (the stop's kill found nothing of it to kill)."""
    for command in commands:
        tail: deque[str] = deque(maxlen=NOTES_TAIL_LINES)

        def keep(line: str, tail: deque[str] = tail) -> None:
            tail.append(line)
            on_line(line)

        on_line(f"$ {command}")
        outcome = run_command(
            command,
            cwd=cwd,
            env=env,
            timeout=timeout_sec or None,
            on_line=keep,
            owner=owner,
            cancel=cancel,
        )
        if outcome.exit_code != 0:
            return VerifyResult(
                ok=False,
                command=command,
                exit_code=outcome.exit_code,
                tail=tuple(tail),
                timed_out=bool(getattr(outcome, "timed_out", False)),
            )
    return VerifyResult(ok=True)
