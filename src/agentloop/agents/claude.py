"""Claude Code: ``claude -p --output-format stream-json --verbose``, prompt on stdin.

Reads the stream-json protocol (shapes from real Claude Code 2.1.197 transcripts, see
``tests/standins/fixtures/claude-2.1.197``):

- ``system/init``: the session id (``--resume <id>`` continues that session, under the
  same id; an unknown id ends the run before any ``system/init``: "No conversation found
  with session ID"). ``system/api_retry``: the CLI retrying the API on its own, reported to
  ``sink.retry`` (we rely on our timeout, never on its give-up).
- ``assistant``: text blocks are the output (tool calls get a one-line summary);
  ``stream_event`` wrappers (``--include-partial-messages``) are unwrapped, their text
  deltas streamed line by line, and the assistant message repeating them is not printed
  twice. An ``"error"`` field classifies the failure (authentication_failed,
  billing_error, invalid_request: permanent; rate_limit: see below).
- ``result``: final text, ``is_error``, ``num_turns``, ``usage``, ``total_cost_usd``.
  ``tokens_in`` = input + cache creation + cache read tokens (every token the model read);
  ``tokens_out`` = output tokens.
- Usage limit (a hold until the reset), from the protocol only, never from text a tool
  returned: a ``rate_limit_event`` with status ``rejected`` that names the limit
  (``resetsAt`` epoch seconds, ``rateLimitType``, ``overageStatus``); or, in an assistant
  ``"error": "rate_limit"`` message or an erroneous ``result``, the subscription's limit
  wording ("You've hit your session limit · resets 6:51am (UTC)": the reset is read from the
  text when no event gave one); or the legacy line ``Claude AI usage limit reached|<epoch>``
  (the process may exit 0). Any other ``rate_limit`` error or ``result`` 429 is a throttle:
  transient. Claude Code 2.1 says so in its own words: "Request rejected (429)" for an API
  key, "Server is temporarily limiting requests (not your usage limit)" for a subscription,
  the latter after a ``rate_limit_event`` ``rejected`` that names no limit.
- Lines that are not JSON are output as they are; damaged lines are re-synchronised.
"""

from __future__ import annotations

import re
from typing import Any

from agentloop.agents._cli import (
    Transcript,
    as_count,
    as_dict,
    as_float,
    as_int,
    as_list,
    resolve_bin,
    run_cli,
)
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink
from agentloop.agents.process import ProcessResult
from agentloop.agents.usage import parse_epoch, parse_reset_time

__all__ = ["ClaudeAgent", "ClaudeTranscript", "claude_command"]

LEGACY_LIMIT = re.compile(r"Claude AI usage limit reached\|(\d{9,13})")
# How the CLI words an account's limit: the start of the message (2.1 builds "You've hit your
# <session|weekly|Opus|...> limit · resets <when>" from the rejected rate limit; older CLIs
# said "Claude usage limit reached. Your limit will reset at 5pm"). Anchored at the start: a
# throttle's "API Error: Server is temporarily limiting requests (not your usage limit)"
# must not match.
_LIMIT_TEXT = re.compile(
    r"You['\u2019]ve (?:hit|reached) your\b[^\n\u00b7]*?\blimit\b|"
    r"You['\u2019]re out of (?:usage credits|extra usage)|Your org is out of usage|"
    r"Claude (?:AI )?usage limit reached",
    re.I,
)
_PERMANENT_WORDS = re.compile(
    r"not logged in|please run /login|invalid api key|authentication[_ ]failed|"
    r"oauth token (?:has )?expired|credit balance is too low|issue with the selected model|"
    r"model .{0,80}(?:does not exist|not found|not available)|invalid model|not_found_error|"
    r"permission_error|cannot be used with root/sudo privileges",
    re.I,
)
_TRANSIENT_WORDS = re.compile(
    r"overloaded|api error|econnreset|econnrefused|etimedout|connection (?:error|reset|refused)|"
    r"socket hang up|fetch failed|network error|internal server error|service unavailable|"
    r"bad gateway|gateway timeout|rate_limit_error|too many requests|\b5\d\d\b",
    re.I,
)
_PERMANENT_ERRORS = {"authentication_failed", "billing_error", "invalid_request"}
_TOOL_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "description")


