"""Gemini CLI: ``gemini -p <prompt> --output-format stream-json [-m model] --yolo --skip-trust``.

``--yolo`` auto-approves tools (headless, like claude's skip-permissions) unless
``extra['permission_mode']`` names a gemini approval mode (``--approval-mode <mode>``).
``--skip-trust`` trusts the working directory for the session: 0.61 refuses to run headless
in a folder the user never trusted ("Gemini CLI is not running in a trusted directory",
exit 55), and every step runs in a fresh worktree.

``--resume <session id>`` continues a session (same id); an unknown one exits 42 before
any ``init`` ("Error resuming session: Invalid session identifier ...").

Events (headless stream-json; real transcripts of 0.61.0 against a mock Gemini API in
``fixtures/gemini-0.61.0``): ``init`` (session id), ``message`` (assistant ``content``,
``delta`` chunks streamed line by line), ``tool_use``/``tool_result``, ``error`` (warnings),
``result`` (``status``, ``error.message``, ``stats`` with ``input_tokens`` (cached ones
included) / ``output_tokens``; no cost). The answer is the assistant text after the last
tool call.

The CLI retries the API on its own and says so on stderr only: ``Attempt 1 failed: <message>.
Retrying after 5325ms...`` (a quota with a retry delay; the message may span lines) or
``Attempt 1 failed with status 503. Retrying with backoff... <error>``: each becomes a
``sink.retry``. When it gives up, the ``result`` has ``status: error`` and stderr reports the
error's class (``Error when talking to Gemini API ... TerminalQuotaError: ...``, then its
fields such as ``retryDelayMs``); the exit status is the HTTP status modulo 256 (429: 173,
400: 144, 503: 247). Failures, in this order:

- permanent: exit 41 (authentication: ``Please set an Auth method``, ``Invalid auth method
  selected``), 42 (input), 44 (sandbox), 52 (configuration), 55 (untrusted folder), the
  CLI's ``ModelNotFoundError`` (a 404 for the model), or the API's words for a bad key or
  a permission (``API key not valid``);
- usage limit: the CLI's ``TerminalQuotaError`` (``You have exhausted your daily quota on
  this model.``: a quota it will not retry) or quota-exhausted wording (``RESOURCE_EXHAUSTED``);
  the reset is its ``retryDelayMs`` or a delay the message names, else none (the engine
  waits ``usage_limit_wait_sec``);
- transient: a ``RetryableQuotaError`` the CLI gave up on (a per-minute quota: a throttle,
  not a usage limit; a 503 overload), 429 / 5xx / network wording.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from agentloop.agents._cli import (
    Transcript,
    as_count,
    as_dict,
    as_float,
    plain_text,
    resolve_bin,
    run_cli,
)
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink
from agentloop.agents.process import ProcessResult
from agentloop.agents.usage import parse_reset_time

__all__ = ["GeminiAgent", "GeminiTranscript", "gemini_command"]

_PERMANENT_EXITS = {
    41: "authentication",
    42: "input",
    44: "sandbox",
    52: "configuration",
    55: "untrusted folder",
}
# not "quota exceeded": the API words a per-minute throttle and a daily quota alike ("Quota
# exceeded for metric: ..."); the CLI's classification (TerminalQuotaError) tells them apart
_LIMIT = re.compile(
    r"RESOURCE_EXHAUSTED|exhausted your (?:daily )?(?:capacity|quota)|quota will reset", re.I
)
# not "auth method" alone: every 429's message ends "...or switch to another /auth method"
_PERMANENT = re.compile(
    r"set an auth method|invalid auth method|api key not valid|api_key_invalid|"
    r"invalid api key|\b401\b|\b403\b|permission_denied|unauthenticated|"
    r"model .{0,80}(?:not found|does not exist)|models/\S+ is not found|"
    r"not running in a trusted directory",
    re.I,
)
_TRANSIENT = re.compile(
    r"\b429\b|\b5\d\d\b|overloaded|unavailable|deadline exceeded|internal error|"
    r"exceeded your current quota|too many requests|econnreset|fetch failed|network|timed out",
    re.I,
)
# the CLI's report of the error a turn ended with (stderr), and the fields printed after it
_REPORT = re.compile(r"Error when talking to Gemini API\b.*?\b(\w*Error): (.*)$")
_RETRY_DELAY = re.compile(r"^\s*retryDelayMs: (\d+(?:\.\d+)?)")
# the CLI's own retries (stderr)
_ATTEMPT = re.compile(r"^Attempt (\d+) failed: (.*)$")
_RETRY_AFTER = re.compile(r"^(.*)\. Retrying after (\d+)ms\.\.\.$", re.S)
_GAVE_UP = re.compile(r"\. Max attempts reached$")
_BACKOFF = re.compile(
    r"^Attempt (\d+) failed(?: with (.+?))?\. Retrying with backoff\.\.\.\s*(.*)$"
)
_MAX_PENDING_LINES = 20


def gemini_command(binary: str, request: AgentRequest) -> list[str]:
    argv = [binary, "-p", request.prompt, "--output-format", "stream-json"]
    if request.resume_session:
        argv += ["--resume", request.resume_session]
    if request.model:
        argv += ["-m", request.model]
    mode = request.extra.get("permission_mode", "")
    if mode and mode != "bypassPermissions":
        argv += ["--approval-mode", mode]
    else:
        argv.append("--yolo")
    argv.append("--skip-trust")
    return argv


class GeminiAgent:
    """The ``gemini`` adapter."""

    name = "gemini"

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        argv = gemini_command(resolve_bin(request, self.name, self.binary), request)
        return run_cli(GeminiTranscript(sink), argv, request, stdin_text=None)


class GeminiTranscript(Transcript):
    """Reads one gemini stream-json run and its stderr; see the module docstring."""

    agent = "gemini"

    def __init__(self, sink: AgentSink) -> None:
        super().__init__(sink)
        self._answer = ""  # assistant text since the last tool call
        self._partial = ""
        self._failed: str | None = None  # the result's error message, judged in finish()
        self._attempt: tuple[int, list[str]] | None = None  # a retry message being read
        self._error_class: str | None = None  # of the CLI's last error report
        self._error_message = ""
        self._retry_delay_ms: float | None = None  # of that error

    # -- stdout: the stream-json protocol

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "init":
            session = event.get("session_id") or event.get("sessionId")
            if isinstance(session, str):
                self.note_session(session)
        elif kind == "message" and event.get("role") == "assistant":
            self._text(str(event.get("content") or ""), bool(event.get("delta")))
        elif kind == "tool_use":
            self._flush()
            self._answer = ""
            self.sink.output(f"[tool] {event.get('tool_name', '')}")
        elif kind == "tool_result":
            self._flush()
            if event.get("status") == "error":
                self.sink.output(f"[tool error] {_message(event.get('error'))}")
        elif kind == "error":
            self._flush()
            message = _message(event) or "error"
            self.sink.output(f"[error] {message}")
            if _LIMIT.search(message):
                self.note_limit(message, parse_reset_time(message))
            else:
                self.error = message
        elif kind == "result":
            self._result(event)

    def _text(self, text: str, delta: bool) -> None:
        self._answer += text if delta else (("\n" if self._answer else "") + text)
        self._partial += text if delta else text + "\n"
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self.sink.output(line)

    def _flush(self) -> None:
        if self._partial:
            self.sink.output(self._partial)
            self._partial = ""

    def _result(self, event: dict[str, Any]) -> None:
        self._flush()
        self.completed = True
        self.final_text = self._answer.strip("\n")
        stats = as_dict(event.get("stats"))
        self.tokens_in = as_count(stats.get("input_tokens"))
        self.tokens_out = as_count(stats.get("output_tokens"))
        self.cost_usd = as_float(stats.get("total_cost_usd"))
        if event.get("status") not in (None, "success"):
            self.is_error = True
            self._failed = _message(event.get("error")) or "gemini reported an error"

    # -- stderr: the CLI's retries and its report of the error it gave up on

    def on_stderr(self, line: str) -> None:
        super().on_stderr(line)
        text = plain_text(line).rstrip()
        if report := _REPORT.search(text):
            self._error_class, self._error_message = report.group(1), report.group(2)
            self._retry_delay_ms = None
        elif self._error_class is not None and (delay := _RETRY_DELAY.match(text)):
            self._retry_delay_ms = float(delay.group(1))
        self._retry_line(text)

    def _retry_line(self, text: str) -> None:
        if backoff := _BACKOFF.match(text):
            self._attempt = None
            attempt, how, detail = backoff.groups()
            self.sink.retry(int(attempt), None, _backoff_reason(how, detail), None)
            return
        if started := _ATTEMPT.match(text):
            self._attempt = (int(started.group(1)), [started.group(2)])
        elif self._attempt is not None:
            self._attempt[1].append(text)
        else:
            return
        attempt, lines = self._attempt
        message = "\n".join(lines)
        if after := _RETRY_AFTER.match(message):
            self._attempt = None
            reason = " ".join(after.group(1).split())
            self.sink.retry(attempt, None, reason, float(after.group(2)))
        elif _GAVE_UP.search(message) or len(lines) >= _MAX_PENDING_LINES:
            self._attempt = None

    # -- the end

    def finish(self, proc: ProcessResult) -> None:
        self._flush()
        if not self.completed:
            self.final_text = self._answer.strip("\n")
        if proc.exit_code in _PERMANENT_EXITS and not proc.timed_out:
            kind = _PERMANENT_EXITS[proc.exit_code]
            words = self._last_words() or f"gemini: {kind} error (exit {proc.exit_code})"
            self.note_permanent(words)
        elif self._failed is not None:
            self._judge(self._failed)
        elif not self.completed and proc.exit_code != 0 and not proc.timed_out:
            if self._error_class is not None:
                self._judge(f"{self._error_class}: {self._error_message}")
            elif stderr := " ".join(self._stderr_lines()):
                self._judge(stderr)

    def _stderr_lines(self) -> list[str]:
        return [line.strip() for line in self.stderr_tail if line.strip()]

    def _last_words(self) -> str:
        """The CLI's fatal message: its last stderr line, but for startup metrics noise."""
        lines = [line for line in self._stderr_lines() if not line.startswith("[STARTUP]")]
        return lines[-1] if lines else ""

    def _judge(self, message: str) -> None:
        """Classify the error the CLI gave up on (its ``result``, else its stderr)."""
        if self._error_class == "ModelNotFoundError" or _PERMANENT.search(message):
            self.note_permanent(message)
        elif self._error_class == "RetryableQuotaError":
            self.transient = message  # the CLI's own verdict: a throttle it gave up on
        elif self._error_class == "TerminalQuotaError" or _LIMIT.search(message):
            self.note_limit(message, self._reset(message))
        elif _TRANSIENT.search(message):
            self.transient = message
        else:
            self.error = message

    def _reset(self, message: str) -> float | None:
        if self._retry_delay_ms is not None:
            return time.time() + self._retry_delay_ms / 1000
        return parse_reset_time(message) or parse_reset_time(self._error_message)


def _message(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("message") or value.get("type") or "")
    return str(value or "")


def _backoff_reason(how: str | None, detail: str) -> str:
    """``503 UNAVAILABLE: The model is overloaded...`` from ``with status 503`` and the
    error printed after it (``_ApiError: {"error": {...}}``), or the CLI's words."""
    reason = how or "error"
    start = detail.find("{")
    if start >= 0:
        try:
            error = as_dict(as_dict(json.loads(detail[start:])).get("error"))
        except ValueError:
            error = {}
        if error:
            code = error.get("code") or ""
            status = error.get("status") or ""
            head = " ".join(str(x) for x in (code, status) if x) or reason
            return f"{head}: {error.get('message')}" if error.get("message") else head
    return f"{reason}: {detail}" if detail else reason
