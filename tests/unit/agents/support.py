"""Helpers for the agents tests: real git repositories with a plan, prompts, requests, and
process liveness (zombies count as dead: /proc state, not os.kill)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from agentloop.agents import _proc  # noqa: E402
from agentloop.agents.base import AgentRequest  # noqa: E402
from agentloop.agents.process import ProcessHandle, ProcessResult, run_process  # noqa: E402
from standins import FIXTURES_DIR, STANDINS_DIR, standin_env  # noqa: E402

__all__ = ["FIXTURES_DIR", "STANDINS_DIR", "standin_env"]

PLAN = """\
# Plan

Some intro text.

```markdown
- [ ] not a task: inside a code fence
```

## Tasks
- [ ] Write the greeting module
- [ ] Add a farewell function
- [ ]? Optional polish
- [ ] Document both functions.

## Verification
- [ ] Manually say hello
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def plan_of(repo: Path) -> Path:
    return repo / "specs" / "planning" / "greet-plan.md"


def implementation_prompt(repo: Path) -> str:
    return (
        f"@{repo / 'specs/greet.md'} @{plan_of(repo)} @{repo / 'runner-notes.txt'}\n\n"
        "You are implementing the spec above, one task per session, following its plan."
    )


def review_prompt(repo: Path) -> str:
    return (
        f"@{repo / 'specs/greet.md'} @{plan_of(repo)} @{repo / 'runner-notes.txt'}\n\n"
        "You are REVIEWING, not implementing. Another session implemented the task below.\n\n"
        "1. Read the commit."
    )


def make_request(
    repo: Path, prompt: str, env: dict[str, str] | None = None, **kw: object
) -> AgentRequest:
    base = {**(env if env is not None else dict(os.environ)), **GIT_ENV}
    base["LOOP_PLAN_PATH"] = str(plan_of(repo))
    return AgentRequest(prompt=prompt, cwd=repo, env=base, **kw)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    return _proc.is_alive(pid)


def wait_dead(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.02)
    return not any(alive(pid) for pid in pids)


def make_repo(root: Path) -> Path:
    """A git repository with a spec, the plan above, one commit."""
    (root / "specs" / "planning").mkdir(parents=True)
    (root / "specs" / "greet.md").write_text("# Greet\nSay hello.\n")
    plan_of(root).write_text(PLAN)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


class Background:
    """run_process of ``sh -c script`` in a thread, started once the script printed a line
    (the scripts print a grandchild's pid, or just that they started)."""

    def __init__(self, script: str, **kwargs: object) -> None:
        self.lines: list[str] = []
        self.first = threading.Event()
        self.result: ProcessResult | None = None
        self.handle: ProcessHandle | None = None

        def on_line(line: str) -> None:
            self.lines.append(line)
            self.first.set()

        def on_start(handle: ProcessHandle) -> None:
            self.handle = handle

        def target() -> None:
            self.result = run_process(
                ["sh", "-c", script], on_line=on_line, on_start=on_start, **kwargs
            )

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        assert self.first.wait(5), "child never printed"

    @property
    def leader(self) -> int:
        assert self.handle is not None
        return self.handle.pid

    @property
    def grandchild(self) -> int:
        return int(self.lines[0])

    def join(self, timeout: float = 6.0) -> ProcessResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run_process did not return"
        assert self.result is not None
        return self.result
