"""`notify_webhook`: POST a small JSON document on terminal events and usage-limit pauses.

Best effort and off the run's critical path: a slow or failing webhook never delays or
fails a run; failures are logged without the URL's query (it may carry a secret)."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from agentloop.engine.context import RunContext

_log = logging.getLogger("agentloop.engine")


def notify(ctx: RunContext, event_type: str, **fields: Any) -> None:
    url = ctx.config.notify_webhook
    if not url:
        return
    document = {
        "event_type": event_type,
        "run_id": ctx.run_id,
        "name": ctx.run.name,
        "workspace_root": ctx.run.workspace_root,
        **{k: v for k, v in fields.items() if v is not None},
    }
    threading.Thread(target=_post, args=(url, document), daemon=True).start()


def _post(url: str, document: dict[str, Any]) -> None:
    import httpx

    try:
        httpx.post(url, json=document, timeout=10.0)
    except httpx.HTTPError as exc:
        parts = urlsplit(url)
        _log.warning(
            "webhook %s://%s%s failed: %s",
            parts.scheme,
            parts.netloc,
            parts.path,
            type(exc).__name__,
        )
