"""``agent=scripted``: a deterministic, offline agent for demos, tests and benchmarks.

It runs in-process (git goes through :func:`~agentloop.agents.process.run_command`). The
plan is ``LOOP_PLAN_PATH`` from ``request.env``, else the second ``@`` mention of the
prompt's first line (relative paths against ``request.cwd``).

Implementation prompt: it takes the first open counted task (``- [ ]`` outside code fences
and ``## Verification``, optional ones skipped), appends the task to
``tasks/task-<n>.txt`` (n: the task's position in the plan), ticks it ``[x]``, commits
everything (``git add -A``; ``git commit -m <task>``) and answers ``Completed <task>. <N>
tasks remain.``, or the completion token when no open task remains.

Review prompt (its opening paragraph says "You are reviewing"): it marks the first ``[x]``
task ``[R]``, commits, and answers ``Reviewed <task>. <N> awaiting review.``, ``Review
complete. Returning to implementation.`` (nothing awaits review, open tasks remain) or the
token (every task reviewed, none open).

Knobs come from the model string: ``scripted``, empty, or any plain model name (e.g. the
default ``opus``) mean default behaviour; otherwise ``;``-separated ``key=value`` items:

- ``delay=SEC``: sleep first (interrupted by cancel / kill_owner / the timeout).
- ``hang=1``: block until cancelled or timed out.
- ``early_complete=1``: do the task, then answer the token although tasks remain.
- ``no_commit=1``: answer ``Completed <task>. ...`` without doing anything.
- ``lines=N``: emit N extra output lines first (streaming tests).
- ``fail_review=N``: the first N review steps of the run fail (exit 1, failure ``crash``),
  plan untouched.
- ``reject_review=N``: the first N reviews send the task back to ``[ ]`` with a note in
  ``LEARNINGS.md`` and answer ``Sent back <task>. <N> awaiting review.``
- ``usage_limit=EPOCH``: the first call of the run reports a usage limit resetting at
  EPOCH (``0``: no reset time given); later calls work normally.
- ``transient=N`` / ``crash=N``: the first N calls of the run fail transiently (``API
  Error: 529 Overloaded``) / crash (exit 1) without touching anything.
- ``permanent=1``: every call fails permanently (``Not logged in · Please run /login``).
- ``cost=USD``: the cost reported per call (default 0).
- ``postmortem_delay=SEC``: sleep first when writing a postmortem.

Experiment prompt (it says "You are running an experiment"): it tunes the number in
``tune.txt`` at the worktree root (created as 0 when missing): attempt k of the run adds
``tune_step`` (default 1) when k is even and subtracts it when k is odd, commits ``Try
x=<value>`` and answers ``Tried x=<value> (was <old>).`` Since a reverted attempt leaves the
best value in place, the kept values climb by ``tune_step`` every other iteration: a toy
benchmark for ``make demo-experiment`` and the experiment tests.

Postmortem prompt (its opening paragraph says "You are writing a postmortem"): it changes
nothing and answers a short Markdown summary made of the prompt's ``Run:`` and
``Outcome:`` lines and its counts of watchdog signals and failures; the other knobs do not
apply (only ``postmortem_delay``).

"Per run" counters live in a small JSON file in the worktree's git dir (never committed),
keyed by run id.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from agentloop.agents.base import AgentRequest, AgentResult, AgentSink, Failure
from agentloop.agents.process import run_command, watch_owner
from agentloop.core.completion import COMPLETION_TOKEN
from agentloop.core.errors import AgentloopError, ConfigError
from agentloop.core.plan import Task, TaskState, mark_task, parse_plan, read_plan_text
from agentloop.core.postmortem_prompt import is_postmortem_prompt

__all__ = ["Knobs", "ScriptedAgent", "is_review_prompt", "parse_knobs"]

_REVIEWING = re.compile(r"\byou are reviewing\b", re.I)
_EXPERIMENT = re.compile(r"^You are running an experiment\b", re.M)
TUNE_FILE = "tune.txt"
_GIT_IDENTITY = (
    "-c", "user.name=agentloop scripted agent",
    "-c", "user.email=scripted@agentloop.invalid",
    "-c", "commit.gpgsign=false",
)  # fmt: skip


@dataclass(frozen=True)
class Knobs:
    delay: float = 0.0
    hang: bool = False
    early_complete: bool = False
    no_commit: bool = False
    lines: int = 0
    fail_review: int = 0
    reject_review: int = 0
    usage_limit: float | None = None
    transient: int = 0
    crash: int = 0
    permanent: bool = False
    cost: float = 0.0
    postmortem_delay: float = 0.0
    tune_step: float = 1.0


def parse_knobs(model: str) -> Knobs:
    """Knobs from a model string; :class:`ConfigError` for an unknown key or bad value."""
    types = {f.name: f.type for f in fields(Knobs)}
    values: dict[str, object] = {}
    for item in model.split(";"):
        if "=" not in item:
            continue  # a plain model name: default behaviour
        key, _, raw = (part.strip() for part in item.partition("="))
        kind = types.get(key)
        if kind is None:
            raise ConfigError("model", model, f"scripted knobs {', '.join(types)}")
        try:
            if kind == "bool":
                values[key] = raw.lower() in ("1", "true", "yes", "on")
            elif kind == "int":
                values[key] = int(raw)
            else:
                values[key] = float(raw)
        except ValueError as exc:
            raise ConfigError("model", model, f"a number for scripted knob {key!r}") from exc
    return Knobs(**values)  # type: ignore[arg-type]


def is_review_prompt(prompt: str) -> bool:
    """True when the opening paragraph (after the ``@`` line) says the agent is reviewing."""
    body = prompt.split("\n", 1)[1] if prompt.startswith("@") and "\n" in prompt else prompt
    opening = body.strip().split("\n\n", 1)[0]
    return _REVIEWING.search(opening) is not None


class ScriptedAgent:
    """The ``scripted`` adapter; see the module docstring."""

    name = "scripted"

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        step = _Step(request, sink)
        try:
            knobs = parse_knobs(request.model)
        except ConfigError as exc:
            return step.failed(Failure.PERMANENT, exc.message, 2)
        with watch_owner(request.run_id or None) as killed:
            step.killed = killed
            try:
                return self._run(step, knobs)
            except AgentloopError as exc:  # an unreadable plan, a failed git command
                return step.failed(Failure.CRASH, exc.message, 1)

    def _run(self, step: _Step, knobs: Knobs) -> AgentResult:
        request = step.request
        if is_postmortem_prompt(request.prompt):
            if knobs.postmortem_delay and not step.sleep(knobs.postmortem_delay):
                return step.interrupted()
            return step.answered(_postmortem(request.prompt), knobs.cost)
        if knobs.delay and not step.sleep(knobs.delay):
            return step.interrupted()
        if knobs.hang:
            step.sleep(math.inf)
            return step.interrupted()
        if knobs.permanent:
            return step.failed(Failure.PERMANENT, "Not logged in · Please run /login", 1)
        counters = _Counters(request)
        if knobs.usage_limit is not None and counters.take("usage_limit", 1):
            reset = knobs.usage_limit or None
            when = f"resets at {reset:.0f}" if reset else "no reset time given"
            message = f"scripted: usage limit reached ({when})"
            return step.failed(Failure.USAGE_LIMIT, message, 0, reset)
        if counters.take("transient", knobs.transient):
            return step.failed(Failure.TRANSIENT, "API Error: 529 Overloaded", 1)
        if counters.take("crash", knobs.crash):
            return step.failed(Failure.CRASH, "scripted: crashed on purpose", 1)
        for i in range(knobs.lines):
            step.say(f"scripted: line {i + 1}/{knobs.lines}")
        if _EXPERIMENT.search(request.prompt):
            attempt = counters.next("experiment")
            return step.answered(_tune(step, knobs.tune_step, attempt), knobs.cost)
        plan_path = _plan_path(request)
        if is_review_prompt(request.prompt):
            if counters.take("fail_review", knobs.fail_review):
                return step.failed(Failure.CRASH, "scripted: review failed on purpose", 1)
            reject = counters.take("reject_review", knobs.reject_review)
            answer = _review(step, plan_path, reject)
        else:
            answer = _implement(step, plan_path, knobs)
        return step.answered(answer, knobs.cost)


class _Step:
    """One call: output, cancellation, timing, and the result it ends with."""

    def __init__(self, request: AgentRequest, sink: AgentSink) -> None:
        self.request = request
        self.sink = sink
        self.started = time.monotonic()
        self.lines = 0
        self.killed: threading.Event | None = None
        self.timed_out = False

    def say(self, line: str) -> None:
        self.lines += 1
        self.sink.output(line)

    def sleep(self, seconds: float) -> bool:
        """Sleep, False when cancelled or timed out first."""
        events = [e for e in (self.request.cancel, self.killed) if e is not None]
        timeout = self.request.timeout_sec
        end = time.monotonic() + seconds
        deadline = self.started + timeout if timeout > 0 else math.inf
        while True:
            if any(e.is_set() for e in events):
                return False
            now = time.monotonic()
            if now >= deadline:
                self.timed_out = True
                return False
            if now >= end:
                return True
            time.sleep(min(0.02, end - now, deadline - now))

    def interrupted(self) -> AgentResult:
        if self.timed_out:
            timeout = self.request.timeout_sec
            return self.failed(Failure.TIMEOUT, f"scripted timed out after {timeout:g}s", 124)
        return self.failed(Failure.CANCELLED, "cancelled", 143)

    def failed(
        self, failure: Failure, message: str, exit_code: int, resume_at: float | None = None
    ) -> AgentResult:
        self.say(message)
        return self._result(exit_code, message, failure=failure, resume_at=resume_at)

    def answered(self, answer: str, cost: float) -> AgentResult:
        for line in answer.splitlines():
            self.say(line)
        return self._result(0, answer, cost=cost)

    def _result(
        self,
        exit_code: int,
        text: str,
        *,
        failure: Failure | None = None,
        resume_at: float | None = None,
        cost: float = 0.0,
    ) -> AgentResult:
        request = self.request
        session = f"scripted-{request.run_id or 'run'}-{request.phase}-{request.iteration}"
        event = {"type": "result", "is_error": failure is not None, "result": text}
        self.sink.raw_event(json.dumps(event, ensure_ascii=False))
        return AgentResult(
            exit_code=exit_code,
            final_text=text if failure is None else "",
            session_id=session,
            turns=1,
            tokens_in=len(request.prompt) // 4,
            tokens_out=len(text) // 4,
            cost_usd=cost,
            is_error=failure is not None,
            failure=failure,
            message=text if failure is not None else "",
            resume_at=resume_at,
            duration_ms=int((time.monotonic() - self.started) * 1000),
            output_lines=self.lines,
            agent="scripted",
        )


def _implement(step: _Step, plan_path: Path, knobs: Knobs) -> str:
    text = read_plan_text(plan_path)
    plan = parse_plan(text)
    task = plan.first_open_task()
    if task is None:
        return COMPLETION_TOKEN
    step.say(f"scripted: implementing {task.text}")
    remaining = len(plan.open_tasks) - 1
    if not knobs.no_commit:
        number = plan.tasks.index(task) + 1
        note = step.request.cwd / "tasks" / f"task-{number}.txt"
        note.parent.mkdir(parents=True, exist_ok=True)
        with note.open("a", encoding="utf-8") as fh:
            fh.write(task.text + "\n")
        plan_path.write_text(mark_task(text, task.line_no, TaskState.DONE), encoding="utf-8")
        _commit(step, task.text or f"task {number}")
    if remaining == 0 or knobs.early_complete:
        return COMPLETION_TOKEN
    return f"Completed {_name(task)}. {remaining} tasks remain."


def _tune(step: _Step, tune_step: float, attempt: int) -> str:
    """One experiment attempt: move the number in tune.txt up or down by ``tune_step``."""
    path = step.request.cwd / TUNE_FILE
    try:
        old = float(path.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        old = 0.0
    new = old + (tune_step if attempt % 2 == 0 else -tune_step)
    step.say(f"scripted: trying x={new:g}")
    path.write_text(f"{new:g}\n", encoding="utf-8")
    _commit(step, f"Try x={new:g}")
    return f"Tried x={new:g} (was {old:g})."


def _review(step: _Step, plan_path: Path, reject: bool) -> str:
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
        _commit(step, f"Review: {'send back' if reject else 'approve'} {task.text}")
    plan = parse_plan(text)
    waiting = len(plan.awaiting_review)
    if task is not None and reject:
        return f"Sent back {_name(task)}. {waiting} awaiting review."
    if plan.is_complete(reviewer=True):
        return COMPLETION_TOKEN
    if task is not None and waiting:
        return f"Reviewed {_name(task)}. {waiting} awaiting review."
    return "Review complete. Returning to implementation."


def _postmortem(prompt: str) -> str:
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


def _commit(step: _Step, message: str) -> None:
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


def _name(task: Task) -> str:
    return task.text.rstrip(".") or f"task on line {task.line_no}"


def _plan_path(request: AgentRequest) -> Path:
    raw = request.env.get("LOOP_PLAN_PATH")
    if not raw:
        first = request.prompt.split("\n", 1)[0].split()
        mentions = [word[1:] for word in first if word.startswith("@")]
        if len(mentions) < 2:
            raise AgentloopError("scripted: no plan (LOOP_PLAN_PATH unset, no @plan mention)")
        raw = mentions[1]
    path = Path(raw)
    return path if path.is_absolute() else request.cwd / path


class _Counters:
    """ "The first N calls of the run": counters kept in the git dir, loaded on first use."""

    def __init__(self, request: AgentRequest) -> None:
        self.request = request
        self._path: Path | None = None
        self._data: dict[str, int] | None = None

    def next(self, key: str) -> int:
        """How many times ``key`` was counted before; counts this one."""
        data = self._load()
        count = data.get(key, 0)
        data[key] = count + 1
        assert self._path is not None
        self._path.write_text(json.dumps(data), encoding="utf-8")
        return count

    def take(self, key: str, limit: int) -> bool:
        """True (and counted) while ``key`` has been taken fewer than ``limit`` times."""
        if limit <= 0:
            return False
        data = self._load()
        if data.get(key, 0) >= limit:
            return False
        data[key] = data.get(key, 0) + 1
        assert self._path is not None
        self._path.write_text(json.dumps(data), encoding="utf-8")
        return True

    def _load(self) -> dict[str, int]:
        if self._data is None:
            self._path = _git_dir(self.request.cwd) / (
                f"agentloop-scripted-{self.request.run_id or 'run'}.json"
            )
            try:
                self._data = json.loads(self._path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._data = {}
        return self._data


def _git_dir(cwd: Path) -> Path:
    """The git dir of the worktree at ``cwd`` (a worktree's ``.git`` is a file naming it),
    found without running git; ``cwd`` itself when it is not in git."""
    for directory in (cwd, *cwd.parents):
        dot_git = directory / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            line = dot_git.read_text(encoding="utf-8").strip()
            if line.startswith("gitdir:"):
                target = Path(line.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else directory / target
    return cwd
