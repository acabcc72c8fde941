"""Usage-limit holds by agent (an agent's account hit its limit until a given time), cached
from the store: every agent step asks, and holds last minutes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentloop.store import Store

HOLDS_TTL_SEC = 1.0


class UsageHolds:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._holds: dict[str, float] = {}
        self._read_at = -1e9

    def hold_of(self, agent: str) -> float | None:
        """The agent's usage-limit hold (epoch seconds), read from the store at most once a
        second: holds last minutes, and one set here is seen at once (:meth:`note`)."""
        now = time.monotonic()
        if now - self._read_at > HOLDS_TTL_SEC:
            self._holds = self._store.holds()
            self._read_at = now
        return self._holds.get(agent)

    def note(self, agent: str, resume_at: float) -> None:
        self._store.set_hold(agent, resume_at, "usage_limit")
        self._holds[agent] = resume_at
