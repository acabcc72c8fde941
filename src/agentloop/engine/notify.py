"""`notify_webhook` (SPEC 18): POST a short document when a run completes, fails (a merge
conflict included), pauses for a usage limit or needs the user's attention.

``notify_format`` shapes the body: ``json`` (the facts as they are), ``slack`` (an
incoming-webhook ``{"text": ...}``) or ``ntfy`` (a plain-text message with a Title header,
for an ntfy topic URL). Best effort and off the run's critical path: the POST happens on a
thread of its own, retried with backoff (1, 2, 4 s) on a network error or a 5xx/429 answer,
so a slow or failing webhook never delays or fails a run; failures are logged without the
URL's query (it may carry a secret).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from agentloop.engine.context import RunContext

_log = logging.getLogger("agentloop.engine")

RETRY_DELAYS_SEC = (1.0, 2.0, 4.0)


def notify(ctx: RunContext, event_type: str, **fields: Any) -> None:
    url = ctx.config.notify_webhook
    if not url:
        return
    facts = {
        "event_type": event_type,
        "run_id": ctx.run_id,
        "name": ctx.run.name,
        "workspace_root": ctx.run.workspace_root,
        **{k: v for k, v in fields.items() if v is not None},
    }
    request = shape(ctx.config.notify_format.value, facts)
    threading.Thread(target=_post, args=(url, *request), daemon=True).start()


def headline(facts: dict[str, Any]) -> tuple[str, str]:
    """(title, message) a person reads: what happened to which run, and what to do."""
    name, run_id = facts.get("name"), facts.get("run_id", "")
    reason = facts.get("reason")
    event = facts.get("event_type")
    if event == "RUN_COMPLETED":
        return f"agentloop: {name} completed", f"Run {name} ({run_id}) completed."
    if event == "RUN_FAILED":
        what = "hit a merge conflict" if reason == "merge_conflict" else f"failed: {reason}"
        return f"agentloop: {name} {what}", f"Run {name} ({run_id}) {what}."
    if reason == "needs_attention":
        signals = ", ".join(str(s.get("signal")) for s in facts.get("signals", []))
        message = (
            f"Run {name} ({run_id}) is stuck ({signals or 'no progress'}) and paused. "
            f'Tell the agent what to do: loopctl say {run_id[:13]} "..."; '
            f"then loopctl resume {run_id[:13]}."
        )
        return f"agentloop: {name} needs attention", message
    if reason == "usage_limit":
        at = facts.get("resume_at")
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at)) if at else "later"
        return (
            f"agentloop: {name} paused (usage limit)",
            f"Run {name} ({run_id}) hit the agent's usage limit; it resumes by itself at {when}.",
        )
    return f"agentloop: {name} {event}", f"Run {name} ({run_id}): {event} {reason or ''}".strip()


def shape(notify_format: str, facts: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the POST for ``notify_format``."""
    import json

    title, message = headline(facts)
    if notify_format == "slack":
        body = {"text": f"*{title}*\n{message}"}
        return json.dumps(body).encode(), {"Content-Type": "application/json"}
    if notify_format == "ntfy":
        tags = "warning" if facts.get("event_type") != "RUN_COMPLETED" else "white_check_mark"
        headers = {"Content-Type": "text/plain; charset=utf-8", "Title": title, "Tags": tags}
        return message.encode(), headers
    document = {**facts, "title": title, "message": message}
    return json.dumps(document).encode(), {"Content-Type": "application/json"}


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    import httpx

    parts = urlsplit(url)
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS_SEC)):
        time.sleep(delay)
        try:
            answer = httpx.post(url, content=body, headers=headers, timeout=10.0)
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        else:
            if answer.status_code < 500 and answer.status_code != 429:
                return
            problem = f"HTTP {answer.status_code}"
        _log.warning(
            "webhook %s://%s%s failed (attempt %d): %s",
            parts.scheme,
            parts.netloc,
            parts.path,
            attempt + 1,
            problem,
        )
