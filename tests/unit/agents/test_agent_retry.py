"""run_with_retries: which failures retry, how often, with what backoff; cancellation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pytest

from agentloop.agents.base import (
    AgentRequest,
    AgentResult,
    AgentSink,
    Failure,
    FunctionAgent,
    NullSink,
)
from agentloop.agents.process import kill_owner
from agentloop.agents.retry import RetryPolicy, run_with_retries

OK = AgentResult(final_text="done")


def failing(failure: Failure, message: str = "boom") -> AgentResult:
    return AgentResult(exit_code=1, is_error=True, failure=failure, message=message)


class Scripted:
    """An agent that returns the given results in order (the last one forever)."""

    def __init__(self, results: Iterable[AgentResult]) -> None:
        self.results = list(results)
        self.calls = 0

    def __call__(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        self.calls += 1
        return self.results[min(self.calls, len(self.results)) - 1]


def run(results: list[AgentResult], policy: RetryPolicy, **kw: object) -> tuple:
    script = Scripted(results)
    sleeps: list[float] = []
    retries: list[tuple[int, str, float]] = []
    request = kw.pop("request", AgentRequest(prompt="p"))
    result = run_with_retries(
        FunctionAgent(script),
        request,  # type: ignore[arg-type]
        NullSink(),
        policy,
        sleep=kw.pop("sleep", sleeps.append),  # type: ignore[arg-type]
        on_retry=lambda *args: retries.append(args),
    )
    return result, script.calls, sleeps, retries


def test_transient_is_retried_five_times_even_with_zero_retries() -> None:
    results = [failing(Failure.TRANSIENT, "API Error: 529")] * 5 + [OK]
    result, calls, sleeps, retries = run(results, RetryPolicy(retries=0, backoff_sec=5))
    assert result == OK and calls == 6
    assert sleeps == [5, 10, 20, 40, 80]  # doubling
    assert [attempt for attempt, _, _ in retries] == [2, 3, 4, 5, 6]
    assert retries[0] == (2, "transient: API Error: 529", 5000.0)


def test_transient_gives_up_after_five_retries() -> None:
    result, calls, sleeps, _ = run([failing(Failure.TRANSIENT)], RetryPolicy(retries=3))
    assert result.failure == Failure.TRANSIENT and calls == 6 and len(sleeps) == 5


@pytest.mark.parametrize("failure", [Failure.CRASH, Failure.TIMEOUT])
def test_crash_and_timeout_consume_agent_retries(failure: Failure) -> None:
    result, calls, sleeps, _ = run([failing(failure)], RetryPolicy(retries=0))
    assert result.failure == failure and calls == 1 and sleeps == []
    result, calls, sleeps, _ = run([failing(failure)], RetryPolicy(retries=2, backoff_sec=1))
    assert calls == 3 and sleeps == [1, 2]


@pytest.mark.parametrize("failure", [Failure.PERMANENT, Failure.USAGE_LIMIT, Failure.CANCELLED])
def test_never_retried(failure: Failure) -> None:
    result, calls, sleeps, _ = run([failing(failure), OK], RetryPolicy(retries=5))
    assert result.failure == failure and calls == 1 and sleeps == []


def test_kinds_are_counted_separately() -> None:
    results = [
        failing(Failure.TRANSIENT),
        failing(Failure.CRASH),
        failing(Failure.TRANSIENT),
        OK,
    ]
    result, calls, sleeps, _ = run(results, RetryPolicy(retries=1, backoff_sec=2))
    assert result == OK and calls == 4
    assert sleeps == [2, 2, 4]  # transient #1, crash #1, transient #2


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(backoff_sec=100, max_backoff_sec=250)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [100, 200, 250, 250]


def test_cancel_during_backoff_stops_retrying() -> None:
    cancel = threading.Event()
    request = AgentRequest(prompt="p", cancel=cancel)
    result, calls, _, _ = run(
        [failing(Failure.TRANSIENT)],
        RetryPolicy(),
        request=request,
        sleep=lambda _seconds: cancel.set(),
    )
    assert result.failure == Failure.CANCELLED and calls == 1


def test_default_sleep_is_interrupted_by_kill_owner() -> None:
    request = AgentRequest(prompt="p", run_id="run-retry")
    threading.Timer(0.1, kill_owner, args=("run-retry",)).start()
    start = time.monotonic()
    result = run_with_retries(
        FunctionAgent(lambda r, s: failing(Failure.TRANSIENT)), request, NullSink(),
        RetryPolicy(backoff_sec=30),
    )  # fmt: skip
    assert result.failure == Failure.CANCELLED and time.monotonic() - start < 2


def test_default_sleep_waits_the_backoff() -> None:
    script = Scripted([failing(Failure.CRASH), OK])
    start = time.monotonic()
    result = run_with_retries(
        FunctionAgent(script), AgentRequest(prompt="p"), NullSink(),
        RetryPolicy(retries=1, backoff_sec=0.2),
    )  # fmt: skip
    assert result == OK and time.monotonic() - start >= 0.2


def test_a_sleep_that_reports_interruption_cancels() -> None:
    result, calls, _, _ = run([failing(Failure.TRANSIENT)], RetryPolicy(), sleep=lambda _s: False)
    assert result.failure == Failure.CANCELLED and calls == 1
    result, calls, _, _ = run(
        [failing(Failure.TRANSIENT), OK], RetryPolicy(), sleep=lambda _s: True
    )
    assert result == OK and calls == 2
