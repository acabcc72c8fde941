"""Time and ids, in one place: epoch milliseconds (what rows and events hold), RFC 3339 UTC
strings (what the API shows), and time-ordered ids (UUIDv7) for runs, steps, events, notes.

A caller that wants to drive time in tests passes its own clock (epoch seconds, like
:func:`time.time`) to :func:`now_ms`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from uuid6 import uuid7

__all__ = ["Clock", "ms_to_rfc3339", "new_id", "now_ms", "rfc3339_to_ms"]

Clock = Callable[[], float]
"""Epoch seconds, like :func:`time.time` (the default everywhere)."""


def now_ms(clock: Clock | None = None) -> int:
    """The time in epoch milliseconds, by ``clock`` if given, else the system's."""
    if clock is None:
        return time.time_ns() // 1_000_000
    return int(clock() * 1000)


def new_id() -> str:
    """A new time-ordered id (UUIDv7 string)."""
    return str(uuid7())


def ms_to_rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rfc3339_to_ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)
