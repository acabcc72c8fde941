"""What the CLI adapters share: running the binary, and turning what it said into a result.

An adapter supplies a :class:`Transcript` subclass that reads the CLI's stdout/stderr lines
(its protocol) and notes what they mean: the answer, usage, and any failure it reported.
:meth:`Transcript.result` then applies one precedence for every adapter:

    cancelled > resume_failed > usage_limit > permanent > timeout > transient > crash > success

(what the agent said about its account or credentials outranks the timeout that may follow
it; a transient error only counts when the CLI gave up on it). A CLI asked to resume a
session that ended without having opened it (:meth:`Transcript.note_session` never called)
did not find the session: ``resume_failed``, so the engine starts the step over.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from agentloop.agents._jsonl import parse_line
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink, Failure
from agentloop.agents.process import ProcessResult, run_process


class CountingSink:
    """Passes everything on to ``sink`` and counts the output lines."""

    def __init__(self, sink: AgentSink) -> None:
        self.sink = sink
        self.count = 0

    def output(self, line: str) -> None:
        self.count += 1
        self.sink.output(line)

    def raw_event(self, line: str) -> None:
        self.sink.raw_event(line)

    def retry(
        self, attempt: int, max_retries: int | None, reason: str, delay_ms: float | None
    ) -> None:
        self.sink.retry(attempt, max_retries, reason, delay_ms)

    def started(self, pid: int, pgid: int, start_time: float) -> None:
        self.sink.started(pid, pgid, start_time)

    def session(self, session_id: str) -> None:
        self.sink.session(session_id)


class Transcript:
    """The protocol-level facts of one CLI run; subclasses parse their CLI's lines."""

    agent = "agent"

    def __init__(self, sink: AgentSink) -> None:
        self.sink = CountingSink(sink)
        self.final_text = ""
        self.session_id: str | None = None
        self.session_opened = False  # the CLI said it opened (or resumed) its session
        self.turns: int | None = None
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd: float | None = None
        self.is_error = False
        self.completed = False  # the CLI reported a final result
        self.limit_hit = False
        self.limit_message = ""
        self.resume_at: float | None = None
        self.permanent: str | None = None
        self.transient: str | None = None
        self.error: str | None = None
        self.stderr_tail: deque[str] = deque(maxlen=50)
        self.gave_up = threading.Event()  # set: stop the CLI, self.permanent says why

    # -- reading: JSON lines go to event(), other lines to plain()

    def on_stdout(self, line: str) -> None:
        objects = parse_line(line)
        if objects is None:
            line = plain_text(line)
            if line.strip():
                self.plain(line)
            return
        if len(objects) == 1:
            self.sink.raw_event(line.strip())
        else:  # re-synchronised: one clean line per recovered object
            for obj in objects:
                self.sink.raw_event(json.dumps(obj, ensure_ascii=False))
        for obj in objects:
            self.event(obj)

    def event(self, event: dict[str, Any]) -> None:
        """Hook: one protocol event."""

    def plain(self, line: str) -> None:
        """Hook: a stdout line that is not JSON (output as it is)."""
        self.sink.output(line)

    def on_stderr(self, line: str) -> None:
        line = plain_text(line)
        self.stderr_tail.append(line)
        self.sink.output(line)

    def note_limit(self, message: str, resume_at: float | None = None) -> None:
        self.limit_hit = True
        if message and not self.limit_message:
            self.limit_message = message
        if resume_at is not None and self.resume_at is None:
            self.resume_at = resume_at

    def note_session(self, session_id: str) -> None:
        """The CLI opened its session ``session_id`` (its first protocol event says so):
        reported to the sink at once, as a step interrupted later resumes it."""
        if self.session_opened and session_id == self.session_id:
            return
        self.session_opened = True
        self.session_id = session_id
        self.sink.session(session_id)

    def note_permanent(self, message: str) -> None:
        if self.permanent is None:
            self.permanent = message

    def give_up(self, message: str) -> None:
        """End the run now as a permanent failure: the CLI keeps retrying what cannot
        succeed (and would only stop at the step's timeout)."""
        self.note_permanent(message)
        self.gave_up.set()

    def output_text(self, text: str) -> None:
        for line in text.splitlines():
            self.sink.output(line)

    # -- the end

    def finish(self, proc: ProcessResult) -> None:
        """Hook: last conclusions once the process has ended (exit code, stderr)."""

    def result(self, proc: ProcessResult, request: AgentRequest) -> AgentResult:
        failure, message = self._failure(proc, request)
        return AgentResult(
            exit_code=proc.exit_code,
            final_text=self.final_text,
            session_id=self.session_id,
            turns=self.turns,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
            is_error=self.is_error or failure is not None,
            failure=failure,
            message=message,
            resume_at=self.resume_at if failure is Failure.USAGE_LIMIT else None,
            duration_ms=proc.duration_ms,
            output_lines=self.sink.count,
            agent=self.agent,
        )

    def _failure(self, proc: ProcessResult, request: AgentRequest) -> tuple[Failure | None, str]:
        if proc.cancelled and not self.gave_up.is_set():
            return Failure.CANCELLED, "cancelled"
        if request.resume_session and not self.session_opened and not proc.timed_out:
            return Failure.RESUME_FAILED, self._resume_message(proc, request.resume_session)
        if self.limit_hit:
            return Failure.USAGE_LIMIT, self.limit_message or f"{self.agent}: usage limit reached"
        if self.permanent is not None:
            return Failure.PERMANENT, self.permanent
        if proc.timed_out:
            return Failure.TIMEOUT, f"{self.agent} timed out after {request.timeout_sec:g}s"
        if self.transient is not None:
            return Failure.TRANSIENT, self.transient
        if self.is_error or proc.exit_code != 0 or not self.completed:
            return Failure.CRASH, self._crash_message(proc)
        return None, ""

    def _resume_message(self, proc: ProcessResult, session_id: str) -> str:
        """Why the CLI did not resume ``session_id``: its own words naming the session ("No
        conversation found with session ID: <id>"), else saying what was not found
        ("Session not found")."""
        lines = [line.strip() for line in (self.error or "", *self.stderr_tail)]
        said = next((line for line in lines if session_id in line), "") or next(
            (line for line in lines if _NOT_FOUND.search(line)), ""
        )
        return said or f"session {session_id}: {self._crash_message(proc)}"

    def _crash_message(self, proc: ProcessResult) -> str:
        if self.error:
            return self.error
        last = next((line for line in reversed(self.stderr_tail) if line.strip()), "")
        state = "without a result" if not self.completed else "with an error"
        text = f"{self.agent} exited with status {proc.exit_code} {state}"
        return f"{text}: {last.strip()}" if last else text


