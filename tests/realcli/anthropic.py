"""The Anthropic Messages API as Claude Code 2.1 uses it: ``POST /v1/messages`` (streaming
SSE: message_start, content blocks with text / tool_use deltas, message_delta, message_stop).
The brain's shell command goes out as a ``Bash`` tool call.

Point the CLI here with ``ANTHROPIC_BASE_URL`` (see :func:`claude_env`). The error answers
below are the ones of fixtures/claude-2.1.197 (its README and cases.json), headers included:
Claude Code decides on them (``retry-after``, ``x-should-retry``, the
``anthropic-ratelimit-unified-*`` of a subscription login)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from realcli.brain import Action, Answer
from realcli.server import Fault, SSEWriter, fault, text_parts

_ids = itertools.count(1)


class AnthropicProtocol:
    def is_model_request(self, method: str, path: str) -> bool:
        return method == "POST" and path.split("?")[0] == "/v1/messages"

    def brain_inputs(self, body: Any) -> tuple[str, list[str]]:
        messages = body.get("messages", []) if isinstance(body, dict) else []
        first = next((m for m in messages if m.get("role") == "user"), {})
        prompt = "\n".join(text_parts(first.get("content")))
        results: list[str] = []
        for message in messages:
            content = message.get("content")
            if message.get("role") != "user" or not isinstance(content, list):
                continue
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    results.append("\n".join(text_parts(block.get("content"))))
        return prompt, results

    def write_action(self, out: SSEWriter, body: Any, path: str, action: Action) -> None:
        model = body.get("model", "claude-mock") if isinstance(body, dict) else "claude-mock"
        n = next(_ids)
        usage = {
            "input_tokens": 1000 + n,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        message = {
            "id": f"msg_mock{n:06d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        out.event({"type": "message_start", "message": message}, "message_start")
        if isinstance(action, Answer):
            block = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": action.text}
            stop = "end_turn"
        else:
            block = {"type": "tool_use", "id": f"toolu_mock{n:06d}", "name": "Bash", "input": {}}
            args = {"command": action.command, "description": action.description}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
            stop = "tool_use"
        out.event(
            {"type": "content_block_start", "index": 0, "content_block": block},
            "content_block_start",
        )
        out.event(
            {"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"
        )
        out.event({"type": "content_block_stop", "index": 0}, "content_block_stop")
        out.event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 20 + n},
            },
            "message_delta",
        )
        out.event({"type": "message_stop"}, "message_stop")


def error(status: int, kind: str, message: str, **headers: str) -> Fault:
    """An Anthropic error answer (``{"type": "error", "error": {type, message}}``)."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return fault(status, body, **headers)


def rate_limited(retry_after: int) -> Fault:
    """An API-key organisation's rate limit. Claude Code retries it after ``retry-after``
    seconds (``system/api_retry``), and gives up at once when that is over 60 s."""
    return error(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization",
        retry_after=str(retry_after),
    )


def throttled() -> Fault:
    """A 429 without the unified rate-limit headers: to a subscription login, a throttle that
    is "not your usage limit" (the CLI does not retry it)."""
    return error(429, "rate_limit_error", "Rate limited")


def usage_limit(resets_at: int) -> Fault:
    """A subscription's five-hour limit, as the unified rate-limit headers say it."""
    return error(
        429,
        "rate_limit_error",
        "Rate limited",
        anthropic_ratelimit_unified_status="rejected",
        anthropic_ratelimit_unified_reset=str(resets_at),
        anthropic_ratelimit_unified_representative_claim="five_hour",
    )


def invalid_api_key() -> Fault:
    """The API's 401; ``x-should-retry: false`` is what stops Claude Code retrying it (without
    it, 2.1.197 retries a 401 ten times with backoff)."""
    return error(401, "authentication_error", "invalid x-api-key", x_should_retry="false")


def overloaded() -> Fault:
    return error(529, "overloaded_error", "Overloaded")


OAUTH_TOKEN = "sk-ant-oat01-test-anything"


def claude_env(url: str, home: Path, *, oauth: bool = False) -> dict[str, str]:
    """The environment that points Claude Code at the mock, offline, with a fresh home; logged
    in with an API key, or (``oauth``) like a claude.ai subscription, whose limits are the
    account's (``CLAUDE_CODE_OAUTH_TOKEN``, as the fixtures' usage-limit case)."""
    home.mkdir(parents=True, exist_ok=True)
    login = {"CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN} if oauth else {}
    return {
        "ANTHROPIC_BASE_URL": url,
        **(login or {"ANTHROPIC_API_KEY": "sk-test-anything"}),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "IS_SANDBOX": "1",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
    }
