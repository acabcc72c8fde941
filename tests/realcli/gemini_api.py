"""The Gemini API as the Gemini CLI 0.61 uses it: one ``POST
/v1beta/models/<model>:streamGenerateContent?alt=sse`` per turn (SSE ``data:`` chunks of a
``GenerateContentResponse``: ``candidates[0].content.parts`` and ``usageMetadata``). The
brain's shell command goes out as a ``functionCall`` of the CLI's ``run_shell_command`` tool
(``{command, description, dir_path, is_background, delay_ms}``); its result comes back in
the next request's ``contents`` as a ``functionResponse``.

Without ``-m`` the CLI asks for "auto" and routes each session first: a ``POST
/v1beta/models/<utility model>:generateContent`` asks for a complexity score in JSON, and
the score picks the model of every turn. Those count as model requests too (a queued
:class:`Fault` reaches them first), so tests that queue faults name a model (no routing).

Point the CLI here with ``GOOGLE_GEMINI_BASE_URL`` and an API key, in a fresh ``$HOME``
whose ``.gemini/settings.json`` selects the ``gemini-api-key`` auth type (see
:func:`gemini_env`; without it 0.61 picks its "gateway" auth for a base URL and refuses it
headless). The CLI refuses shell commands with ``$(`` ("Command injection detected"); the
brain's commands have none.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from realcli.brain import Action, Answer
from realcli.clis import cli_binary
from realcli.server import Fault, SSEWriter

_ids = itertools.count(1)
_MODEL_PATH = re.compile(
    r"^/v1beta/models/(?P<model>[^/:?]+):(?P<method>streamGenerateContent|generateContent)$"
)


class GeminiProtocol:
    """One model turn per ``streamGenerateContent``; a ``generateContent`` is the router's
    classifier call, answered with ``complexity_score`` (under the CLI's threshold of 90:
    its flash model)."""

    def __init__(self, complexity_score: int = 30) -> None:
        self.complexity_score = complexity_score

    def is_model_request(self, method: str, path: str) -> bool:
        return method == "POST" and _MODEL_PATH.match(path.split("?")[0]) is not None

    def brain_inputs(self, body: Any) -> tuple[str, list[str]]:
        contents = body.get("contents", []) if isinstance(body, dict) else []
        if not isinstance(contents, list):
            contents = []
        # the first user content: the CLI's <session_context> (a directory tree that names
        # the plan too), then agentloop's prompt with its @-mentions expanded (relative to
        # the workspace, the files' text appended): the brain reads the prompt's text
        first = next((c for c in contents if isinstance(c, dict) and c.get("role") == "user"), {})
        texts = _texts(first.get("parts"))
        prompt = "\n".join(t for t in texts if not t.startswith("<session_context>"))
        results = [
            _response_text(part["functionResponse"].get("response"))
            for content in contents
            if isinstance(content, dict) and content.get("role") == "user"
            for part in _parts(content.get("parts"))
            if isinstance(part.get("functionResponse"), dict)
        ]
        return prompt, results

    def write_action(self, out: SSEWriter, body: Any, path: str, action: Action) -> None:
        n = next(_ids)
        model = model_of(path) or "gemini-mock"
        if is_utility_request(path):
            out.json(_response(n, model, {"text": self._utility_answer(body, action)}))
            return
        if isinstance(action, Answer):
            part: dict[str, Any] = {"text": action.text}
        else:
            args = {"command": action.command, "description": action.description}
            part = {"functionCall": {"name": "run_shell_command", "args": args}}
        out.event(_response(n, model, part))

    def _utility_answer(self, body: Any, action: Action) -> str:
        system = "\n".join(_texts(_dict(_dict(body).get("systemInstruction")).get("parts")))
        if "complexity_score" in system:  # NumericalClassifierStrategy
            answer = {"complexity_reasoning": "Mock.", "complexity_score": self.complexity_score}
            return json.dumps(answer)
        if "model_choice" in system:  # ClassifierStrategy
            return json.dumps({"reasoning": "Mock.", "model_choice": "flash"})
        return action.text if isinstance(action, Answer) else "OK"


def is_utility_request(path: str) -> bool:
    """A ``generateContent`` call: the CLI's own (routing), not a turn of the session."""
    match = _MODEL_PATH.match(path.split("?")[0])
    return match is not None and match.group("method") == "generateContent"


def model_of(path: str) -> str | None:
    """The model a request path asks for (``/v1beta/models/<model>:...``)."""
    match = _MODEL_PATH.match(path.split("?")[0])
    return match.group("model") if match else None


def _response(n: int, model: str, part: dict[str, Any]) -> dict[str, Any]:
    """A ``GenerateContentResponse`` with one candidate of one part, and its usage."""
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 1000 + n,
            "candidatesTokenCount": 20 + n,
            "totalTokenCount": 1020 + 2 * n,
        },
        "modelVersion": model,
        "responseId": f"mock{n:06d}",
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _parts(parts: Any) -> list[dict[str, Any]]:
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _texts(parts: Any) -> list[str]:
    return [str(p["text"]) for p in _parts(parts) if isinstance(p.get("text"), str)]


def _response_text(response: Any) -> str:
    """A ``functionResponse.response``: ``{"output": ...}`` (or ``{"error": ...}``)."""
    if isinstance(response, dict):
        return "\n".join(str(v) for v in response.values())
    return str(response or "")


# -- the failures the Gemini API answers (shapes of generativelanguage.googleapis.com)


def error(status: int, code: str, message: str, *details: dict[str, Any]) -> Fault:
    """A Google API error answer (``{"error": {code, message, status, details}}``)."""
    body = {"error": {"code": status, "message": message, "status": code, "details": [*details]}}
    return Fault(status, body)


def invalid_api_key() -> Fault:
    return error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
    )


def _quota(quota_id: str, retry_delay: str | None) -> Fault:
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": "gemini-2.5-pro"},
                    "quotaValue": "50",
                }
            ],
        }
    ]
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    return error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        *details,
    )


def rate_limited(retry_delay: str = "1s") -> Fault:
    """A per-minute quota: the CLI waits ``retry_delay`` (at least its own 5 s) and retries."""
    return _quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", retry_delay)


def daily_quota(retry_delay: str | None = None) -> Fault:
    """The daily quota (the CLI's TerminalQuotaError): it gives up at once, exit 173."""
    return _quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", retry_delay)


def model_not_found(model: str) -> Fault:
    return error(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version v1beta, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


def unavailable() -> Fault:
    return error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def gemini_env(url: str, home: Path, *, max_attempts: int | None = None) -> dict[str, str]:
    """The environment that points the Gemini CLI at the mock, offline, with a fresh home.
    The workspace is NOT trusted here (no ``GEMINI_CLI_TRUST_WORKSPACE``): the adapter must
    make a fresh worktree work by itself. ``max_attempts`` sets ``general.maxAttempts`` (the
    CLI's default, 10 with backoff from 5 s, makes a failure that never clears take
    minutes). ``TMPDIR`` keeps the CLI's error reports (``gemini-client-error-*.json``) in
    the home."""
    settings: dict[str, Any] = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
    if max_attempts is not None:
        settings["general"] = {"maxAttempts": max_attempts}
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    (home / "tmp").mkdir(exist_ok=True)
    return {
        "GOOGLE_GEMINI_BASE_URL": url,
        "GEMINI_API_KEY": "test-key-anything",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "AGENTLOOP_GEMINI_BIN": str(cli_binary("gemini")),
    }
