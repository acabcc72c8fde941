"""The gemini adapter on the real transcripts of Gemini CLI 0.61.0 against a mock Gemini API
(``fixtures/gemini-0.61.0``, copied from the shared capture; the stderr of a few more cases
below was captured the same way against ``tests/realcli/gemini_api.py``): the answer, the
usage, the CLI's own retries, each failure it reports classified as the engine must treat
it, and the command line."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import pytest

from agentloop.agents.base import AgentRequest, AgentResult, Failure, MemorySink
from agentloop.agents.gemini import GeminiTranscript, gemini_command
from agentloop.agents.process import ProcessResult

from .support import FIXTURES_DIR

GEMINI_FIXTURES = FIXTURES_DIR / "gemini-0.61.0"
QUOTA = "You exceeded your current quota, please check your plan and billing details."
RATE_LIMIT_TAIL = (
    "\nPlease wait and try again later. To increase your limits, request a quota increase "
    "through AI Studio, or switch to another /auth method"
)
UNTRUSTED = (
    "Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`, "
    "set the `GEMINI_CLI_TRUST_WORKSPACE=true` environment variable, or trust this directory "
    "in interactive mode. For more details, see "
    "https://geminicli.com/docs/cli/trusted-folders/#headless-and-automated-environments"
)
TRACE = "    at retryWithBackoff (file:///x/bundle/chunk-JDPZ4CE3.js:308039:23)"
REPORT = (
    "Error when talking to Gemini API Full report available at: "
    "/tmp/gemini-client-error-Turn.run-sendMessageStream-2026-12-04T12-45-50-832Z.json "
)

# 0.61.0's stderr (real, against the mock) for cases the shared capture has no full stderr of
RETRIED_503 = [
    "Attempt 1 failed with status 503. Retrying with backoff... _ApiError: "
    '{"error":{"code":503,"message":"The model is overloaded. Please try again later.",'
    '"status":"UNAVAILABLE","details":[]}}',
    "    at throwErrorIfNotOK (file:///x/bundle/chunk-JDPZ4CE3.js:267833:24)",
    TRACE,
    "  status: 503",
    "}",
]
GAVE_UP_429 = [  # general.maxAttempts = 1, a per-minute quota (RetryInfo 1s)
    f"Attempt 1 failed: {QUOTA}",
    "Suggested retry after 1s.. Max attempts reached",
    f"{REPORT}RetryableQuotaError: {QUOTA}",
    "Suggested retry after 1s.",
    TRACE,
    "  cause: {",
    "    code: 429,",
    f"    message: '{QUOTA}',",
    "    details: [ [Object], [Object] ]",
    "  },",
    "  retryDelayMs: 1000,",
    "  status: 429",
    "}",
]
LONG_DELAY_429 = [  # a per-minute quota with RetryInfo 3600s: more than the CLI waits
    f"{REPORT}TerminalQuotaError: {QUOTA}",
    "Suggested retry after 3600s.",
    TRACE,
    "  cause: {",
    "    code: 429,",
    f"    message: '{QUOTA}',",
    "    details: [ [Object], [Object] ]",
    "  },",
    "  retryDelayMs: 3600000,",
    "  reason: undefined,",
    "  status: 429",
    "}",
]
DAILY_429 = [
    f"{REPORT}TerminalQuotaError: You have exhausted your daily quota on this model.",
    TRACE,
    "  retryDelayMs: undefined,",
    "  reason: undefined,",
    "  status: 429",
    "}",
]
# the real API words a per-minute quota so (the message the CLI prints, then its delay)
REAL_API_RETRY = [
    f"Attempt 1 failed: {QUOTA} For more information on this error, head to: "
    "https://ai.google.dev/gemini-api/docs/rate-limits.",
    "* Quota exceeded for metric: generativelanguage.googleapis.com/"
    "generate_content_free_tier_requests, limit: 10, model: gemini-2.5-flash",
    "Please retry in 21.5s.",
    "Suggested retry after 21s.. Retrying after 21042ms...",
]


def _cases() -> list[dict[str, Any]]:
    return list(json.loads((GEMINI_FIXTURES / "cases.json").read_text())["cases"])


def replay(
    name: str, *, stderr: list[str] | None = None, exit_code: int | None = None
) -> tuple[AgentResult, MemorySink]:
    """Feed a fixture to a transcript as the process would, with its recorded exit code and
    stderr (or the given ones)."""
    case = next(c for c in _cases() if c["file"] == name)
    sink = MemorySink()
    transcript = GeminiTranscript(sink)
    for line in (GEMINI_FIXTURES / name).read_text(encoding="utf-8").splitlines():
        transcript.on_stdout(line)
    for line in case["stderr"].splitlines() if stderr is None else stderr:
        transcript.on_stderr(line)
    code = case["exit_code"] if exit_code is None else exit_code
    proc = ProcessResult(code, False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p", timeout_sec=30)), sink


def result_event(message: str) -> str:
    stats = {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0}
    event = {
        "type": "result",
        "status": "error",
        "error": {"type": "unknown", "message": message},
        "stats": stats,
    }
    return json.dumps(event)


def feed(
    *stdout: str, stderr: Sequence[str] = (), exit_code: int = 1
) -> tuple[AgentResult, MemorySink]:
    sink = MemorySink()
    transcript = GeminiTranscript(sink)
    for line in stdout:
        transcript.on_stdout(line)
    for line in stderr:
        transcript.on_stderr(line)
    proc = ProcessResult(exit_code, False, False, 5, 1, 0, 0, ())
    transcript.finish(proc)
    return transcript.result(proc, AgentRequest(prompt="p")), sink


# -- answers


def test_a_task_done_reads_the_answer_and_tokens() -> None:
    result, sink = replay("success-tool-use.jsonl")
    assert result.failure is None and result.exit_code == 0
    assert result.final_text == "Completed Task number 1. 2 tasks remain."
    assert (result.tokens_in, result.tokens_out) == (38650, 204)  # input includes cached
    assert result.cost_usd is None  # gemini reports no cost
    assert result.session_id == "666e435e-9b71-497c-88f8-6eb75002f5b4"
    assert len(sink.events) == 10 and sink.retries == []
    assert "Completed Task number 1. 2 tasks remain." in sink.lines


def test_a_review_answer_streamed_in_pieces_is_one_line() -> None:
    result, sink = replay("review.jsonl")
    assert result.final_text == "Review complete. Returning to implementation."
    assert "Review complete. Returning to implementation." in sink.lines


def test_the_completion_token_is_the_answer() -> None:
    result, _ = replay("last-task-complete.jsonl")
    assert result.failure is None and result.final_text == "<promise>COMPLETE</promise>"


# -- the CLI's own retries


def test_a_throttle_the_cli_retried_away_is_a_success_with_its_retries_shown() -> None:
    result, sink = replay("rate-limit-429-then-success.jsonl")
    assert result.failure is None
    assert result.final_text == "Completed Task number 2. 1 tasks remain."
    reason = f"{QUOTA} Suggested retry after 1s."
    assert [(r.attempt, r.reason, r.delay_ms) for r in sink.retries] == [
        (1, reason, 5325.0),
        (2, reason, 10701.0),
    ]


def test_an_overload_the_cli_retried_away_is_a_success_with_its_retry_shown() -> None:
    result, sink = replay("server-error-503-then-success.jsonl", stderr=RETRIED_503)
    assert result.failure is None and result.final_text == "<promise>COMPLETE</promise>"
    assert [(r.attempt, r.reason, r.delay_ms) for r in sink.retries] == [
        (1, "503 UNAVAILABLE: The model is overloaded. Please try again later.", None)
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Attempt 2 failed. Retrying with backoff... TypeError: fetch failed", "error: "
         "TypeError: fetch failed"),
        ("Attempt 1 failed with 429 error (no Retry-After header). Retrying with backoff...",
         "429 error (no Retry-After header)"),
        ("Attempt 3 failed with 5xx error. Retrying with backoff...", "5xx error"),
    ],
)  # fmt: skip
def test_the_other_retry_lines_of_the_cli_are_retries(line: str, reason: str) -> None:
    _, sink = feed(stderr=[line], exit_code=0)
    assert [(r.reason, r.delay_ms) for r in sink.retries] == [(reason, None)]
    assert sink.retries[0].attempt == int(line.split()[1])


def test_the_real_apis_quota_wording_in_a_retry_is_no_usage_limit() -> None:
    # "Quota exceeded for metric" on stderr while the CLI waits out a per-minute quota
    result, sink = replay("rate-limit-429-then-success.jsonl", stderr=REAL_API_RETRY)
    assert result.failure is None and result.resume_at is None
    assert [(r.attempt, r.delay_ms) for r in sink.retries] == [(1, 21042.0)]
    assert sink.retries[0].reason.endswith("Please retry in 21.5s. Suggested retry after 21s.")


def test_a_retry_the_cli_gave_up_on_is_no_retry() -> None:
    _, sink = feed(result_event(f"[API Error: {QUOTA}]"), stderr=GAVE_UP_429, exit_code=173)
    assert sink.retries == []


# -- failures


def test_the_daily_quota_is_a_usage_limit_without_a_reset() -> None:
    result, _ = replay("daily-quota-429-resource-exhausted.jsonl")
    assert result.failure == Failure.USAGE_LIMIT and result.exit_code == 173
    assert result.message.startswith(
        "[API Error: You have exhausted your daily quota on this model.]"
    )
    assert result.resume_at is None  # the engine waits usage_limit_wait_sec


def test_the_daily_quota_with_the_clis_report_is_a_usage_limit_without_a_reset() -> None:
    result, _ = replay("daily-quota-429-resource-exhausted.jsonl", stderr=DAILY_429)
    assert result.failure == Failure.USAGE_LIMIT and result.resume_at is None


def test_a_quota_the_cli_will_not_wait_for_pauses_until_its_retry_delay() -> None:
    message = f"[API Error: {QUOTA}\nSuggested retry after 3600s.]{RATE_LIMIT_TAIL}"
    before = time.time()
    result, _ = feed(result_event(message), stderr=LONG_DELAY_429, exit_code=173)
    assert result.failure == Failure.USAGE_LIMIT and result.message == message
    assert result.resume_at is not None
    assert before + 3600 <= result.resume_at <= time.time() + 3600


def test_a_per_minute_quota_the_cli_gave_up_on_is_a_throttle() -> None:
    # same exit status (173) as the daily quota; the CLI's RetryableQuotaError tells it
    message = f"[API Error: {QUOTA}\nSuggested retry after 1s.]{RATE_LIMIT_TAIL}"
    result, _ = feed(result_event(message), stderr=GAVE_UP_429, exit_code=173)
    assert result.failure == Failure.TRANSIENT and result.message == message


def test_an_overload_the_cli_gave_up_on_is_transient() -> None:
    stderr = [
        "Attempt 1 failed: The model is overloaded. Please try again later.. Max attempts reached",
        f"{REPORT}RetryableQuotaError: The model is overloaded. Please try again later.",
        "  retryDelayMs: undefined,",
        "  status: 503",
    ]
    message = "[API Error: The model is overloaded. Please try again later.]"
    result, sink = feed(result_event(message), stderr=stderr, exit_code=247)
    assert result.failure == Failure.TRANSIENT and result.message == message
    assert sink.retries == []


def test_an_invalid_api_key_is_permanent_with_the_clis_message() -> None:
    result, _ = replay("auth-invalid-key-400.jsonl")
    assert result.failure == Failure.PERMANENT and result.exit_code == 144
    assert result.message.startswith('[API Error: {"error":{"code":400,')
    assert "API key not valid. Please pass a valid API key." in result.message


def test_an_unknown_model_is_permanent_with_the_clis_message() -> None:
    words = (
        "models/gemini-9-ultra is not found for API version v1beta, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )
    stderr = [f"{REPORT}ModelNotFoundError: {words}", "  code: 404", "}"]
    result, _ = feed(result_event(f"[API Error: {words}]"), stderr=stderr, exit_code=1)
    assert result.failure == Failure.PERMANENT and result.message == f"[API Error: {words}]"


def test_an_untrusted_folder_is_permanent_with_the_clis_words() -> None:
    case = next(c for c in _cases() if c["file"] == "untrusted-folder.jsonl")
    assert case["exit_code"] == 55 and "\x1b[31m" in case["stderr"]  # coloured, as captured
    result, sink = replay("untrusted-folder.jsonl")
    assert result.failure == Failure.PERMANENT and result.exit_code == 55
    assert result.message == UNTRUSTED
    assert sink.events == []
    # the startup metrics the CLI may print last are not its words
    startup = "[STARTUP] Phase 'cleanup_ops' was started but never ended. Skipping metrics."
    stderr = [*case["stderr"].splitlines(), startup]
    result, _ = replay("untrusted-folder.jsonl", stderr=stderr)
    assert result.message == UNTRUSTED


def test_a_quota_exceeded_the_cli_did_not_classify_is_a_throttle() -> None:
    # the API says "Quota exceeded for metric" for per-minute and daily quotas alike
    message = (
        f"[API Error: {QUOTA}\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
        "generate_content_free_tier_requests, limit: 10, model: gemini-2.5-flash]"
    )
    result, _ = feed(result_event(message), exit_code=173)
    assert result.failure == Failure.TRANSIENT


def test_a_warning_in_the_stream_is_shown_and_not_fatal() -> None:
    warning = {"type": "error", "severity": "warning", "message": "Loop detected, stopping"}
    success = {"type": "result", "status": "success", "stats": {"input_tokens": 5}}
    result, sink = feed(json.dumps(warning), json.dumps(success), exit_code=0)
    assert result.failure is None
    assert "[error] Loop detected, stopping" in sink.lines


# -- the command line


def test_the_command_trusts_the_worktree_and_names_a_model_only_when_given() -> None:
    argv = gemini_command("gemini", AgentRequest(prompt="do it"))
    assert argv == [
        "gemini", "-p", "do it", "--output-format", "stream-json", "--yolo", "--skip-trust"
    ]  # fmt: skip
    named = gemini_command("gemini", AgentRequest(prompt="do it", model="gemini-2.5-flash"))
    assert named[5:7] == ["-m", "gemini-2.5-flash"] and named[-1] == "--skip-trust"
    mode = gemini_command("g", AgentRequest(prompt="p", extra={"permission_mode": "auto_edit"}))
    assert mode[-3:] == ["--approval-mode", "auto_edit", "--skip-trust"]
