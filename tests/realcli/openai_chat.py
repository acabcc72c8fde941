"""The OpenAI Chat Completions API as opencode 1.18 uses it (through its provider package
``@ai-sdk/openai-compatible``): ``POST /v1/chat/completions``, streaming SSE
``chat.completion.chunk`` objects (a text ``delta.content`` or one ``delta.tool_calls``
entry, then a chunk with ``finish_reason`` and one with the ``usage``), then ``[DONE]``.
The brain's shell command goes out as a call of opencode's ``bash`` tool (``command``,
``description``); its result comes back in the next request as a ``role: tool`` message.

Per session opencode also asks, once, for a title: a request without ``tools``. It is
answered with the brain's label and never reaches :meth:`Brain.decide`, so the brain sees
the same conversation as with the other CLIs.

Point the CLI here with ``OPENCODE_CONFIG_CONTENT`` (see :func:`opencode_env`): a provider
``mock`` (``npm: @ai-sdk/openai-compatible``, ``options.baseURL`` = ``<url>/v1``) with one
model ``mock-model``, chosen as the default ``model``.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from realcli.brain import Action, Answer, ShellCall
from realcli.clis import cli_binary
from realcli.openai_errors import (  # noqa: F401  (the tests' fault builders)
    error,
    insufficient_quota,
    invalid_api_key,
    rate_limited,
    server_error,
)
from realcli.server import SSEWriter, text_parts

_ids = itertools.count(1)

MODEL = "mock/mock-model"


class ChatProtocol:
    def is_model_request(self, method: str, path: str) -> bool:
        return method == "POST" and path.split("?")[0] == "/v1/chat/completions"

    def brain_inputs(self, body: Any) -> tuple[str, list[str]]:
        messages = body.get("messages", []) if isinstance(body, dict) else []
        if not isinstance(messages, list):
            messages = []
        first = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), {})
        prompt = "\n".join(text_parts(first.get("content")))
        results = [
            "\n".join(text_parts(m.get("content")))
            for m in messages
            if isinstance(m, dict) and m.get("role") == "tool"
        ]
        return prompt, results

    def write_action(self, out: SSEWriter, body: Any, path: str, action: Action) -> None:
        if is_title_request(body) and isinstance(action, ShellCall):
            action = Answer("Mock title")
        model = body.get("model", "mock-model") if isinstance(body, dict) else "mock-model"
        n = next(_ids)
        base = {
            "id": f"chatcmpl-mock{n:06d}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            out.event({**base, "choices": [choice]})

        if isinstance(action, Answer):
            chunk({"role": "assistant", "content": action.text})
            finish = "stop"
        else:
            args = {"command": action.command, "description": action.description}
            call = {
                "index": 0,
                "id": f"call_mock{n:06d}",
                "type": "function",
                "function": {"name": "bash", "arguments": json.dumps(args)},
            }
            chunk({"role": "assistant", "content": None, "tool_calls": [call]})
            finish = "tool_calls"
        chunk({}, finish)
        usage = {
            "prompt_tokens": 1000 + n,
            "completion_tokens": 20 + n,
            "total_tokens": 1020 + 2 * n,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        out.event({**base, "choices": [], "usage": usage})
        out.event("[DONE]")


def is_title_request(body: Any) -> bool:
    """opencode's title request: the one model request of a session offered no tools."""
    return isinstance(body, dict) and not body.get("tools")


def opencode_config(url: str, models: dict[str, Any] | None = None) -> dict[str, Any]:
    """opencode's configuration: the provider ``mock`` at ``url``, its model ``mock-model``
    (no price) plus ``models`` (opencode's model entries by id), and the default model."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": MODEL,
        "autoupdate": False,
        "share": "disabled",
        "provider": {
            "mock": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Mock",
                "options": {"baseURL": f"{url}/v1", "apiKey": "sk-test-anything"},
                "models": {"mock-model": {"name": "Mock model"}, **(models or {})},
            }
        },
    }


def opencode_env(url: str, home: Path, models: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment that points opencode at the mock, offline, with a fresh home and
    fresh XDG directories (opencode keeps its sessions, logs and caches there). The provider
    package needs no install: opencode 1.18.33 has ``@ai-sdk/openai-compatible`` built in."""
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return {
        **{key: str(path) for key, path in dirs.items()},
        "OPENCODE_CONFIG_CONTENT": json.dumps(opencode_config(url, models)),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "AGENTLOOP_OPENCODE_BIN": str(cli_binary("opencode")),
    }
