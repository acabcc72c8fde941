"""opencode: ``opencode run --format json --title <title> --print-logs --log-level ERROR
[-m model]``, prompt on stdin.

The prompt goes on stdin because opencode 1.18 quotes a positional message that contains
spaces: the model would read ``"...\\"..."``. ``--title`` spares the session's title
request, a model call of its own whose tokens and cost no event reports. No ``-m`` when
the request names no model: opencode's configured default (its ``model`` setting). opencode
works in ``$PWD``, not in its cwd: :func:`~agentloop.agents._cli.run_cli` sets ``PWD``.

Events (one JSON object per line, each with ``sessionID``): ``step_start``, ``text``
(``part.text``), ``tool_use`` (``part.tool``, ``part.state``), ``step_finish``
(``part.tokens`` input/output/reasoning/cache, ``part.cost``, ``part.reason``; a reason
other than ``tool-calls`` ends the run and that step's text is the answer) and ``error``.
``tokens_in`` = input + cache read + cache write; ``tokens_out`` = output + reasoning.
``cost`` is opencode's own price table times the tokens: 0 for a model it has no price for
(a custom provider) as for a free one, so a run whose steps all cost 0 reports no cost
(None), not a cost of $0.

Failures (``fixtures/opencode-1.18.33``): an ``error`` event (``name``, ``data.message``,
``data.statusCode``); 401/403 are permanent; 429 and 5xx are retried by opencode itself
(silently) and reported only when it gives up: transient. opencode 1.18.33 with no
credentials printed nothing and never exited: only the timeout stops it.

What the ``error`` event leaves out (an unknown model is only ``UnknownError: Unexpected
server error``), and the retries opencode makes in silence, are in its own log:
``--print-logs --log-level ERROR`` puts its ERROR lines on stderr, logfmt
(``level=ERROR ... message="stream error" ... error.error="AI_APICallError: <message>"``;
``message=failed ... error="ProviderModelNotFoundError: Model not found: <model>."``). A
model not found is permanent; a failed model call is a retry of the step's CLI
(``AGENT_RETRY``), but an exhausted quota (``insufficient_quota``), which opencode would
retry until the step's timeout, ends the CLI at once as a permanent failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentloop.agents._cli import (
    Transcript,
    as_count,
    as_dict,
    as_float,
    as_int,
    plain_text,
    resolve_bin,
    run_cli,
)
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink
from agentloop.agents.process import ProcessResult
from agentloop.agents.usage import parse_reset_time

__all__ = ["OpencodeAgent", "OpencodeTranscript", "opencode_command", "session_title"]

_LIMIT = re.compile(r"usage limit|quota exceeded|RESOURCE_EXHAUSTED", re.I)
_PERMANENT = re.compile(
    r"auth|api key|\b401\b|\b403\b|unauthorized|model .{0,80}(?:not found|does not exist)", re.I
)
_EXHAUSTED_QUOTA = re.compile(r"exceeded your current quota|insufficient_quota", re.I)
# logfmt fields of opencode's log lines: key=value or key="value with \"escapes\""
_LOG_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
_TRANSIENT = re.compile(
    r"\b429\b|rate limit|\b5\d\d\b|overloaded|network|timed out|econnreset", re.I
)


def opencode_command(binary: str, request: AgentRequest) -> list[str]:
    """The command line; the prompt goes on stdin."""
    argv = [binary, "run", "--format", "json", "--title", session_title(request)]
    argv += ["--print-logs", "--log-level", "ERROR"]
    if request.resume_session:  # an unknown id: "Error: Session not found", exit 1
        argv += ["--session", request.resume_session]
    if request.model:
        argv += ["-m", request.model]
    return argv


def session_title(request: AgentRequest) -> str:
    """The title of the step's opencode session (as opencode lists it)."""
    run = f" {request.run_id}" if request.run_id else ""
    return f"agentloop{run} {request.phase} {request.iteration}"


class OpencodeAgent:
    """The ``opencode`` adapter."""

    name = "opencode"

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        argv = opencode_command(resolve_bin(request, self.name, self.binary), request)
        return run_cli(OpencodeTranscript(sink), argv, request, stdin_text=request.prompt)


