"""How an agent step starts when an attempt of it was interrupted (SPEC 18).

An agent step runs again after loopd was killed, its host died or the run was paused. The
interrupted attempt's agent, should it have outlived loopd, is stopped first, and the git
locks its killed git commands left in the worktree are removed (:mod:`vcs.stale_locks`).
Then:

- **resume**: the interrupted attempt recorded its CLI's session (``store.sessions``), the
  agent is the same and its adapter resumes sessions: this attempt continues that session
  with :data:`RESUME_PROMPT`, in the worktree as the agent left it (its uncommitted edits
  are its work in progress). It is the step's next attempt, a step row of its own whose
  ``STEP_STARTED`` carries ``resumed_session``; the interrupted row, still IN_PROGRESS when
  loopd died under it, is closed CANCELED. What the interrupted part did and cost is not
  done or paid again;
- **start over** (no session, another agent, an agent without resume): the worktree's
  uncommitted edits are set aside (``refs/agentloop/wip/<run>-<step>``) and the agent
  starts afresh on a clean worktree, with the step's own prompt.

A resume the CLI cannot carry out (the session is unknown: another host, its files gone)
fails at once (:attr:`Failure.RESUME_FAILED`); the attempt then starts over at once, as
recorded by an ``AGENT_RETRY`` whose reason starts with ``resume_failed:``.

Everything decided here is read from, and written to, the store before the agent starts:
a step run again after another crash decides again from what the last attempt recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

from agentloop.agents import AgentRequest, AgentResult, AgentSink, Failure
from agentloop.agents.process import kill_stale_group
from agentloop.agents.registry import resumes_sessions
from agentloop.core.models import Step
from agentloop.core.prompts import with_user_notes
from agentloop.core.types import EventType, Phase, StepStatus
from agentloop.engine.context import RunContext
from agentloop.engine.recorder import Recorder, StepHandle
from agentloop.store.sessions import Sessions
from agentloop.vcs.git import Git
from agentloop.vcs.stale_locks import remove_stale_locks
from agentloop.vcs.wip import save_uncommitted

__all__ = [
    "RESUME_PROMPT",
    "Attempt",
    "Start",
    "begin_attempt",
    "resuming",
    "run_resuming",
    "start_over",
]

RESUME_PROMPT = (
    "You were interrupted; continue the task from where you stopped, then answer as instructed."
)
_INTERRUPTED = (StepStatus.IN_PROGRESS, StepStatus.CANCELED)
_log = logging.getLogger("agentloop.engine")


@dataclass(frozen=True)
class Start:
    """How this attempt of an agent step starts: its number, and the session it resumes
    (None: it starts afresh)."""

    attempt: int = 1
    session: str | None = None


def begin_attempt(
    ctx: RunContext, phase: Phase, iteration: int, worktree: Path, agent: str
) -> Start:
    """Decide how the step starts (module docstring), after stopping what an interrupted
    attempt left running; a first attempt starts afresh."""
    if ctx.runtime.interrupts.is_clean(ctx.run_id):
        return Start()
    attempts = ctx.store.steps_of(ctx.run_id, phase, iteration, tuple(StepStatus))
    interrupted = [step for step in attempts if step.status in _INTERRUPTED]
    if not interrupted:
        return Start()
    _stop_leftovers(ctx, interrupted)
    _remove_stale_locks(ctx, worktree)
    # Only the attempts since the last one that ended: an older session had its answer.
    since_ended = list(takewhile(lambda step: step.status in _INTERRUPTED, reversed(attempts)))
    session = None
    if since_ended and resumes_sessions(agent):
        session = Sessions(ctx.store).latest(ctx.run_id, [step.id for step in since_ended[::-1]])
    last = interrupted[-1]
    if session is None or session.agent != agent:
        start_over(ctx, worktree, last.id)
        return Start()
    if last.status is StepStatus.IN_PROGRESS:  # loopd died under it: it ends here
        ctx.store.cancel_open_steps(ctx.run_id, message="interrupted: loopd stopped")
    return Start(last.attempt + 1, session.session_id)


def resuming(request: AgentRequest, start: Start, notes: str) -> AgentRequest:
    """``request`` as the attempt ``start`` runs it: when it resumes a session, with the
    short prompt (and the user's ``notes`` block, if any) instead of the step's own."""
    if start.session is None:
        return request
    prompt = with_user_notes(RESUME_PROMPT, notes) if notes else RESUME_PROMPT
    return dataclasses.replace(request, prompt=prompt, resume_session=start.session)


def start_over(ctx: RunContext, worktree: Path, step_id: str) -> None:
    """Set the worktree's uncommitted edits aside (saved under
    ``refs/agentloop/wip/<run>-<step>``, nothing is lost) so the agent starts clean. Edits
    left by a step that finished are kept: the next iteration may commit them."""
    save_uncommitted(worktree, f"{ctx.run_id}-{step_id}")
    git = Git(worktree)
    git.run("reset", "--hard", "--quiet", "HEAD", check=False)
    git.run("clean", "-fd", "--quiet", check=False)


@dataclass(frozen=True)
class Attempt:
    """What running one attempt of an agent step needs: ``run`` runs the agent (with the
    retry policy) on a request, ``worktree`` is where it works."""

    ctx: RunContext
    recorder: Recorder
    handle: StepHandle
    sink: AgentSink
    worktree: Path
    run: Callable[[AgentRequest], AgentResult]


def run_resuming(attempt: Attempt, request: AgentRequest, fresh_prompt: str) -> AgentResult:
    """Run ``request``; when it could not resume its session, record so (``AGENT_RETRY``
    ``resume_failed: <the CLI's words>``), clean the worktree and start over at once with
    ``fresh_prompt``, the step's own prompt."""
    result = attempt.run(request)
    if result.failure is not Failure.RESUME_FAILED:
        return result
    handle = attempt.handle
    attempt.recorder.event(
        EventType.AGENT_RETRY,
        f"resume_failed:{handle.phase.value}:{handle.iteration}:{handle.attempt}",
        of_step=handle.step_id,
        attempt=2,
        reason=f"resume_failed: {result.message}",
        backoff_ms=0,
        session=request.resume_session,
    )
    attempt.sink.output(
        f"[agentloop] could not resume the session, starting over: {result.message}"
    )
    start_over(attempt.ctx, attempt.worktree, handle.step_id)
    return attempt.run(dataclasses.replace(request, prompt=fresh_prompt, resume_session=None))


def _remove_stale_locks(ctx: RunContext, worktree: Path) -> None:
    """No process of the run is left: a git lock in its worktree is one a killed git left."""
    for lock in remove_stale_locks(worktree, older_than=time.time()):
        _log.warning("run %s: removed %s, left by an interrupted step's git", ctx.run_id, lock)


def _stop_leftovers(ctx: RunContext, interrupted: list[Step]) -> None:
    """Kill the process groups of interrupted attempts that outlived the daemon."""
    for step in interrupted:
        leftover = ctx.store.step_process(step.id)
        if leftover is not None and leftover.pgid:
            kill_stale_group(
                int(leftover.pgid), float(leftover.proc_start_time or 0), owner=ctx.run_id
            )
