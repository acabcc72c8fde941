"""The live process groups of this daemon, by owner (the run id), and the in-process
watchers that :func:`~agentloop.agents.process.kill_owner` also wakes."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from agentloop.agents import _proc


@dataclass(frozen=True)
class ProcessHandle:
    """A started child: what the engine records to find the group again after a restart."""

    pid: int
    pgid: int
    start_time: float  # epoch seconds, from /proc/<pid>/stat (what kill_stale_group checks)
    owner: str | None
    argv: tuple[str, ...]


@dataclass(eq=False)
class LiveGroup:
    """A registered group. Signals go out only while the leader is unreaped (``done``
    unset), under ``lock``: the pgid cannot have been reused by then. ``token`` is the
    group's environment marker (``AGENTLOOP_GROUP``): every process it starts inherits it."""

    handle: ProcessHandle
    grace_sec: float
    token: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def signal(self, sig: int) -> None:
        with self.lock:
            if not self.done.is_set():
                _proc.signal_group(self.handle.pgid, sig)

    def cancel(self, grace_sec: float) -> None:
        self.cancelled.set()
        self.signal(signal.SIGTERM)
        threading.Thread(
            target=self._escalate, args=(grace_sec,), name="agentloop-kill", daemon=True
        ).start()

    def _escalate(self, grace_sec: float) -> None:
        if not self.done.wait(grace_sec):
            self.signal(signal.SIGKILL)


_lock = threading.Lock()
_groups: dict[str | None, set[LiveGroup]] = {}
_watchers: dict[str | None, set[threading.Event]] = {}


def register(group: LiveGroup) -> None:
    with _lock:
        _groups.setdefault(group.handle.owner, set()).add(group)


def unregister(group: LiveGroup) -> None:
    with _lock:
        members = _groups.get(group.handle.owner)
        if members is not None:
            members.discard(group)
            if not members:
                del _groups[group.handle.owner]


@contextlib.contextmanager
def watch(owner: str | None) -> Iterator[threading.Event]:
    """An Event set when the owner is killed, while the block runs."""
    event = threading.Event()
    with _lock:
        _watchers.setdefault(owner, set()).add(event)
    try:
        yield event
    finally:
        with _lock:
            events = _watchers.get(owner)
            if events is not None:
                events.discard(event)
                if not events:
                    del _watchers[owner]


def of_owner(owner: str | None) -> tuple[list[LiveGroup], list[threading.Event]]:
    with _lock:
        return list(_groups.get(owner, ())), list(_watchers.get(owner, ()))


def owners() -> set[str | None]:
    with _lock:
        return set(_groups) | set(_watchers)


def handles(owner: str | None = None) -> list[ProcessHandle]:
    with _lock:
        if owner is not None:
            return [g.handle for g in _groups.get(owner, ())]
        return [g.handle for groups in _groups.values() for g in groups]


def leader_pids() -> set[int]:
    """The leaders of the live groups: our own children, reaped by their supervisors."""
    with _lock:
        return {g.handle.pid for groups in _groups.values() for g in groups}


def live_tokens() -> set[str]:
    """The environment markers of the live groups."""
    with _lock:
        return {g.token for groups in _groups.values() for g in groups if g.token}


def cancelled_pending() -> bool:
    """True while a group that was told to stop is registered: its supervisor unregisters
    it only after it has started the sweep of its stragglers."""
    with _lock:
        return any(g.cancelled.is_set() for groups in _groups.values() for g in groups)