def log_fields(line: str) -> dict[str, str]:
    """The fields of one of opencode's logfmt log lines (quoted values unescaped)."""
    fields = {}
    for key, value in _LOG_FIELD.findall(line):
        if value.startswith('"'):
            try:
                value = str(json.loads(value))
            except ValueError:
                value = value[1:-1]
        fields[key] = value
    return fields


class OpencodeTranscript(Transcript):
    """Reads one ``opencode run --format json`` run; see the module docstring."""

    agent = "opencode"

    def __init__(self, sink: AgentSink) -> None:
        super().__init__(sink)
        self._step_text: list[str] = []
        self._retries = 0

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if isinstance(event.get("sessionID"), str):
            self.note_session(event["sessionID"])
        part = as_dict(event.get("part"))
        if kind == "step_start":
            self._step_text = []
        elif kind == "text":
            text = str(part.get("text") or "")
            self._step_text.append(text)
            self.output_text(text)
        elif kind == "tool_use":
            state = as_dict(part.get("state"))
            self.sink.output(f"[tool] {part.get('tool', '')} {state.get('status', '')}".rstrip())
        elif kind == "step_finish":
            self._step_finish(part)
        elif kind == "error":
            self._error(event.get("error"))

    def on_stderr(self, line: str) -> None:
        fields = log_fields(plain_text(line))
        if fields.get("level") != "ERROR":
            super().on_stderr(line)
            return
        what, error = fields.get("message", ""), fields.get("error.error") or fields.get("error")
        if not error or what == "share subscriber failed":  # the same error, told twice
            return
        error = error.split("\n", 1)[0]
        self.stderr_tail.append(error)
        self.sink.output(f"[opencode] {what}: {error}")
        if "ProviderModelNotFoundError" in error or "ModelNotFound" in error:
            self.note_permanent(f"opencode: {error}")
        elif what == "stream error":
            self._model_call_failed(error.removeprefix("AI_APICallError: "))

    def _model_call_failed(self, message: str) -> None:
        if _EXHAUSTED_QUOTA.search(message):
            self.give_up(f"opencode: {message}")
        elif _LIMIT.search(message):
            self.note_limit(message, parse_reset_time(message))
            self.gave_up.set()
        else:
            self._retries += 1
            self.sink.retry(self._retries, None, message, None)

    def _step_finish(self, part: dict[str, Any]) -> None:
        tokens = as_dict(part.get("tokens"))
        cache = as_dict(tokens.get("cache"))
        self.tokens_in += (
            as_count(tokens.get("input"))
            + as_count(cache.get("read"))
            + as_count(cache.get("write"))
        )
        self.tokens_out += as_count(tokens.get("output")) + as_count(tokens.get("reasoning"))
        cost = as_float(part.get("cost"))
        if cost is not None and cost > 0:  # 0: free, or no price known (module docstring)
            self.cost_usd = (self.cost_usd or 0.0) + cost
        self.turns = (self.turns or 0) + 1
        if part.get("reason") != "tool-calls":
            self.completed = True
            self.final_text = "\n".join(self._step_text).strip("\n")

    def _error(self, error: object) -> None:
        name, message, status = "", str(error or "error"), None
        if isinstance(error, dict):
            name = str(error.get("name") or "")
            data = as_dict(error.get("data"))
            message = str(data.get("message") or error.get("message") or name or "error")
            status = as_int(data.get("statusCode"))
        self.sink.output(f"[error] {name + ': ' if name else ''}{message}")
        self.is_error = True
        text = f"{name} {message}"
        if _LIMIT.search(text):
            self.note_limit(message, parse_reset_time(message))
        elif status in (401, 403) or "Auth" in name or _PERMANENT.search(text):
            self.note_permanent(message)
        elif status == 429 or (status or 0) >= 500 or _TRANSIENT.search(text):
            self.transient = message
        else:
            self.error = message

    def finish(self, proc: ProcessResult) -> None:
        if not self.completed:
            self.final_text = "\n".join(self._step_text).strip("\n")
