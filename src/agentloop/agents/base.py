"""The seam between the engine and agents: a request in, a result out, output to a sink.

An :class:`Agent` turns an :class:`AgentRequest` into an :class:`AgentResult`. It never
raises for the agent's own failures (not logged in, usage limit, crash, timeout): it
classifies them into :attr:`AgentResult.failure`. Raising is for our bugs and for binaries
that cannot be started (:class:`~agentloop.core.errors.ProcessError`).

While it runs, the agent reports to an :class:`AgentSink`: human-readable output lines (the
engine writes ``iter-NN.log`` and publishes them live), raw protocol lines (for
``iter-NN.events.jsonl``), the CLI's own internal retries, the process it started (so
the engine can record the process group and find it again after a restart), and the CLI's
own session id (so an interrupted step can resume that session, SPEC 18).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from agentloop.core.errors import (
    AgentError,
    AgentPermanentError,
    AgentTimeout,
    AgentTransientError,
    UsageLimitReached,
)
from agentloop.core.types import Phase

__all__ = [
    "Agent",
    "AgentRequest",
    "AgentResult",
    "AgentSink",
    "Failure",
    "FileSink",
    "FunctionAgent",
    "MemorySink",
    "NullSink",
    "RetryNotice",
]


class Failure(StrEnum):
    """Why an agent step did not produce an answer; compares equal to its string."""

    PERMANENT = "permanent"  # not logged in, invalid model, permission refusal: fail the run
    TRANSIENT = "transient"  # overloaded, 5xx, throttled, connection reset: retry with backoff
    USAGE_LIMIT = "usage_limit"  # the account's quota: pause until resume_at
    TIMEOUT = "timeout"  # ran past its timeout, group killed, exit code 124
    CRASH = "crash"  # exited without a result (or with an unexplained error)
    CANCELLED = "cancelled"  # stopped by pause/cancel
    RESUME_FAILED = "resume_failed"  # the session to resume was not found: start over


@dataclass(frozen=True)
class AgentRequest:
    """One agent invocation. ``env`` is the child's whole environment (the engine builds
    it); ``timeout_sec`` 0 means none; ``run_id`` is the owner key under which the process
    group is registered for :func:`~agentloop.agents.process.kill_owner`; ``extra`` holds
    adapter options (``bin``, ``agent_cmd``, ``permission_mode``). ``resume_session``: the
    CLI session to continue (``prompt`` is then the next user message in it); when the CLI
    cannot find it, the result fails with :attr:`Failure.RESUME_FAILED`."""

    prompt: str
    model: str = ""
    cwd: Path = field(default_factory=Path.cwd)
    timeout_sec: float = 0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    run_id: str = ""
    phase: Phase = Phase.IMPLEMENTATION
    iteration: int = 1
    cancel: threading.Event | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    resume_session: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


@dataclass(frozen=True)
class AgentResult:
    """How an agent step ended: small plain data (DBOS pickles step outputs).

    ``final_text`` is the answer the completion gate reads. ``tokens_in`` counts every input
    token the model read, cache reads and writes included (see each adapter). ``resume_at``
    (epoch seconds) is set for usage limits when the agent said when the limit resets."""

    exit_code: int = 0
    final_text: str = ""
    session_id: str | None = None
    turns: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    is_error: bool = False
    failure: Failure | None = None
    message: str = ""
    resume_at: float | None = None
    duration_ms: int = 0
    output_lines: int = 0
    agent: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_error(self) -> AgentError | None:
        """The matching exception from ``core.errors`` (None when there was no failure)."""
        reason = self.message or f"agent {self.agent or '?'} failed ({self.failure})"
        match self.failure:
            case None:
                return None
            case Failure.PERMANENT:
                return AgentPermanentError(reason, agent=self.agent)
            case Failure.TRANSIENT:
                return AgentTransientError(reason, agent=self.agent)
            case Failure.USAGE_LIMIT:
                return UsageLimitReached(reason, self.agent, self.resume_at)
            case Failure.TIMEOUT:
                return AgentTimeout(reason, agent=self.agent)
            case _:
                return AgentError(reason, agent=self.agent, failure=str(self.failure))


@runtime_checkable
class AgentSink(Protocol):
    """Where an agent reports while it runs. Called from the agent's thread."""

    def output(self, line: str) -> None:
        """A line of human-readable output."""

    def raw_event(self, line: str) -> None:
        """A raw protocol line (one JSON object)."""

    def retry(
        self, attempt: int, max_retries: int | None, reason: str, delay_ms: float | None
    ) -> None:
        """The CLI is retrying the API internally (e.g. claude ``system/api_retry``)."""

    def started(self, pid: int, pgid: int, start_time: float) -> None:
        """The agent process started (start_time: epoch seconds from /proc)."""

    def session(self, session_id: str) -> None:
        """The CLI opened (or resumed) its session ``session_id``."""


