"""What the scripted agent does in a worktree: implement (tick and commit the first open
task), review (mark or send back the first done task), tune (the experiment's toy number),
and write a postmortem; each commits with git through
:func:`~agentloop.agents.process.run_command`."""

from __future__ import annotations

import re
from pathlib import Path

from agentloop.agents._scripted_call import Call
from agentloop.agents.base import AgentRequest
from agentloop.agents.process import run_command
from agentloop.core.completion import COMPLETION_TOKEN
from agentloop.core.errors import AgentloopError
from agentloop.core.plan import Task, TaskState, mark_task, parse_plan, read_plan_text

__all__ = ["TUNE_FILE", "find_plan", "implement", "postmortem", "review", "tune"]

TUNE_FILE = "tune.txt"
_GIT_IDENTITY = (
    "-c", "user.name=agentloop scripted agent",
    "-c", "user.email=scripted@agentloop.invalid",
    "-c", "commit.gpgsign=false",
)  # fmt: skip


def implement(step: Call, plan_path: Path, *, no_commit: bool, early: bool) -> str:
    """Do the first open task (unless ``no_commit``); answer the token when none remains,
    or at once when ``early``."""
    text = read_plan_text(plan_path)
    plan = parse_plan(text)
    task = plan.first_open_task()
    if task is None:
        return COMPLETION_TOKEN
    step.say(f"scripted: implementing {task.text}")
    remaining = len(plan.open_tasks) - 1
    if not no_commit:
        number = plan.tasks.index(task) + 1
        note = step.request.cwd / "tasks" / f"task-{number}.txt"
        note.parent.mkdir(parents=True, exist_ok=True)
        with note.open("a", encoding="utf-8") as fh:
            fh.write(task.text + "\n")
        plan_path.write_text(mark_task(text, task.line_no, TaskState.DONE), encoding="utf-8")
        commit(step, task.text or f"task {number}")
    if remaining == 0 or early:
        return COMPLETION_TOKEN
    return f"Completed {task_name(task)}. {remaining} tasks remain."


def tune(step: Call, tune_step: float, attempt: int) -> str:
    """One experiment attempt: move the number in tune.txt up or down by ``tune_step``."""
    path = step.request.cwd / TUNE_FILE
    try:
        old = float(path.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        old = 0.0
    new = old + (tune_step if attempt % 2 == 0 else -tune_step)
    step.say(f"scripted: trying x={new:g}")
    path.write_text(f"{new:g}\n", encoding="utf-8")
    commit(step, f"Try x={new:g}")
    return f"Tried x={new:g} (was {old:g})."


def review(step: Call, plan_path: Path, reject: bool) -> str:
    """Mark the first task awaiting review reviewed, or send it back when ``reject``."""
    text = read_plan_text(plan_path)
    task = parse_plan(text).first_awaiting_review()
    if task is not None:
        state = TaskState.OPEN if reject else TaskState.REVIEWED
        step.say(f"scripted: {'sending back' if reject else 'reviewed'} {task.text}")
        text = mark_task(text, task.line_no, state)
        plan_path.write_text(text, encoding="utf-8")
        if reject:
            with (step.request.cwd / "LEARNINGS.md").open("a", encoding="utf-8") as fh:
                fh.write(f"- {task.text}: sent back by the scripted reviewer.\n")
        commit(step, f"Review: {'send back' if reject else 'approve'} {task.text}")
    plan = parse_plan(text)
    waiting = len(plan.awaiting_review)
    if task is not None and reject:
        return f"Sent back {task_name(task)}. {waiting} awaiting review."
    if plan.is_complete(reviewer=True):
        return COMPLETION_TOKEN
    if task is not None and waiting:
        return f"Reviewed {task_name(task)}. {waiting} awaiting review."
    return "Review complete. Returning to implementation."


def postmortem(prompt: str) -> str:
    """A deterministic postmortem: the prompt's own facts, restated."""
    facts: dict[str, str] = {}
    for line in prompt.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("Run", "Outcome", "Iterations") and key not in facts:
            facts[key] = value.strip()
    counts: dict[str, int] = {}
    for title in ("Watchdog signals", "Failed steps and verifications"):
        match = re.search(rf"^{title} \((\d+)", prompt, re.M)
        counts[title] = int(match.group(1)) if match else 0
    return "\n".join(
        [
            "# Postmortem (scripted)",
            "",
            "## What happened",
            f"Run {facts.get('Run', '?')} ended {facts.get('Outcome', '?')}.",
            f"Iterations: {facts.get('Iterations', '?')}.",
            "",
            "## Why",
            f"Watchdog signals: {counts['Watchdog signals']}; failed steps and "
            f"verifications: {counts['Failed steps and verifications']}.",
            "",
            "## Next time",
            "The scripted agent does not analyse; read the run's logs for the details.",
        ]
    )


def commit(step: Call, message: str) -> None:
    request = step.request
    commands = {
        "add": ["git", "add", "-A"],
        "commit": ["git", *_GIT_IDENTITY, "commit", "-q", "--no-verify", "-m", message],
    }
    for name, argv in commands.items():
        done = run_command(argv, cwd=request.cwd, env=request.env, timeout=60)
        if not done.ok:
            detail = " ".join(done.tail[-3:]) or f"exit {done.exit_code}"
            raise AgentloopError(f"scripted: git {name} failed: {detail}")
    step.say("scripted: committed")


def task_name(task: Task) -> str:
    return task.text.rstrip(".") or f"task on line {task.line_no}"


def find_plan(request: AgentRequest) -> Path:
    """``LOOP_PLAN_PATH``, else the second ``@`` mention of the prompt's first line."""
    raw = request.env.get("LOOP_PLAN_PATH")
    if not raw:
        first = request.prompt.split("\n", 1)[0].split()
        mentions = [word[1:] for word in first if word.startswith("@")]
        if len(mentions) < 2:
            raise AgentloopError("scripted: no plan (LOOP_PLAN_PATH unset, no @plan mention)")
        raw = mentions[1]
    path = Path(raw)
    return path if path.is_absolute() else request.cwd / path
