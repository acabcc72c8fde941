"""The plan: a markdown checklist of tasks (SPEC 3), parsed and edited line by line.

Task lines are list items whose text starts with a checkbox: ``- [ ]`` open, ``- [x]`` (or
``[X]``) implemented, ``- [R]`` reviewed, ``- [~]`` blocked; a ``?`` right after the box
(``- [ ]?``) makes the task optional. ``*`` and ``+`` bullets and any indentation are
accepted. Lines inside fenced code blocks (``````` or ``~~~``) are not tasks. Tasks under a
``## Verification`` heading, down to the next heading of level 1 or 2, are manual checks.

*Counted* tasks are the ones that are neither optional nor manual checks. Every figure below
is about counted tasks only, so the figures are consistent with each other:

- ``tasks_total``: counted tasks in any state, blocked ones included;
- ``tasks_done``: counted tasks that are ``[x]`` or ``[R]`` (so ``tasks_done <= tasks_total``);
- ``open_tasks``: counted ``[ ]`` tasks; ``awaiting_review``: counted ``[x]`` tasks.

A plan is complete when no counted task is open and, with the reviewer on, none awaits
review. Blocked tasks do not hold completion back: they are reported under
``## Blockers Discovered`` for a human.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agentloop.core.errors import PlanError


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    REVIEWED = "reviewed"
    BLOCKED = "blocked"


_STATE_OF_MARK = {
    " ": TaskState.OPEN,
    "x": TaskState.DONE,
    "X": TaskState.DONE,
    "R": TaskState.REVIEWED,
    "~": TaskState.BLOCKED,
}
MARK_OF_STATE = {
    TaskState.OPEN: " ",
    TaskState.DONE: "x",
    TaskState.REVIEWED: "R",
    TaskState.BLOCKED: "~",
}

_TASK = re.compile(
    r"(?P<head>[ \t]*[-*+][ \t]+\[)(?P<mark>[ xXR~])\](?P<optional>\?)?(?:[ \t]+(?P<text>.*))?"
)
_HEADING = re.compile(r" {0,3}(?P<level>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})(?P<rest>.*)")
_VERIFICATION = "verification"


@dataclass(frozen=True)
class Task:
    line_no: int
    """1-based line number in the plan text."""
    state: TaskState
    text: str
    optional: bool
    section: str
    """Text of the nearest heading above the task ("" when there is none)."""
    manual: bool
    """Under ``## Verification``: a manual check that never counts."""

    @property
    def counted(self) -> bool:
        return not self.optional and not self.manual


@dataclass(frozen=True)
class Plan:
    tasks: tuple[Task, ...]
    """Every task line of the plan, in order, counted or not."""

    @property
    def counted_tasks(self) -> tuple[Task, ...]:
        return tuple(task for task in self.tasks if task.counted)

    @property
    def tasks_total(self) -> int:
        return len(self.counted_tasks)

    @property
    def tasks_done(self) -> int:
        done = (TaskState.DONE, TaskState.REVIEWED)
        return sum(1 for task in self.counted_tasks if task.state in done)

    @property
    def open_tasks(self) -> tuple[Task, ...]:
        return self._counted_in(TaskState.OPEN)

    @property
    def awaiting_review(self) -> tuple[Task, ...]:
        return self._counted_in(TaskState.DONE)

    @property
    def blocked_tasks(self) -> tuple[Task, ...]:
        return self._counted_in(TaskState.BLOCKED)

    def first_open_task(self) -> Task | None:
        return next(iter(self.open_tasks), None)

    def first_awaiting_review(self) -> Task | None:
        return next(iter(self.awaiting_review), None)

    def is_complete(self, reviewer: bool) -> bool:
        return not self.open_tasks and not (reviewer and self.awaiting_review)

    def task_at(self, line_no: int) -> Task | None:
        return next((task for task in self.tasks if task.line_no == line_no), None)

    def _counted_in(self, state: TaskState) -> tuple[Task, ...]:
        return tuple(task for task in self.counted_tasks if task.state is state)


def parse_plan(text: str) -> Plan:
    """Parse plan text. Never fails: text that is no task is simply not a task."""
    return Plan(tuple(_scan(text)))


def read_plan(path: Path) -> Plan:
    """Read and parse a plan file; :class:`PlanError` when it cannot be read as UTF-8."""
    return parse_plan(read_plan_text(path))


def read_plan_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise PlanError(
            f"cannot read plan {str(path)!r}: {exc.strerror or exc}", path=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"plan {str(path)!r} is not UTF-8 text (byte {exc.start})", path=str(path)
        ) from exc


def mark_task(text: str, line_no: int, state: TaskState) -> str:
    """``text`` with the checkbox of the task on ``line_no`` set to ``state``; every other
    byte is kept. :class:`PlanError` when that line is not a task."""
    if parse_plan(text).task_at(line_no) is None:
        raise PlanError(f"plan line {line_no} is not a task", line_no=line_no)
    lines = text.split("\n")
    match = _TASK.match(lines[line_no - 1])
    assert match is not None  # the parser just found a task on this line
    start = match.start("mark")
    line = lines[line_no - 1]
    lines[line_no - 1] = line[:start] + MARK_OF_STATE[state] + line[start + 1 :]
    return "\n".join(lines)


def _scan(text: str) -> list[Task]:
    tasks: list[Task] = []
    fence: str | None = None
    section = ""
    manual = False
    for line_no, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if fence is not None:
            if _closes(line, fence):
                fence = None
            continue
        # A backtick fence's info string may not contain a backtick (CommonMark).
        if (opened := _FENCE.fullmatch(line)) and not (
            opened["fence"][0] == "`" and "`" in opened["rest"]
        ):
            fence = opened["fence"]
            continue
        if heading := _HEADING.fullmatch(line):
            section = (heading["text"] or "").strip()
            if len(heading["level"]) <= 2:
                manual = section.rstrip(":").strip().lower() == _VERIFICATION
            continue
        if task := _TASK.fullmatch(line):
            tasks.append(
                Task(
                    line_no=line_no,
                    state=_STATE_OF_MARK[task["mark"]],
                    text=(task["text"] or "").strip(),
                    optional=task["optional"] is not None,
                    section=section,
                    manual=manual,
                )
            )
    return tasks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)
