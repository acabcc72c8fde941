"""The failures the OpenAI API answers (wording as api.openai.com and the ChatGPT backend),
for both mocks that speak it: the Responses API (codex) and Chat Completions (opencode)."""

from __future__ import annotations

import time

from realcli.server import Fault, fault


def error(status: int, code: str, message: str, kind: str | None = None, **headers: str) -> Fault:
    """An OpenAI error answer (``{"error": {message, type, code}}``)."""
    body = {"error": {"message": message, "type": kind or code, "code": code, "param": None}}
    return fault(status, body, **headers)


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