@runtime_checkable
class Agent(Protocol):
    """An agent adapter: ``name`` plus ``run``; see the module docstring for the contract."""

    name: str

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult: ...


class NullSink:
    """Discards everything."""

    def output(self, line: str) -> None:
        pass

    def raw_event(self, line: str) -> None:
        pass

    def retry(
        self, attempt: int, max_retries: int | None, reason: str, delay_ms: float | None
    ) -> None:
        pass

    def started(self, pid: int, pgid: int, start_time: float) -> None:
        pass

    def session(self, session_id: str) -> None:
        pass


@dataclass(frozen=True)
class RetryNotice:
    attempt: int
    max_retries: int | None
    reason: str
    delay_ms: float | None


class MemorySink:
    """Keeps everything in lists: for tests and for callers that want the transcript."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[str] = []
        self.retries: list[RetryNotice] = []
        self.processes: list[tuple[int, int, float]] = []
        self.sessions: list[str] = []

    def output(self, line: str) -> None:
        self.lines.append(line)

    def raw_event(self, line: str) -> None:
        self.events.append(line)

    def retry(
        self, attempt: int, max_retries: int | None, reason: str, delay_ms: float | None
    ) -> None:
        self.retries.append(RetryNotice(attempt, max_retries, reason, delay_ms))

    def started(self, pid: int, pgid: int, start_time: float) -> None:
        self.processes.append((pid, pgid, start_time))

    def session(self, session_id: str) -> None:
        self.sessions.append(session_id)


class FileSink:
    """Appends output lines to ``log_path`` and raw events to ``events_path`` (if given),
    flushing each line so a reader tailing the file sees it at once; CLI retries become a
    log line. Files open lazily."""

    def __init__(
        self, log_path: str | os.PathLike[str], events_path: str | os.PathLike[str] | None = None
    ) -> None:
        self.log_path = Path(log_path)
        self.events_path = Path(events_path) if events_path is not None else None
        self._log: IO[str] | None = None
        self._events: IO[str] | None = None

    def output(self, line: str) -> None:
        if self._log is None:
            self._log = _open_append(self.log_path)
        self._log.write(line + "\n")
        self._log.flush()

    def raw_event(self, line: str) -> None:
        if self.events_path is None:
            return
        if self._events is None:
            self._events = _open_append(self.events_path)
        self._events.write(line + "\n")
        self._events.flush()

    def retry(
        self, attempt: int, max_retries: int | None, reason: str, delay_ms: float | None
    ) -> None:
        total = max_retries or "?"
        self.output(f"[retry] agent retrying the API, attempt {attempt}/{total}: {reason}")

    def started(self, pid: int, pgid: int, start_time: float) -> None:
        pass

    def session(self, session_id: str) -> None:
        pass

    def close(self) -> None:
        for handle in (self._log, self._events):
            if handle is not None:
                handle.close()
        self._log = self._events = None

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_append(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a", encoding="utf-8", errors="replace")


AgentFunction = Callable[[AgentRequest, AgentSink], "AgentResult | str"]


class FunctionAgent:
    """An agent made of a plain function ``fn(request, sink)``, for tests. The function
    returns an :class:`AgentResult`, or a string taken as the final text of a success (its
    lines are also written to the sink)."""

    def __init__(self, fn: AgentFunction, name: str = "function") -> None:
        self.fn = fn
        self.name = name

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        answer = self.fn(request, sink)
        if isinstance(answer, AgentResult):
            return answer
        lines = answer.splitlines()
        for line in lines:
            sink.output(line)
        return AgentResult(final_text=answer, output_lines=len(lines), agent=self.name)
