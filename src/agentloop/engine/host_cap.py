"""This host's cap on the runs it executes at once (``loopd --worker-concurrency``).

DBOS 3.4 keeps a queue's options in one row of its system database, ``worker_concurrency``
included, and each host's queue worker reloads that row before every poll
(``SystemDatabase.get_queue``). Hosts sharing a PostgreSQL database therefore shared one
per-host cap: whichever host registered the queue last set it for all of them. So the row
carries none, and :func:`install` has this process's system database answer the run queue
with this host's own cap laid over the row. Every claim DBOS makes here reads the queue it
just reloaded, so the cap holds per host, checked in DBOS's own claim as before. Installed
before launch, the worker's first poll already sees it.

If a DBOS upgrade renames ``get_queue``, :func:`install` says so and changes nothing (the
hosts then run without a per-host cap, as with no ``--worker-concurrency``).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["install"]

_log = logging.getLogger("agentloop.engine")
_caps: dict[str, int | None] = {}
_lock = threading.Lock()
_WRAPPED = "_agentloop_host_cap"


def install(queue_name: str, worker_concurrency: int | None) -> bool:
    """Make this host's reloads of ``queue_name`` carry ``worker_concurrency`` (None: no
    per-host cap). Idempotent; a later call replaces the cap. False: DBOS has no such hook."""
    from dbos._sys_db import SystemDatabase

    with _lock:
        _caps[queue_name] = worker_concurrency
        original = getattr(SystemDatabase, "get_queue", None)
        if original is None:
            _log.warning("DBOS has no SystemDatabase.get_queue: --worker-concurrency not applied")
            return False
        if not getattr(original, _WRAPPED, False):
            SystemDatabase.get_queue = _overlaid(original)  # type: ignore[method-assign]
        return True


def _overlaid(get_queue: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(get_queue)
    def get_queue_with_host_cap(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        queue = get_queue(self, name, *args, **kwargs)
        if queue is not None and name in _caps:
            queue._worker_concurrency = _caps[name]
        return queue

    setattr(get_queue_with_host_cap, _WRAPPED, True)
    return get_queue_with_host_cap