# CSI (colours, cursor moves), OSC (titles, links), other escapes, C0 controls but the tab
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0a-\x1f\x7f]"
)


_NOT_FOUND = re.compile(r"not found|no \w+ found|invalid|unknown", re.I)


def plain_text(line: str) -> str:
    """``line`` without terminal escape sequences and control characters: CLIs colour what
    they print even into a pipe (opencode 1.18: ``\\x1b[91m\\x1b[1mError: \\x1b[0m...`` on
    stderr), and the log and the live output are plain text."""
    return _CONTROL.sub("", line)


def resolve_bin(request: AgentRequest, name: str, configured: str | None) -> str:
    """The binary: ``extra['bin']``, else the adapter's configured one, else
    ``AGENTLOOP_<NAME>_BIN`` (child env, then ours), else ``name`` looked up on PATH."""
    var = f"AGENTLOOP_{name.upper()}_BIN"
    return (
        request.extra.get("bin")
        or configured
        or request.env.get(var)
        or os.environ.get(var)
        or name
    )


def child_env(request: AgentRequest) -> dict[str, str]:
    """The request's environment with ``PWD`` set to the step's directory: CLIs such as
    opencode take their working directory from ``$PWD``, not from the process's cwd, and
    would otherwise work in loopd's directory instead of the worktree."""
    env = dict(request.env)
    env["PWD"] = os.fspath(request.cwd)
    return env


def run_cli(
    transcript: Transcript,
    argv: Sequence[str],
    request: AgentRequest,
    *,
    stdin_text: str | None,
) -> AgentResult:
    """Run one CLI invocation under supervision, feeding its lines to ``transcript``."""
    sink = transcript.sink
    proc = run_process(
        argv,
        cwd=request.cwd,
        env=child_env(request),
        stdin_text=stdin_text,
        timeout_sec=request.timeout_sec,
        on_line=transcript.on_stdout,
        on_stderr_line=transcript.on_stderr,
        merge_stderr=False,
        owner=request.run_id or None,
        cancel=request.cancel,
        give_up=transcript.gave_up,
        on_start=lambda h: sink.started(h.pid, h.pgid, h.start_time),
    )
    transcript.finish(proc)
    return transcript.result(proc, request)


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (protocol fields vary)."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_float(value: object) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_int(value: object) -> int | None:
    """``value`` as an int when it is a finite JSON number (not a bool), else None."""
    number = as_float(value)
    return int(number) if number is not None else None


def as_count(value: object) -> int:
    """A token count: ``value`` as an int, 0 when it is missing or not a number."""
    return as_int(value) or 0
