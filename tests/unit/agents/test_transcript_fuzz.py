"""Bad agent output never breaks an adapter: any JSON shape, any garbage line, gives a
result (SPEC 17: bad input gets a clear outcome, the daemon never crashes on it)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agentloop.agents._cli import Transcript
from agentloop.agents.base import AgentRequest, AgentResult, MemorySink
from agentloop.agents.claude import ClaudeTranscript
from agentloop.agents.codex import CodexTranscript
from agentloop.agents.gemini import GeminiTranscript
from agentloop.agents.opencode import OpencodeTranscript
from agentloop.agents.process import ProcessResult

TYPES = [
    "system", "assistant", "user", "result", "rate_limit_event", "stream_event",
    "thread.started", "turn.started", "turn.completed", "turn.failed", "item.started",
    "item.completed", "error", "init", "message", "tool_use", "tool_result", "step_start",
    "text", "step_finish",
]  # fmt: skip
KEYS = [
    "subtype", "message", "content", "error", "result", "is_error", "usage", "event",
    "rate_limit_info", "item", "part", "stats", "status", "delta", "role", "attempt",
    "api_error_status", "session_id", "thread_id", "sessionID", "num_turns", "text",
    "total_cost_usd", "tokens", "type", "content_block", "resetsAt", "input",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "max_retries",
    "retry_delay_ms", "error_status", "id", "name", "changes", "cost", "reason", "cache",
]  # fmt: skip
WORDS = [
    "api_retry", "init", "rate_limit", "rejected", "text", "text_delta", "agent_message",
    "authentication_failed", "content_block_delta", "content_block_start", "tool-calls",
    "assistant", "success", "error", "tool_use", "file_change", "command_execution",
    "Reconnecting... 2/5", "API Error: 529", "usage limit reached|1795003200",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(WORDS)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
events = st.builds(
    lambda kind, body: {**body, "type": kind},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
)
lines = st.one_of(events.map(json.dumps), st.text(max_size=40))
TRANSCRIPTS = [ClaudeTranscript, CodexTranscript, GeminiTranscript, OpencodeTranscript]


@settings(max_examples=400, deadline=None)
@given(
    stdout=st.lists(lines, max_size=12),
    stderr=st.lists(st.text(max_size=40), max_size=3),
    exit_code=st.sampled_from([0, 1, 41, 124]),
)
def test_no_output_breaks_an_adapter(stdout: list[str], stderr: list[str], exit_code: int) -> None:
    for cls in TRANSCRIPTS:
        transcript: Transcript = cls(MemorySink())
        for line in stdout:
            transcript.on_stdout(line)
        for line in stderr:
            transcript.on_stderr(line)
        proc = ProcessResult(exit_code, exit_code == 124, False, 1, 1, len(stdout), 0, ())
        transcript.finish(proc)
        result = transcript.result(proc, AgentRequest(prompt="p"))
        assert isinstance(result, AgentResult)
        assert isinstance(result.final_text, str) and isinstance(result.tokens_in, int)
        assert result.cost_usd is None or math.isfinite(result.cost_usd)


def test_non_finite_numbers_are_ignored() -> None:
    sink = MemorySink()
    transcript = ClaudeTranscript(sink)
    transcript.on_stdout(
        '{"type": "system", "subtype": "api_retry", "attempt": NaN, "max_retries": Infinity,'
        ' "retry_delay_ms": NaN}'
    )
    transcript.on_stdout(
        '{"type": "result", "num_turns": -Infinity, "usage": '
        '{"input_tokens": NaN}, "total_cost_usd": NaN, "result": "x"}'
    )
    proc = ProcessResult(0, False, False, 1, 1, 2, 0, ())
    result = transcript.result(proc, AgentRequest(prompt="p"))
    assert sink.retries[0].attempt == 0 and sink.retries[0].max_retries is None
    assert result.turns is None and result.tokens_in == 0 and result.cost_usd is None
