"""The deterministic "model" behind every mock server: it reads agentloop's prompt and the
tool results so far, and answers with one shell command to run or one final text.

It drives the CLI's own shell tool (Claude's Bash, Codex's exec_command, Gemini's
run_shell_command, opencode's bash), so the real CLI does the work in the worktree:

- implementation prompt: tick the plan's first open task ``[x]``, write a file for it,
  commit; then answer ``Completed <task>. <N> tasks remain.`` or the completion token when
  no open task remains;
- review prompt: mark the first ``[x]`` task ``[R]``, commit; then answer per SPEC 5;
- anything else (e.g. the naming call): a short label.

The shell command is a ``python3 -c`` program without ``$(`` or backquotes (the Gemini CLI
refuses command substitution) that prints one ``BRAIN|...`` line; the brain reads its answer
from that line in the tool result, so it keeps no state between requests. The plan path
comes from the prompt's ``@`` mentions (absolute, or relative to the worktree).

:class:`Brain` holds what a test asks of it: a ``command`` that replaces the work (a long
``sleep`` for cancel tests), ``answer`` overrides.
"""

from __future__ import annotations

import re
import shlex
import threading
from dataclasses import dataclass, field

COMPLETION_TOKEN = "<promise>COMPLETE</promise>"
_PLAN = re.compile(r"[\w./-]*-plan\.md")
_RESULT = re.compile(r"BRAIN\|(\w+)\|([^|\n]*)\|(\d+)\|(\d+)\|(\d+)")

_IMPLEMENT = """\
import pathlib, re, subprocess
plan = pathlib.Path({plan!r})
lines = plan.read_text().splitlines(True)
i = next((k for k, l in enumerate(lines) if l.startswith("- [ ] ")), None)
task = lines[i][6:].strip() if i is not None else ""
if i is not None:
    lines[i] = "- [x] " + lines[i][6:]
    plan.write_text("".join(lines))
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-") or "task"
    pathlib.Path(slug + ".txt").write_text(task + chr(10))
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", "Implement " + task], check=True)
text = "".join(lines)
print("BRAIN|implemented|%s|%d|%d|%d" % (task, text.count("- [ ] "), text.count("- [x] "), \
text.count("- [R] ")))
"""

_REVIEW = """\
import pathlib, subprocess
plan = pathlib.Path({plan!r})
lines = plan.read_text().splitlines(True)
i = next((k for k, l in enumerate(lines) if l.startswith("- [x] ")), None)
task = lines[i][6:].strip() if i is not None else ""
if i is not None:
    lines[i] = "- [R] " + lines[i][6:]
    plan.write_text("".join(lines))
    subprocess.run(["git", "commit", "-q", "-am", "Review " + task], check=True)
text = "".join(lines)
print("BRAIN|reviewed|%s|%d|%d|%d" % (task, text.count("- [ ] "), text.count("- [x] "), \
text.count("- [R] ")))
"""


@dataclass(frozen=True)
class ShellCall:
    """Run ``command`` with the CLI's shell tool."""

    command: str
    description: str = "Work on the plan"
    # how long the CLI's tool is asked to wait for the command before it reports back
    # (codex's exec_command returns a still-running command's output after 10 s otherwise)
    wait_sec: float | None = None


@dataclass(frozen=True)
class Answer:
    """End the turn with ``text``."""

    text: str


Action = ShellCall | Answer


@dataclass
class Brain:
    """What the mock model does; tests change the fields between runs (thread-safe reads)."""

    command: str | None = None  # run this instead of the work (e.g. "sleep 300")
    label: str = "Mock label"  # the answer to a prompt that is neither work nor review
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    prompts: list[str] = field(default_factory=list, repr=False)

    def decide(self, prompt: str, tool_results: list[str]) -> Action:
        """The next action, given the conversation's first user text and its tool results."""
        with self.lock:
            if not tool_results:
                self.prompts.append(prompt)
            command = self.command
        if tool_results:
            return Answer(answer_from(tool_results[-1]))
        if command is not None:
            return ShellCall(command, "Run the long command", wait_sec=300)
        kind = prompt_kind(prompt)
        plan = plan_path(prompt)
        if kind == "other" or plan is None:
            return Answer(self.label)
        program = (_REVIEW if kind == "review" else _IMPLEMENT).format(plan=plan)
        return ShellCall(f"python3 -c {shlex.quote(program)}", f"{kind.title()} the next task")


def prompt_kind(prompt: str) -> str:
    """``review``, ``implementation`` or ``other``."""
    if "You are REVIEWING" in prompt:
        return "review"
    if "highest-priority open task" in prompt:
        return "implementation"
    return "other"


def plan_path(prompt: str) -> str | None:
    """The plan file the prompt mentions (``@.../x-plan.md``), as the prompt spells it."""
    match = _PLAN.search(prompt)
    return match.group(0) if match else None


def answer_from(tool_result: str) -> str:
    """The final answer for the result of the work command (SPEC 5 wording)."""
    match = _RESULT.search(tool_result)
    if match is None:
        return "The command did not do what I expected."
    kind, task, open_, ticked, _reviewed = match.groups()
    open_count, ticked_count = int(open_), int(ticked)
    if kind == "implemented":
        if open_count == 0:
            return COMPLETION_TOKEN
        return f"Completed {task}. {open_count} tasks remain."
    if open_count == 0 and ticked_count == 0:
        return COMPLETION_TOKEN
    if ticked_count:
        return f"Reviewed {task}. {ticked_count} awaiting review."
    return "Review complete. Returning to implementation."
