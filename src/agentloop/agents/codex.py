"""OpenAI Codex CLI: ``codex exec --json --skip-git-repo-check [-m model] -``, prompt on stdin.

Sandbox: like claude's ``--dangerously-skip-permissions``, the agent must be able to write
the worktree and commit (a worktree's git dir lives outside it), so the adapter passes
``--dangerously-bypass-approvals-and-sandbox`` unless ``extra['sandbox']`` names a codex
sandbox mode (``read-only``, ``workspace-write``...), given as ``--sandbox <mode>``.

Resuming a session: ``codex exec ... resume <thread id> -`` (the exec options stay before
``resume``); the thread keeps its id, and an unknown one ends codex at once with nothing on
stdout ("thread/resume failed: no rollout found for thread id ...").

Events (``codex exec --json``; real transcripts of 0.171.0 against a mock model in
``fixtures/codex-0.171.0``): ``thread.started`` (session id),
``item.started``/``item.completed`` (``agent_message`` text is the answer; commands, file
changes, errors get one-line summaries), ``turn.completed`` (usage: ``input_tokens``
already includes ``cached_input_tokens``; codex reports no cost), ``turn.failed`` and
``error``. ``error`` events reading ``Reconnecting... N/M (...)`` are the CLI retrying on
its own: ``sink.retry``. The ``turn.failed`` message classifies the failure:

- usage limit: ``You've hit your usage limit. ... try again at 7:36 AM.`` (0.171 writes a
  curly apostrophe; the reset to the minute in codex's local time, ``Jul 5th, 2026 8:19 PM``
  when not today, ``try again later`` when unknown). A ``resets_at`` in the event itself
  would be preferred; 0.171 gives none;
- permanent: ``unexpected status 401 Unauthorized: ...`` (after 5 reconnects),
  ``Quota exceeded. Check your plan and billing details.`` (429 ``insufficient_quota``),
  ``The requested model 'opus' does not exist.``;
- transient (codex gave up retrying): ``exceeded retry limit, last status: 429 Too Many
  Requests``, ``We're currently experiencing high demand, which may cause temporary
  errors.`` (a 5xx: no status code in the text), stream disconnects and timeouts.
"""

from __future__ import annotations

import re
import time
from datetime import tzinfo
from typing import Any

from agentloop.agents._cli import (
    Transcript,
    as_count,
    as_dict,
    as_float,
    as_list,
    resolve_bin,
    run_cli,
)
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink
from agentloop.agents.process import ProcessResult
from agentloop.agents.usage import parse_epoch, parse_reset_time, zone_of_env

__all__ = ["CodexAgent", "CodexTranscript", "codex_command"]

_RECONNECT = re.compile(r"Reconnecting\.\.\.\s*(?:(\d+)/(\d+))?")
_LIMIT = re.compile(r"usage limit|usage_limit_reached", re.I)
_PERMANENT = re.compile(
    r"\b401\b|\b403\b|unauthorized|not logged in|codex login|invalid api key|"
    r"incorrect api key|exceeded your current quota|quota exceeded|insufficient_quota|"
    r"check your plan and billing|model .{0,80}(?:does not exist|not found|not supported)|"
    r"unsupported model",
    re.I,
)
_TRANSIENT = re.compile(
    r"\b429\b|too many requests|rate limit|\b5\d\d\b|overloaded|stream disconnected|"
    r"connection|timed out|timeout|network|reconnecting|server error|exceeded retry limit|"
    r"high demand|temporary errors?|temporarily unavailable|service unavailable",
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
    if request.resume_session:
        argv += ["resume", request.resume_session]
    argv.append("-")
    return argv


class CodexAgent:
    """The ``codex`` adapter."""

    name = "codex"

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        argv = codex_command(resolve_bin(request, self.name, self.binary), request)
        transcript = CodexTranscript(sink, tz=zone_of_env(request.env))
        return run_cli(transcript, argv, request, stdin_text=request.prompt)


class CodexTranscript(Transcript):
    """Reads one ``codex exec --json`` run; see the module docstring. ``tz``: the zone codex
    tells reset times in (its ``TZ``), when it is not ours."""

    agent = "codex"

    def __init__(self, sink: AgentSink, *, tz: tzinfo | None = None) -> None:
        super().__init__(sink)
        self.tz = tz
        self._reconnects = 0
        self._last_error: str | None = None

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "thread.started" and isinstance(event.get("thread_id"), str):
            self.note_session(event["thread_id"])
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
            self._classify_message(message, _given_reset(error, event))
        elif kind == "error":
            self._error(str(event.get("message") or ""), _given_reset(event))

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

    def _error(self, message: str, given_reset: float | None = None) -> None:
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
            self._note_limit(message, given_reset)

    def _note_limit(self, message: str, given_reset: float | None) -> None:
        """A usage limit: the reset the event gave, else the one its wording names."""
        reset = given_reset if given_reset is not None else parse_reset_time(message, tz=self.tz)
        self.note_limit(message, reset)

    def _classify_message(self, message: str, given_reset: float | None = None) -> None:
        if _LIMIT.search(message):
            self._note_limit(message, given_reset)
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


def _given_reset(*sources: dict[str, Any]) -> float | None:
    """A reset time the event states as data (``resets_at`` epoch or ISO time,
    ``resets_in_seconds``), which beats any wording; None when it has none."""
    for source in sources:
        if (at := parse_epoch(source.get("resets_at"))) is not None:
            return at
        seconds = as_float(source.get("resets_in_seconds"))
        if seconds is not None and seconds >= 0:
            return time.time() + seconds
    return None
