"""The package face, the seam's types, sinks, and the agent registry."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import agentloop.agents as agents
from agentloop.agents.base import (
    AgentRequest,
    AgentResult,
    Failure,
    FileSink,
    FunctionAgent,
    MemorySink,
)
from agentloop.agents.claude import ClaudeAgent
from agentloop.agents.codex import CodexAgent
from agentloop.agents.command import CommandAgent
from agentloop.agents.gemini import GeminiAgent
from agentloop.agents.opencode import OpencodeAgent
from agentloop.agents.registry import get_agent
from agentloop.agents.scripted import ScriptedAgent
from agentloop.core.errors import (
    AgentError,
    AgentPermanentError,
    AgentTimeout,
    AgentTransientError,
    ConfigError,
    UsageLimitReached,
)
from agentloop.core.types import AgentName


def test_public_face_is_pinned() -> None:
    assert sorted(agents.__all__) == sorted([
        "TIMEOUT_EXIT_CODE", "USAGE_LIMIT_WAIT_SEC", "Agent", "AgentRequest", "AgentResult",
        "AgentSink", "Failure", "FileSink", "FunctionAgent", "MemorySink", "NullSink",
        "ProcessHandle", "ProcessResult", "RetryNotice", "RetryPolicy", "get_agent",
        "kill_all", "kill_owner", "kill_stale_group", "live_groups", "parse_reset_time",
        "process_start_time", "resume_time", "run_command", "run_process",
        "run_with_retries", "watch_owner",
    ])  # fmt: skip
    for name in agents.__all__:
        assert getattr(agents, name) is not None


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        (AgentName.CLAUDE, ClaudeAgent),
        (AgentName.CODEX, CodexAgent),
        (AgentName.GEMINI, GeminiAgent),
        (AgentName.OPENCODE, OpencodeAgent),
        (AgentName.COMMAND, CommandAgent),
        (AgentName.SCRIPTED, ScriptedAgent),
    ],
)
def test_get_agent_by_name(name: AgentName, cls: type) -> None:
    agent = get_agent(name.value)
    assert isinstance(agent, cls) and agent.name == name.value
    assert isinstance(agent, agents.Agent)


def test_get_agent_overrides_and_unknown_names() -> None:
    claude = get_agent("claude", bin_overrides={"claude": "/opt/claude"})
    assert isinstance(claude, ClaudeAgent) and claude.binary == "/opt/claude"
    with pytest.raises(ConfigError, match="agent"):
        get_agent("gpt-9")


def test_result_is_small_plain_picklable_data() -> None:
    result = AgentResult(
        exit_code=0, final_text="x", failure=Failure.USAGE_LIMIT, resume_at=1.5, agent="claude"
    )
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.failure == "usage_limit" and not result.ok
    assert AgentResult().ok


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Failure.PERMANENT, AgentPermanentError),
        (Failure.TRANSIENT, AgentTransientError),
        (Failure.TIMEOUT, AgentTimeout),
        (Failure.USAGE_LIMIT, UsageLimitReached),
        (Failure.CRASH, AgentError),
        (Failure.CANCELLED, AgentError),
    ],
)
def test_to_error(failure: Failure, error: type) -> None:
    exc = AgentResult(failure=failure, message="why", resume_at=9.0, agent="codex").to_error()
    assert type(exc) is error and exc.message == "why"
    assert pickle.loads(pickle.dumps(exc)).message == "why"
    if failure is Failure.USAGE_LIMIT:
        assert exc.resume_at == 9.0 and exc.agent == "codex"
    assert AgentResult().to_error() is None


def test_file_sink_appends_and_flushes_each_line(tmp_path: Path) -> None:
    log, events = tmp_path / "run" / "iter-01.log", tmp_path / "run" / "iter-01.events.jsonl"
    with FileSink(log, events) as sink:
        sink.output("first")
        assert log.read_text() == "first\n"  # readable at once
        sink.raw_event('{"type": "x"}')
        sink.output("second ü")
        sink.retry(1, 10, "unknown", 5.0)
        sink.started(1, 1, 0.0)
    assert log.read_text(encoding="utf-8") == (
        "first\nsecond ü\n[retry] agent retrying the API, attempt 1/10: unknown\n"
    )
    assert events.read_text() == '{"type": "x"}\n'
    with FileSink(log) as again:
        again.output("third")
        again.raw_event("ignored without an events path")
    assert log.read_text(encoding="utf-8").endswith("third\n")


def test_function_agent_from_a_plain_function() -> None:
    sink = MemorySink()
    agent = FunctionAgent(lambda request, sink: f"echo: {request.prompt}\nsecond")
    result = agent.run(AgentRequest(prompt="hi"), sink)
    assert result.final_text == "echo: hi\nsecond" and result.ok and result.output_lines == 2
    assert sink.lines == ["echo: hi", "second"]
    custom = AgentResult(failure=Failure.CRASH)
    assert FunctionAgent(lambda r, s: custom, name="x").run(AgentRequest(prompt=""), sink) is custom


def test_request_defaults() -> None:
    request = AgentRequest(prompt="p")
    assert request.timeout_sec == 0 and request.iteration == 1 and not request.cancelled
    assert "PATH" in request.env
