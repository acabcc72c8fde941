"""The engine's retry policy for agent steps (SPEC 4): pure, with sleep and clock injected.

- transient failures (overloaded, 5xx, throttled, connection reset) are retried with
  exponential backoff even when ``retries`` is 0, up to ``transient_max`` (5) times;
- crash and timeout consume ``retries`` (``agent_retries``), with the same backoff;
- permanent, usage_limit and cancelled are never retried here: they end the step at once
  (the engine fails, pauses, or stops the run).

Backoff: ``backoff_sec * 2**(k-1)`` before the k-th retry of a kind, capped at
``max_backoff_sec``. Cancellation (``request.cancel`` or :func:`kill_owner` of the run) is
checked before each retry and interrupts the backoff.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

from agentloop.agents.base import Agent, AgentRequest, AgentResult, AgentSink, Failure
from agentloop.agents.process import watch_owner

__all__ = ["RetryPolicy", "run_with_retries"]

Sleep = Callable[[float], object]  # may return False: interrupted (treated as cancelled)
OnRetry = Callable[[int, str, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0
    backoff_sec: float = 5.0
    transient_max: int = 5
    max_backoff_sec: float = 300.0

    def backoff(self, nth: int) -> float:
        """Seconds to wait before the ``nth`` (1-based) retry of one kind."""
        return float(min(self.backoff_sec * 2 ** max(nth - 1, 0), self.max_backoff_sec))

    def allows(self, failure: Failure | None, transient_used: int, other_used: int) -> bool:
        if failure is Failure.TRANSIENT:
            return transient_used < self.transient_max
        if failure in (Failure.CRASH, Failure.TIMEOUT):
            return other_used < self.retries
        return False


def run_with_retries(
    agent: Agent,
    request: AgentRequest,
    sink: AgentSink,
    policy: RetryPolicy,
    *,
    sleep: Sleep | None = None,
    on_retry: OnRetry | None = None,
) -> AgentResult:
    """Run ``agent`` until it succeeds or ``policy`` says stop; return the last result.

    ``on_retry(attempt, reason, backoff_ms)`` is called before each retry (``attempt`` is
    the number of the attempt about to start: 2, 3, ...) so the engine can emit
    ``AGENT_RETRY``. ``sleep(seconds)`` waits out the backoff (the default waits on the
    cancellation events); returning False means it was interrupted. A cancellation during
    the backoff returns the last result marked ``cancelled``."""
    transient_used = other_used = 0
    attempt = 1
    with watch_owner(request.run_id or None) as killed:
        events = [e for e in (request.cancel, killed) if e is not None]
        wait = sleep or (lambda seconds: _wait_any(events, seconds))
        while True:
            result = agent.run(request, sink)
            if not policy.allows(result.failure, transient_used, other_used):
                return result
            if any(e.is_set() for e in events):
                return _cancelled(result)
            if result.failure is Failure.TRANSIENT:
                transient_used += 1
                delay = policy.backoff(transient_used)
            else:
                other_used += 1
                delay = policy.backoff(other_used)
            attempt += 1
            if on_retry is not None:
                on_retry(attempt, f"{result.failure}: {result.message}".rstrip(": "), delay * 1000)
            if wait(delay) is False or any(e.is_set() for e in events):
                return _cancelled(result)


def _wait_any(events: list[threading.Event], seconds: float) -> None:
    if not events:
        threading.Event().wait(seconds)
        return
    step = 0.05 if len(events) > 1 else seconds
    remaining = seconds
    while remaining > 0 and not any(e.is_set() for e in events):
        events[0].wait(min(step, remaining))
        remaining -= step


def _cancelled(result: AgentResult) -> AgentResult:
    return dataclasses.replace(
        result, failure=Failure.CANCELLED, is_error=True, message="cancelled during retry backoff"
    )
