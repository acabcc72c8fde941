"""The OpenAI Responses API as Codex CLI 0.171 uses it: ``POST /v1/responses`` (streaming
SSE: ``response.created``, one ``response.output_item.done`` per output item, then
``response.completed`` with the usage). The brain's shell command goes out as a
``function_call`` of codex's ``exec_command`` tool (``{"cmd": ...}``); its result comes
back in the next request's ``input`` as a ``function_call_output``.

Point the CLI here with ``$CODEX_HOME/config.toml`` (see :func:`codex_env`): a provider
``mock`` with ``base_url = <url>/v1``, ``env_key`` and ``wire_api = "responses"``.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from realcli.brain import Action, Answer
from realcli.clis import cli_binary
from realcli.server import Fault, SSEWriter

_ids = itertools.count(1)

API_KEY_VAR = "MOCK_OPENAI_API_KEY"


class ResponsesProtocol:
    def is_model_request(self, method: str, path: str) -> bool:
        return method == "POST" and path.split("?")[0] == "/v1/responses"

    def brain_inputs(self, body: Any) -> tuple[str, list[str]]:
        items = body.get("input", []) if isinstance(body, dict) else []
        if not isinstance(items, list):
            items = []
        # codex sends its own user messages too (<environment_context>, AGENTS.md): the
        # brain reads all the user text; agentloop's prompt is the one naming the plan.
        prompt = "\n".join(
            text
            for item in items
            if isinstance(item, dict) and item.get("role") == "user"
            for text in _texts(item.get("content"))
        )
        results = [
            _output_text(item.get("output"))
            for item in items
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]
        return prompt, results

    def write_action(self, out: SSEWriter, body: Any, path: str, action: Action) -> None:
        model = body.get("model", "gpt-mock") if isinstance(body, dict) else "gpt-mock"
        n = next(_ids)
        response_id = f"resp_mock{n:06d}"
        out.event(
            {
                "type": "response.created",
                "response": {"id": response_id, "model": model, "status": "in_progress"},
            },
            "response.created",
        )
        if isinstance(action, Answer):
            item: dict[str, Any] = {
                "type": "message",
                "id": f"msg_mock{n:06d}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": action.text, "annotations": []}],
            }
        else:
            item = {
                "type": "function_call",
                "id": f"fc_mock{n:06d}",
                "call_id": f"call_mock{n:06d}",
                "name": "exec_command",
                "arguments": json.dumps({"cmd": action.command}),
                "status": "completed",
            }
        out.event({"type": "response.output_item.done", "item": item}, "response.output_item.done")
        usage = {
            "input_tokens": 1000 + n,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 20 + n,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1020 + 2 * n,
        }
        out.event(
            {
                "type": "response.completed",
                "response": {"id": response_id, "model": model, "usage": usage},
            },
            "response.completed",
        )


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text")
    ]


def _output_text(output: Any) -> str:
    """A ``function_call_output``'s ``output``: a string, or a list of content parts."""
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        return _output_text(output.get("content"))
    return "\n".join(_texts(output))


# -- the failures the OpenAI API answers (wording as api.openai.com / the ChatGPT backend)


def error(status: int, code: str, message: str, kind: str | None = None, **headers: str) -> Fault:
    """An OpenAI error answer (``{"error": {message, type, code}}``)."""
    body = {"error": {"message": message, "type": kind or code, "code": code, "param": None}}
    return Fault(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


def invalid_api_key() -> Fault:
    return error(
        401,
        "invalid_api_key",
        "Incorrect API key provided: sk-test-***. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
    )


def rate_limited(retry_after: int = 1) -> Fault:
    return error(
        429,
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
        "requests",
        retry_after=str(retry_after),
    )


def insufficient_quota() -> Fault:
    return error(
        429,
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
    )


def usage_limit(resets_at: float) -> Fault:
    """What the ChatGPT backend answers a plan at its usage limit."""
    body = {
        "error": {
            "type": "usage_limit_reached",
            "plan_type": "plus",
            "resets_at": int(resets_at),
            "resets_in_seconds": max(0, int(resets_at - time.time())),
        }
    }
    return Fault(429, body)


def server_error() -> Fault:
    return error(
        500,
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
    )


def codex_env(url: str, home: Path, *, retries: int | None = None) -> dict[str, str]:
    """The environment that points Codex at the mock, offline, with a fresh home:
    ``$CODEX_HOME/config.toml`` selects a provider ``mock`` at ``url``. ``retries`` sets the
    provider's ``request_max_retries`` and ``stream_max_retries`` (codex's defaults, 4 and
    5, make a failure that never clears take ~24 s)."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    provider = [
        "[model_providers.mock]",
        'name = "mock"',
        f'base_url = "{url}/v1"',
        f'env_key = "{API_KEY_VAR}"',
        'wire_api = "responses"',
    ]
    if retries is not None:
        provider += [f"request_max_retries = {retries}", f"stream_max_retries = {retries}"]
    config = ['model_provider = "mock"', "", *provider, ""]
    (codex_home / "config.toml").write_text("\n".join(config))
    return {
        "CODEX_HOME": str(codex_home),
        API_KEY_VAR: "sk-test-anything",
        "HOME": str(home),
        "AGENTLOOP_CODEX_BIN": str(cli_binary("codex")),
    }
