"""One call of the scripted agent: its output lines, its sleeps (cut short by a cancel, the
owner's death or the timeout), and the :class:`AgentResult` it ends with."""

from __future__ import annotations

import json
import math
import threading
import time

from agentloop.agents.base import AgentRequest, AgentResult, AgentSink, Failure

__all__ = ["Call"]


class Call:
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
