"""Gemini CLI: ``gemini -p <prompt> --output-format stream-json [-m model] --yolo``.

``--yolo`` auto-approves tools (headless, like claude's skip-permissions) unless
``extra['permission_mode']`` names a gemini approval mode (``--approval-mode <mode>``).

Events (headless stream-json): ``init`` (session id), ``message`` (assistant ``content``,
``delta`` chunks streamed line by line), ``tool_use``/``tool_result``, ``error``, ``result``
(``status``, ``error``, ``stats`` with ``input_tokens``/``output_tokens``). The answer is the
assistant text after the last tool call. Exit status 41 (authentication, e.g. the
``Please set an Auth method`` message on stderr of 0.61.0 with no credentials), 42 (bad
input), 44 (sandbox) and 52 (config) are permanent; a 429 ``RESOURCE_EXHAUSTED`` (or "quota
exceeded") from the CLI is a usage limit, with the retry delay when it names one.
"""

from __future__ import annotations

import re
from typing import Any

from agentloop.agents._cli import Transcript, as_count, as_dict, as_float, resolve_bin, run_cli
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink
from agentloop.agents.process import ProcessResult
from agentloop.agents.usage import parse_reset_time

__all__ = ["GeminiAgent", "GeminiTranscript", "gemini_command"]

_PERMANENT_EXITS = {41: "authentication", 42: "input", 44: "sandbox", 52: "configuration"}
_LIMIT = re.compile(r"RESOURCE_EXHAUSTED|quota exceeded|exhausted your (?:capacity|quota)", re.I)
_PERMANENT = re.compile(
    r"auth method|api key not valid|invalid api key|\b401\b|\b403\b|permission_denied|"
    r"unauthenticated|model .{0,80}(?:not found|does not exist)",
    re.I,
)
_TRANSIENT = re.compile(
    r"\b429\b|\b5\d\d\b|overloaded|unavailable|deadline exceeded|internal error|"
    r"econnreset|fetch failed|network|timed out",
    re.I,
)


def gemini_command(binary: str, request: AgentRequest) -> list[str]:
    argv = [binary, "-p", request.prompt, "--output-format", "stream-json"]
    if request.model:
        argv += ["-m", request.model]
    mode = request.extra.get("permission_mode", "")
    if mode and mode != "bypassPermissions":
        argv += ["--approval-mode", mode]
    else:
        argv.append("--yolo")
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
    """Reads one gemini stream-json run; see the module docstring."""

    agent = "gemini"

    def __init__(self, sink: AgentSink) -> None:
        super().__init__(sink)
        self._answer = ""  # assistant text since the last tool call
        self._partial = ""

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "init":
            session = event.get("session_id") or event.get("sessionId")
            if isinstance(session, str):
                self.session_id = session
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
            self._judge(message, final=False)
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
            self._judge(_message(event.get("error")) or "gemini reported an error", final=True)

    def _judge(self, message: str, *, final: bool) -> None:
        if _LIMIT.search(message):
            self.note_limit(message, parse_reset_time(message))
        elif not final:
            self.error = message
        elif _PERMANENT.search(message):
            self.note_permanent(message)
        elif _TRANSIENT.search(message):
            self.transient = message
        else:
            self.error = message

    def finish(self, proc: ProcessResult) -> None:
        self._flush()
        stderr = " ".join(line.strip() for line in self.stderr_tail if line.strip())
        if not self.completed:
            self.final_text = self._answer.strip("\n")
        if stderr and _LIMIT.search(stderr) and not proc.timed_out:
            self.note_limit(stderr, parse_reset_time(stderr))
        elif proc.exit_code in _PERMANENT_EXITS:
            kind = _PERMANENT_EXITS[proc.exit_code]
            self.note_permanent(stderr or f"gemini: {kind} error (exit {proc.exit_code})")
        elif not self.completed and proc.exit_code != 0 and stderr and not proc.timed_out:
            self._judge(stderr, final=True)


def _message(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("message") or value.get("type") or "")
    return str(value or "")