def claude_command(binary: str, request: AgentRequest) -> list[str]:
    """The argv for one run: bypass permissions unless ``extra['permission_mode']`` names
    another mode."""
    argv = [binary, "-p", "--output-format", "stream-json", "--verbose"]
    if request.resume_session:
        argv += ["--resume", request.resume_session]
    if request.model:
        argv += ["--model", request.model]
    mode = request.extra.get("permission_mode", "")
    if mode and mode != "bypassPermissions":
        argv += ["--permission-mode", mode]
    else:
        argv.append("--dangerously-skip-permissions")
    return argv


class ClaudeAgent:
    """The ``claude`` adapter. ``binary`` overrides the lookup of :func:`resolve_bin`."""

    name = "claude"

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        argv = claude_command(resolve_bin(request, self.name, self.binary), request)
        return run_cli(ClaudeTranscript(sink), argv, request, stdin_text=request.prompt)


class ClaudeTranscript(Transcript):
    """Reads one stream-json run; see the module docstring."""

    agent = "claude"

    def __init__(self, sink: AgentSink) -> None:
        super().__init__(sink)
        self.last_text = ""
        self._throttle = ""  # a rate_limit error that is no usage limit: the CLI's words
        self._partial = ""  # streamed text not yet ending in a newline
        self._streamed_blocks = 0  # text blocks already printed from stream_event deltas
        self._message_usage: dict[str, dict[str, Any]] = {}

    def plain(self, line: str) -> None:
        self.sink.output(line)
        legacy = LEGACY_LIMIT.fullmatch(line.strip())
        if legacy:
            self.note_limit(line.strip(), parse_epoch(int(legacy.group(1))))

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if self.session_id is None and isinstance(event.get("session_id"), str):
            self.session_id = event["session_id"]
        if kind == "stream_event":
            inner = event.get("event")
            if isinstance(inner, dict):
                self._stream(inner)
        elif kind == "system":
            self._system(event)
        elif kind == "assistant":
            self._assistant(event)
        elif kind == "rate_limit_event":
            self._rate_limit(event)
        elif kind == "result":
            self._result(event)

    def _system(self, event: dict[str, Any]) -> None:
        if event.get("subtype") == "init" and isinstance(event.get("session_id"), str):
            self.note_session(event["session_id"])
        if event.get("subtype") != "api_retry":
            return
        attempt = as_count(event.get("attempt"))
        max_retries = as_int(event.get("max_retries"))
        delay_ms = as_float(event.get("retry_delay_ms"))
        status, error = event.get("error_status"), event.get("error") or "unknown"
        reason = f"{status} {error}" if status else str(error)
        self.sink.retry(attempt, max_retries, reason, delay_ms)  # the sink shows progress

    def _stream(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_start":
            block = as_dict(event.get("content_block"))
            if block.get("type") == "text":
                self._streamed_blocks += 1
                self._partial += str(block.get("text") or "")
        elif kind == "content_block_delta":
            delta = as_dict(event.get("delta"))
            if delta.get("type") == "text_delta":
                self._partial += str(delta.get("text") or "")
                *lines, self._partial = self._partial.split("\n")
                for line in lines:
                    self.sink.output(line)
        elif kind in ("content_block_stop", "message_stop"):
            self._flush_partial()

    def _flush_partial(self) -> None:
        if self._partial:
            self.sink.output(self._partial)
            self._partial = ""

    def _assistant(self, event: dict[str, Any]) -> None:
        self._flush_partial()
        message = as_dict(event.get("message"))
        texts = []
        for block in as_list(message.get("content")):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                text = str(block.get("text") or "")
                texts.append(text)
                if self._streamed_blocks > 0:
                    self._streamed_blocks -= 1
                else:
                    self.output_text(text)
            elif block.get("type") == "tool_use":
                self.sink.output(_tool_summary(block))
        if texts:
            self.last_text = "\n".join(texts)
        if isinstance(message.get("id"), str) and isinstance(message.get("usage"), dict):
            self._message_usage[message["id"]] = message["usage"]
        error = event.get("error")
        if isinstance(error, str) and error:
            self._assistant_error(error, "\n".join(texts).strip())

    def _assistant_error(self, error: str, text: str) -> None:
        if error == "rate_limit":
            if self.limit_hit or _is_limit_text(text):
                self.note_limit(text, parse_reset_time(text) if text else None)
            else:
                self._throttle = text or "rate limited (429)"
        elif error in _PERMANENT_ERRORS:
            self.note_permanent(text or error)
        else:
            self.error = text or error

    def _rate_limit(self, event: dict[str, Any]) -> None:
        info = as_dict(event.get("rate_limit_info"))
        status = info.get("status")
        resets = parse_epoch(info.get("resetsAt"))
        kind = info.get("rateLimitType") or "?"
        self.sink.output(f"[rate limit] {status} ({kind})")
        # "rejected" naming no limit comes with a subscription's throttle ("not your usage
        # limit"): only a rejection of a named limit is the account's
        named = resets is not None or bool(info.get("rateLimitType") or info.get("overageStatus"))
        if status == "rejected" and named:
            self.limit_hit = True
            if resets is not None:
                self.resume_at = resets  # the protocol's own reset time outranks text

    def _result(self, event: dict[str, Any]) -> None:
        self._flush_partial()
        self.completed = True
        text = event.get("result")
        self.final_text = text if isinstance(text, str) else ""
        self.is_error = bool(event.get("is_error"))
        self.turns = as_int(event.get("num_turns"))
        self.cost_usd = as_float(event.get("total_cost_usd"))
        self.tokens_in, self.tokens_out = _tokens(event.get("usage"))
        legacy = LEGACY_LIMIT.fullmatch(self.final_text.strip())
        if legacy:
            self.note_limit(self.final_text.strip(), parse_epoch(int(legacy.group(1))))
        elif self.is_error:
            self._result_error(self.final_text.strip(), event)

    def _result_error(self, text: str, event: dict[str, Any]) -> None:
        status = as_int(event.get("api_error_status"))
        if _is_limit_text(text):
            self.note_limit(text, parse_reset_time(text))
        elif status in (401, 403) or _PERMANENT_WORDS.search(text):
            self.note_permanent(text or f"API error {status}")
        elif status == 429 or self._throttle or (status is not None and 500 <= status < 600):
            self.transient = text or self._throttle or f"API error {status}"
        elif _TRANSIENT_WORDS.search(text):
            self.transient = text
        else:
            self.error = text or f"claude result: {event.get('subtype') or 'error'}"

    def finish(self, proc: ProcessResult) -> None:
        self._flush_partial()
        if not self.completed:
            self.final_text = self.last_text
            counts = [_tokens(usage) for usage in self._message_usage.values()]
            self.tokens_in = sum(tokens_in for tokens_in, _ in counts)
            self.tokens_out = sum(tokens_out for _, tokens_out in counts)
        if self.completed or self.permanent is not None or self.limit_hit:
            return
        if self._throttle:  # the CLI gave up on a throttle, and ended without a result
            self.transient = self._throttle
            return
        for line in self.stderr_tail:  # the CLI's own complaints, e.g. refusing to run as root
            if _PERMANENT_WORDS.search(line):
                self.note_permanent(line.strip())
                return
        if proc.exit_code != 0 and not proc.timed_out:
            for line in self.stderr_tail:
                if _TRANSIENT_WORDS.search(line):
                    self.transient = line.strip()


def _is_limit_text(text: str) -> bool:
    """Whether the CLI's own message (not a tool's) words an account's usage limit."""
    text = text.strip()
    return bool(_LIMIT_TEXT.match(text) or LEGACY_LIMIT.fullmatch(text))


def _tokens(usage: object) -> tuple[int, int]:
    """(input, output) tokens of a usage object; input counts cache writes and reads."""
    usage = as_dict(usage)
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    tokens_in = sum(as_count(usage.get(key)) for key in keys)
    return tokens_in, as_count(usage.get("output_tokens"))


def _tool_summary(block: dict[str, Any]) -> str:
    name = block.get("name") or "tool"
    args = as_dict(block.get("input"))
    detail = next((str(args[k]) for k in _TOOL_KEYS if isinstance(args.get(k), str)), "")
    detail = " ".join(detail.split())
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return f"[tool] {name} {detail}".rstrip()
