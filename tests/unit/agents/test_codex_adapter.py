"""The codex adapter on the real transcripts of Codex CLI 0.171.0 against a mock model
(``fixtures/codex-0.171.0``, copied from the shared capture): each failure the CLI reports,
classified as the engine must treat it."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agentloop.agents.base import AgentRequest, AgentResult, Failure, MemorySink
from agentloop.agents.codex import CodexTranscript, codex_command
from agentloop.agents.process import ProcessResult

from .support import FIXTURES_DIR

CODEX_FIXTURES = FIXTURES_DIR / "codex-0.171.0"
BERLIN = ZoneInfo("Europe/Berlin")


def replay(name: str, *, tz: ZoneInfo | None = None) -> tuple[AgentResult, MemorySink]:
    """Feed a fixture to a transcript as the process would, with its recorded exit code."""
    case = next(c for c in _cases() if c["file"] == name)
    sink = MemorySink()
    transcript = CodexTranscript(sink, tz=tz)
    for line in (CODEX_FIXTURES / name).read_text(encoding="utf-8").splitlines():
        transcript.on_stdout(line)
    transcript.on_stderr(case["stderr"])
    proc = ProcessResult(case["exit_code"], False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p", timeout_sec=30)), sink


def feed(*events: dict[str, Any], exit_code: int = 1) -> AgentResult:
    transcript = CodexTranscript(MemorySink())
    for event in events:
        transcript.on_stdout(json.dumps(event))
    proc = ProcessResult(exit_code, False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p"))


def _cases() -> list[dict[str, Any]]:
    return list(json.loads((CODEX_FIXTURES / "cases.json").read_text())["cases"])


def test_a_task_done_reads_the_answer_and_tokens() -> None:
    result, sink = replay("success-tool-use.jsonl")
    assert result.failure is None and result.exit_code == 0
    assert result.final_text == "Completed Task number 1. 2 tasks remain."
    assert (result.tokens_in, result.tokens_out, result.turns) == (29256, 133, 1)
    assert result.cost_usd is None  # codex reports no cost
    assert result.session_id == "01a23fc4-be7c-7012-b149-d3f23e48823a"
    assert len(sink.events) == 10 and sink.retries == []
    assert "Completed Task number 1. 2 tasks remain." in sink.lines


def test_the_completion_token_is_the_answer() -> None:
    result, _ = replay("last-task-complete.jsonl")
    assert result.failure is None and result.final_text == "<promise>COMPLETE</promise>"


def test_a_throttle_the_cli_retried_away_is_a_success_with_its_retries_shown() -> None:
    result, sink = replay("rate-limit-429-then-success.jsonl")
    assert result.failure is None
    assert result.final_text == "Completed Task number 2. 1 tasks remain."
    assert [(r.attempt, r.max_retries) for r in sink.retries] == [(1, 5), (2, 5)]
    assert "429 Too Many Requests" in sink.retries[0].reason


def test_an_invalid_api_key_is_permanent_after_the_clis_own_retries() -> None:
    result, sink = replay("auth-invalid-key-401.jsonl")
    assert result.failure == Failure.PERMANENT and result.exit_code == 1
    assert result.message.startswith("unexpected status 401 Unauthorized: Incorrect API key")
    assert [r.attempt for r in sink.retries] == [1, 2, 3, 4, 5]


def test_insufficient_quota_is_permanent() -> None:  # defect 6: it was a crash
    result, _ = replay("quota-429.jsonl")
    assert result.failure == Failure.PERMANENT
    assert result.message == "Quota exceeded. Check your plan and billing details."


def test_an_unknown_model_is_permanent() -> None:
    result, _ = replay("unknown-model-opus-400.jsonl")
    assert result.failure == Failure.PERMANENT
    assert result.message == "The requested model 'opus' does not exist."


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rate-limit-429-gave-up.jsonl", "exceeded retry limit, last status: 429 Too Many"),
        # a 5xx the CLI gave up on names no status: its words alone (it was a crash)
        ("server-error-500-gave-up.jsonl", "We\u2019re currently experiencing high demand"),
    ],
)
def test_what_the_cli_gave_up_retrying_is_transient(name: str, message: str) -> None:
    result, sink = replay(name)
    assert result.failure == Failure.TRANSIENT, result.message
    assert result.message.startswith(message)
    assert [r.attempt for r in sink.retries] == [1, 2, 3, 4, 5]


def test_a_usage_limit_pauses_until_the_minute_codex_names_in_its_zone() -> None:
    before = time.time()
    result, _ = replay("usage-limit-429.jsonl", tz=BERLIN)
    assert result.failure == Failure.USAGE_LIMIT
    assert result.message.startswith("You\u2019ve hit your usage limit.")
    assert result.resume_at is not None
    assert before < result.resume_at <= before + 86400
    local = datetime.fromtimestamp(result.resume_at, BERLIN)
    # 7:36 AM Berlin; 7:37 only if this test runs during that very minute
    assert (local.hour, local.minute, local.second) in ((7, 36, 0), (7, 37, 0))


def test_a_reset_the_event_states_beats_the_wording() -> None:
    message = "You\u2019ve hit your usage limit. Try again at 7:36 AM."
    result = feed(
        {"type": "turn.started"},
        {"type": "turn.failed", "error": {"message": message, "resets_at": 1795003200}},
    )
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at == 1795003200.0


def test_the_model_flag_only_when_a_model_is_chosen() -> None:
    argv = codex_command("codex", AgentRequest(prompt="p", model=""))
    assert "-m" not in argv and argv[-1] == "-"
    argv = codex_command("codex", AgentRequest(prompt="p", model="gpt-5.5"))
    assert argv[-3:] == ["-m", "gpt-5.5", "-"]
