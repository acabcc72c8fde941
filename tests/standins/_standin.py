"""What the stand-in agent CLIs share: picking a scenario, writing lines, replaying fixtures,
and doing real plan work through the scripted agent.

Scenario, first found: ``--model standin:<name>`` (or ``-m``), a ``STANDIN_SCENARIO=<name>``
marker in the prompt, the ``STANDIN_SCENARIO`` environment variable, else ``work``.
Every stand-in writes ``{"argv": [...], "cwd": ..., "prompt": ...}`` to ``$STANDIN_ARGV_FILE``
when that is set, so tests can check the command line they were given.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
_MARKER = re.compile(r"STANDIN_SCENARIO=([A-Za-z0-9_]+)")


def scenario(argv: list[str], prompt: str, default: str = "work") -> str:
    for flag in ("--model", "-m"):
        if flag in argv[:-1]:
            model = argv[argv.index(flag) + 1]
            if model.startswith("standin:"):
                return model.removeprefix("standin:")
    if marker := _MARKER.search(prompt):
        return marker.group(1)
    return os.environ.get("STANDIN_SCENARIO") or default


def record(argv: list[str], prompt: str) -> None:
    path = os.environ.get("STANDIN_ARGV_FILE")
    if path:
        Path(path).write_text(json.dumps({"argv": argv, "cwd": os.getcwd(), "prompt": prompt}))


def emit(obj: dict[str, Any] | str) -> None:
    """One stdout line (a JSON object, or text as it is), flushed at once."""
    line = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def replay(relative: str, *, stream: Any = None) -> None:
    """Write a fixture file's lines verbatim (stdout unless ``stream`` is given)."""
    out = stream or sys.stdout
    with open(FIXTURES / relative, encoding="utf-8") as fh:
        for line in fh:
            out.write(line if line.endswith("\n") else line + "\n")
            out.flush()


def hang() -> None:
    while True:
        time.sleep(3600)


def spawn_grandchild() -> int:
    """A long sleeper in our process group (for orphan tests); returns its pid."""
    import subprocess

    child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    return child.pid


def do_work(prompt: str) -> tuple[str, list[str], str | None]:
    """Do one plan step like the scripted agent (in the current directory, with this
    process's environment): (answer, output lines, failure message or None)."""
    try:
        import agentloop  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(HERE.parent.parent / "src"))
    from agentloop.agents.base import AgentRequest, MemorySink
    from agentloop.agents.scripted import ScriptedAgent

    request = AgentRequest(
        prompt=prompt,
        model=os.environ.get("STANDIN_WORK_MODEL", "scripted"),
        cwd=Path.cwd(),
        env=dict(os.environ),
        run_id=os.environ.get("LOOP_RUN_ID", "standin"),
    )
    sink = MemorySink()
    result = ScriptedAgent().run(request, sink)
    lines = [line for line in sink.lines if line.startswith("scripted: ")]
    return result.final_text, lines, result.message if result.failure else None
