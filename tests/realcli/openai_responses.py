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
from pathlib import Path
from typing import Any

from realcli.brain import Action, Answer
from realcli.clis import cli_binary
from realcli.openai_errors import (  # noqa: F401  (the tests' fault builders)
    error,
    insufficient_quota,
    invalid_api_key,
    rate_limited,
    server_error,
    usage_limit,
)
from realcli.server import SSEWriter, text_parts

_ids = itertools.count(1)
_KINDS = ("input_text", "output_text", "text")

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
            for text in text_parts(item.get("content"), _KINDS)
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
            arguments: dict[str, Any] = {"cmd": action.command}
            if action.wait_sec is not None:
                arguments["yield_time_ms"] = int(action.wait_sec * 1000)
            item = {
                "type": "function_call",
                "id": f"fc_mock{n:06d}",
                "call_id": f"call_mock{n:06d}",
                "name": "exec_command",
                "arguments": json.dumps(arguments),
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


def _output_text(output: Any) -> str:
    """A ``function_call_output``'s ``output``: a string, or a list of content parts."""
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        return _output_text(output.get("content"))
    return "\n".join(text_parts(output, _KINDS))


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
