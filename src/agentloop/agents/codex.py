"""OpenAI Codex CLI: ``codex exec --json --skip-git-repo-check [-m model] -``, prompt on stdin.

Sandbox: like claude's ``--dangerously-skip-permissions``, the agent must be able to write
the worktree and commit (a worktree's git dir lives outside it), so the adapter passes
``--dangerously-bypass-approvals-and-sandbox`` unless ``extra['sandbox']`` names a codex
sandbox mode (``read-only``, ``workspace-write``...), given as ``--sandbox <mode>``.

Events (``codex exec --json``; offline transcript of 0.169.0 in
``tests/standins/fixtures/codex-0.169.0``): ``thread.started`` (session id),
``item.started``/``item.completed`` (``agent_message`` text is the answer; commands, file
changes, errors get one-line summaries), ``turn.completed`` (usage: ``input_tokens``
already includes ``cached_input_tokens``), ``turn.failed`` and ``error``.
``error`` events reading ``Reconnecting... N/M`` are the CLI retrying on its own:
``sink.retry``. A usage limit is an ``error``/``turn.failed`` message such as ``You've hit
your usage limit. ... try again in 2 days 17 hours 14 minutes.`` (reset parsed when
possible).
"""

from __future__ import annotations

import re
from typing import Any

from agentloop.agents._cli import Transcript, as_count, as_dict, as_list, resolve_bin, run_cli
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink
from agentloop.agents.process import ProcessResult
from agentloop.agents.usage import parse_reset_time

__all__ = ["CodexAgent", "CodexTranscript", "codex_command"]

_RECONNECT = re.compile(r"Reconnecting\.\.\.\s*(?:(\d+)/(\d+))?")
_LIMIT = re.compile(r"usage limit|usage_limit_reached", re.I)
_PERMANENT = re.compile(
    r"\b401\b|\b403\b|unauthorized|not logged in|codex login|invalid api key|"
    r"incorrect api key|exceeded your current quota|model .{0,80}(?:does not exist|not found|"
    r"not supported)|unsupported model",
    re.I,
)
_TRANSIENT = re.compile(
    r"\b429\b|too many requests|rate limit|\b5\d\d\b|overloaded|stream disconnected|"
    r"connection|timed out|network|reconnecting|server error",
    re.I,
)


def codex_command(binary: str, request: AgentRequest) -> list[str]:
    argv = [binary, "exec", "--json", "--skip-git-repo-check"]
    sandbox = request.extra.get("sandbox", "")
    if sandbox:
        argv += ["--sandbox", sandbox]
    else:
        argv.append("--dangerously-bypass-approvals-and-sandbox")
    if request.model:
        argv += ["-m", request.model]
    argv.append("-")
    return argv


class CodexAgent:
    """The ``codex`` adapter."""

    name = "codex"

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        argv = codex_command(resolve_bin(request, self.name, self.binary), request)
        return run_cli(CodexTranscript(sink), argv, request, stdin_text=request.prompt)


class CodexTranscript(Transcript):
    """Reads one ``codex exec --json`` run; see the module docstring."""

    agent = "codex"

    def __init__(self, sink: AgentSink) -> None:
        super().__init__(sink)
        self._reconnects = 0
        self._last_error: str | None = None

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "thread.started" and isinstance(event.get("thread_id"), str):
            self.session_id = event["thread_id"]
        elif kind == "item.started":
            item = as_dict(event.get("item"))
            if item.get("type") == "command_execution":
                self.sink.output(f"$ {item.get('command', '')}")
        elif kind == "item.completed":
            self._item(as_dict(event.get("item")))
        elif kind == "turn.completed":
            self.completed = True
            self.turns = (self.turns or 0) + 1
            usage = as_dict(event.get("usage"))
            self.tokens_in += as_count(usage.get("input_tokens"))
            self.tokens_out += as_count(usage.get("output_tokens"))
        elif kind == "turn.failed":
            self.completed = True
            self.is_error = True
            error = as_dict(event.get("error"))
            message = str(error.get("message") or "turn failed")
            self.sink.output(f"[turn failed] {message}")
            self._classify_message(message)
        elif kind == "error":
            self._error(str(event.get("message") or ""))

    def _item(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "agent_message":
            text = str(item.get("text") or "")
            self.final_text = text
            self.output_text(text)
        elif kind == "reasoning":
            for line in str(item.get("text") or "").splitlines():
                self.sink.output(f"[thinking] {line}")
        elif kind == "command_execution":
            self.sink.output(f"[exec] {item.get('command', '')} -> exit {item.get('exit_code')}")
        elif kind == "file_change":
            for change in map(as_dict, as_list(item.get("changes"))):
                self.sink.output(f"[patch] {change.get('kind', '')} {change.get('path', '')}")
        elif kind == "error":
            self.sink.output(f"[error] {item.get('message', '')}")
        elif kind == "mcp_tool_call":
            self.sink.output(f"[tool] {item.get('server', '')}.{item.get('tool', '')}")
        elif kind == "web_search":
            self.sink.output(f"[search] {item.get('query', '')}")

    def _error(self, message: str) -> None:
        reconnect = _RECONNECT.match(message)
        if reconnect:  # the CLI retrying on its own: the sink shows the progress
            self._reconnects += 1
            attempt = int(reconnect.group(1)) if reconnect.group(1) else self._reconnects
            total = int(reconnect.group(2)) if reconnect.group(2) else None
            self.sink.retry(attempt, total, message, None)
            return
        self.sink.output(f"[error] {message}")
        self._last_error = message
        if _LIMIT.search(message):
            self.note_limit(message, parse_reset_time(message))

    def _classify_message(self, message: str) -> None:
        if _LIMIT.search(message):
            self.note_limit(message, parse_reset_time(message))
        elif _PERMANENT.search(message):
            self.note_permanent(message)
        elif _TRANSIENT.search(message):
            self.transient = message
        else:
            self.error = message

    def finish(self, proc: ProcessResult) -> None:
        if not self.completed and proc.exit_code != 0 and not proc.timed_out:
            last = self._last_error or next(
                (line.strip() for line in reversed(self.stderr_tail) if line.strip()), None
            )
            if last:
                self._classify_message(last)
