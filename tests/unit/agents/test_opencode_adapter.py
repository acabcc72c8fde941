"""The opencode adapter on the real transcripts of opencode 1.18.33 against a mock model
(``fixtures/opencode-1.18.33``, copied from the shared capture): the answer, the usage, each
failure the CLI reports; the command line; and the plain text of what CLIs print coloured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentloop.agents._cli import plain_text
from agentloop.agents.base import AgentRequest, AgentResult, Failure, MemorySink
from agentloop.agents.command import CommandAgent
from agentloop.agents.opencode import OpencodeTranscript, opencode_command
from agentloop.agents.process import ProcessResult
from agentloop.core.types import Phase

from .support import FIXTURES_DIR

OPENCODE_FIXTURES = FIXTURES_DIR / "opencode-1.18.33"
# what opencode 1.18.33 writes on stderr for an unknown --session (captured into a pipe)
COLOURED_ERROR = "\x1b[91m\x1b[1mError: \x1b[0mSession not found"


def replay(name: str) -> tuple[AgentResult, MemorySink]:
    """Feed a fixture to a transcript as the process would, with its recorded exit code."""
    case = next(c for c in _cases() if c["file"] == name)
    sink = MemorySink()
    transcript = OpencodeTranscript(sink)
    for line in (OPENCODE_FIXTURES / name).read_text(encoding="utf-8").splitlines():
        transcript.on_stdout(line)
    if case["stderr"]:
        transcript.on_stderr(case["stderr"])
    proc = ProcessResult(case["exit_code"], False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p", timeout_sec=30)), sink


def feed(*events: dict[str, Any], exit_code: int = 1, stderr: str = "") -> AgentResult:
    transcript = OpencodeTranscript(MemorySink())
    for event in events:
        transcript.on_stdout(json.dumps(event))
    if stderr:
        transcript.on_stderr(stderr)
    proc = ProcessResult(exit_code, False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p"))


def api_error(status: int, message: str, retryable: bool = False) -> dict[str, Any]:
    data = {"message": message, "statusCode": status, "isRetryable": retryable}
    return {"type": "error", "sessionID": "ses_1", "error": {"name": "APIError", "data": data}}


def step(reason: str, cost: float, text: str = "") -> list[dict[str, Any]]:
    tokens = {"input": 100, "output": 10, "reasoning": 0, "cache": {"read": 0, "write": 0}}
    events: list[dict[str, Any]] = [{"type": "step_start", "part": {}}]
    if text:
        events.append({"type": "text", "part": {"type": "text", "text": text}})
    finish = {"reason": reason, "tokens": tokens, "cost": cost}
    events.append({"type": "step_finish", "part": finish})
    return events


def _cases() -> list[dict[str, Any]]:
    return list(json.loads((OPENCODE_FIXTURES / "cases.json").read_text())["cases"])


# -- the real transcripts


def test_a_task_done_reads_the_answer_and_tokens_of_every_step() -> None:
    result, sink = replay("success-tool-use.jsonl")
    assert result.failure is None and result.exit_code == 0
    assert result.final_text == "Completed Task number 1. 2 tasks remain."
    # input + cache read/write, output + reasoning, summed over the three steps
    assert (result.tokens_in, result.tokens_out, result.turns) == (24553, 135, 3)
    assert result.session_id == "ses_dc0375492ffe8tdf8QA2Ldo79u"
    fixture = (OPENCODE_FIXTURES / "success-tool-use.jsonl").read_text().splitlines()
    assert sink.events == fixture  # every line kept for the raw events
    assert "Completed Task number 1. 2 tasks remain." in sink.lines
    assert "[tool] bash completed" in sink.lines


def test_a_cost_of_0_in_every_step_is_no_cost_reported() -> None:
    # the mock provider has no price: opencode writes "cost": 0, as for any unpriced model
    result, _ = replay("success-tool-use.jsonl")
    assert result.cost_usd is None


def test_priced_steps_sum_their_cost() -> None:
    result = feed(*step("tool-calls", 0.0), *step("stop", 0.25, "done"), exit_code=0)
    assert result.failure is None and result.cost_usd == pytest.approx(0.25)
    result = feed(*step("tool-calls", 0.5), *step("stop", 0.25, "done"), exit_code=0)
    assert result.cost_usd == pytest.approx(0.75)


def test_the_review_answer_and_the_completion_token() -> None:
    review, _ = replay("review.jsonl")
    assert review.failure is None
    assert review.final_text == "Review complete. Returning to implementation."
    last, _ = replay("last-task-complete.jsonl")
    assert last.failure is None and last.final_text == "<promise>COMPLETE</promise>"


@pytest.mark.parametrize(
    "name", ["rate-limit-429-then-success.jsonl", "server-error-500-then-success.jsonl"]
)
def test_a_failure_the_cli_retried_away_is_a_success(name: str) -> None:
    result, _ = replay(name)
    assert result.failure is None and result.exit_code == 0 and result.final_text


def test_an_invalid_api_key_is_permanent_with_the_providers_message() -> None:
    result, sink = replay("auth-invalid-key-401.jsonl")
    assert result.failure == Failure.PERMANENT and result.exit_code == 1
    assert result.message.startswith("Incorrect API key provided: sk-test-***.")
    assert result.session_id == "ses_dc0371550ffeEigzcS2pL8f437"
    assert sink.lines == [f"[error] APIError: {result.message}"]


# -- what opencode says when it gives up (shaped as the 401 above)


def test_a_forbidden_key_is_permanent_by_its_status() -> None:
    result = feed(api_error(403, "Project does not have access to this model."))
    assert result.failure == Failure.PERMANENT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_throttle_or_server_error_opencode_gave_up_on_is_transient(status: int) -> None:
    result = feed(api_error(status, "Something went wrong on our side.", retryable=True))
    assert result.failure == Failure.TRANSIENT
    assert result.message == "Something went wrong on our side."


def test_an_unexplained_error_event_is_a_crash() -> None:
    event = {
        "type": "error",
        "error": {"name": "UnknownError", "data": {"message": "Unexpected server error."}},
    }
    result = feed(event)
    assert result.failure == Failure.CRASH and result.message == "Unexpected server error."


# -- opencode's own log (--print-logs --log-level ERROR on stderr), lines as 1.18.33 writes them

MODEL_NOT_FOUND = (
    "timestamp=2026-12-04T14:55:26.978Z level=ERROR run=0f64618a message=failed "
    'ref=err_45d21fa5 error="ProviderModelNotFoundError: Model not found: scripted/." '
    'cause="ProviderModelNotFoundError: Model not found: scripted/.\\n    at <anonymous> '
    '(/$bunfs/root/chunk-dn9bw1yz.js:439:94416)"'
)
SHARE_FAILED = (
    'timestamp=2026-12-04T14:55:26.947Z level=ERROR run=0f64618a message="share subscriber '
    'failed" type=message.updated cause="Cause([Fail(ProviderModelNotFoundError: Model not '
    'found: scripted/.)])"'
)


def stream_error(message: str) -> str:
    return (
        "timestamp=2026-12-04T14:55:38.837Z level=ERROR run=6da71e69 "
        'message="stream error" providerID=mock modelID=mock-model session.id=ses_x '
        f'small=false agent=build mode=primary error.error="AI_APICallError: {message}"'
    )


def read_stderr(*lines: str, exit_code: int = 1) -> tuple[AgentResult, MemorySink, bool]:
    sink = MemorySink()
    transcript = OpencodeTranscript(sink)
    for line in lines:
        transcript.on_stderr(line)
    proc = ProcessResult(exit_code, False, transcript.gave_up.is_set(), 5, 1, 0, 0, ())
    transcript.finish(proc)
    result = transcript.result(proc, AgentRequest(prompt="p", timeout_sec=30))
    return result, sink, transcript.gave_up.is_set()


def test_a_model_not_found_is_permanent_and_logged_without_the_stack() -> None:
    result, sink, gave_up = read_stderr(SHARE_FAILED, MODEL_NOT_FOUND)
    assert result.failure == Failure.PERMANENT
    assert result.message == "opencode: ProviderModelNotFoundError: Model not found: scripted/."
    assert sink.lines == [
        "[opencode] failed: ProviderModelNotFoundError: Model not found: scripted/."
    ]
    assert not gave_up  # opencode ends by itself


def test_an_exhausted_quota_stops_opencode_at_once_as_permanent() -> None:
    message = "You exceeded your current quota, please check your plan and billing details."
    result, _sink, gave_up = read_stderr(stream_error(message))
    assert gave_up
    assert result.failure == Failure.PERMANENT and result.message == f"opencode: {message}"


def test_a_failed_model_call_opencode_retries_is_shown_as_a_retry() -> None:
    lines = [stream_error("Rate limit reached for requests."), stream_error("Bad gateway")]
    _result, sink, gave_up = read_stderr(*lines, exit_code=0)
    assert not gave_up
    assert [(r.attempt, r.reason) for r in sink.retries] == [
        (1, "Rate limit reached for requests."),
        (2, "Bad gateway"),
    ]


def test_log_lines_below_error_pass_through_as_output() -> None:
    _result, sink, _ = read_stderr("plain words on stderr")
    assert sink.lines == ["plain words on stderr"]


# -- the command line


def test_the_prompt_is_not_an_argument_and_the_session_has_a_title() -> None:
    request = AgentRequest(
        prompt='say "hi"', model="mock/mock-model", run_id="r1", phase=Phase.REVIEW, iteration=3
    )
    assert opencode_command("opencode", request) == [
        "opencode", "run", "--format", "json", "--title", "agentloop r1 review 3",
        "--print-logs", "--log-level", "ERROR", "-m", "mock/mock-model",
    ]  # fmt: skip


def test_no_model_flag_without_a_model() -> None:
    argv = opencode_command("opencode", AgentRequest(prompt="p", model=""))
    assert "-m" not in argv and "--model" not in argv


# -- coloured text from a CLI is logged as plain text


def test_plain_text_drops_escape_sequences_and_control_characters() -> None:
    assert plain_text(COLOURED_ERROR) == "Error: Session not found"
    assert plain_text("\x1b]0;title\x07a\tb\x1b[?25l\x1b(B") == "a\tb"
    assert plain_text("\x1b]8;;https://x.invalid\x1b\\link\x1b]8;;\x1b\\ ünï\r") == "link ünï"
    assert plain_text("nothing to do") == "nothing to do"


def test_coloured_stderr_reaches_the_log_and_the_reason_as_plain_text() -> None:
    sink = MemorySink()
    transcript = OpencodeTranscript(sink)
    transcript.on_stderr(COLOURED_ERROR)
    transcript.on_stdout("\x1b[2mnot json\x1b[0m")
    proc = ProcessResult(1, False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    result = transcript.result(proc, AgentRequest(prompt="p"))
    assert sink.lines == ["Error: Session not found", "not json"]
    assert result.failure == Failure.CRASH
    reason = "opencode exited with status 1 without a result: Error: Session not found"
    assert result.message == reason


def test_coloured_output_of_a_real_process_is_logged_plain(tmp_path: Path) -> None:
    sink = MemorySink()
    command = r"printf '\033[91m\033[1mError: \033[0mboom\n' >&2; printf 'out\n'; exit 3"
    req = AgentRequest(prompt="", cwd=tmp_path, extra={"agent_cmd": command})
    result = CommandAgent().run(req, sink)
    assert sorted(sink.lines) == ["Error: boom", "out"]
    assert result.failure == Failure.CRASH and result.message.endswith("Error: boom")
