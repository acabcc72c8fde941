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

import math
import re
from dataclasses import dataclass, fields

from agentloop.agents._scripted_call import Call
from agentloop.agents._scripted_counters import Counters
from agentloop.agents._scripted_work import find_plan, implement, postmortem, review, tune
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink, Failure
from agentloop.agents.process import watch_owner
from agentloop.core.errors import AgentloopError, ConfigError
from agentloop.core.postmortem_prompt import is_postmortem_prompt

__all__ = ["Knobs", "ScriptedAgent", "is_review_prompt", "parse_knobs"]

_REVIEWING = re.compile(r"\byou are reviewing\b", re.I)
_EXPERIMENT = re.compile(r"^You are running an experiment\b", re.M)


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
        step = Call(request, sink)
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

    def _run(self, step: Call, knobs: Knobs) -> AgentResult:
        request = step.request
        if is_postmortem_prompt(request.prompt):
            if knobs.postmortem_delay and not step.sleep(knobs.postmortem_delay):
                return step.interrupted()
            return step.answered(postmortem(request.prompt), knobs.cost)
        if knobs.delay and not step.sleep(knobs.delay):
            return step.interrupted()
        if knobs.hang:
            step.sleep(math.inf)
            return step.interrupted()
        if knobs.permanent:
            return step.failed(Failure.PERMANENT, "Not logged in · Please run /login", 1)
        counters = Counters(request)
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
            return step.answered(tune(step, knobs.tune_step, attempt), knobs.cost)
        plan = find_plan(request)
        if is_review_prompt(request.prompt):
            if counters.take("fail_review", knobs.fail_review):
                return step.failed(Failure.CRASH, "scripted: review failed on purpose", 1)
            reject = counters.take("reject_review", knobs.reject_review)
            answer = review(step, plan, reject)
        else:
            answer = implement(step, plan, no_commit=knobs.no_commit, early=knobs.early_complete)
        return step.answered(answer, knobs.cost)
