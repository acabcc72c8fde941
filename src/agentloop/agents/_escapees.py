"""What a stop takes along besides the process group: processes that left it (SPEC 4).

Agent CLIs run their tools in sessions of their own (Claude Code's Bash tool does
``setsid``), so ``killpg`` does not reach everything a step started. A :class:`Sweep`
finds, from ``/proc``:

- the members of the group (after its leader exited they hold the group id);
- the descendants of live leaders (``PPid`` links), even those that cleaned their
  environment;
- every process whose environment carries one of the stop's markers: ``AGENTLOOP_GROUP``
  (one token per spawned group, :func:`new_token`), ``AGENTLOOP_OWNER`` and ``LOOP_RUN_ID``
  (the run). Children inherit the environment wherever they re-parent, and after a daemon
  restart they are found the same way;
- and the descendants of all of those.

It SIGTERMs them at once, looks again twice a second for what they forked meanwhile, and
SIGKILLs whatever is left at its deadline: the caller makes that the stop's grace period,
so a stop ends within it. The leaders of live groups are never its targets (their
supervisors stop and reap them). Processes it found that re-parented to loopd (the child
subreaper) are reaped (:mod:`._subreaper`). Out of reach: a process that both cleaned its
environment and left the tree before the stop, and a non-dumpable one (its environment is
unreadable) outside the tree; only a cgroup could hold those.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

from agentloop.agents import _groups, _proc, _subreaper

GROUP_VAR = "AGENTLOOP_GROUP"
OWNER_VAR = "AGENTLOOP_OWNER"
RUN_VAR = "LOOP_RUN_ID"

_RESCAN_SEC = 0.5
_TICK_SEC = 0.05
_KILL_WAIT_SEC = 1.0  # after SIGKILL: how long to wait for the targets to be gone

# This daemon life: tokens of a previous life never match it, even with the same pid.
_LIFE = f"{os.getpid()}-{secrets.token_hex(4)}"
_lock = threading.Lock()
_issued = 0
_running: set[threading.Thread] = set()
_claimed: set[Hashable] = set()


def new_token() -> str:
    """A marker value for one spawned group, unique across daemon lives."""
    global _issued
    with _lock:
        _issued += 1
        return f"{_LIFE}.{_issued}"


def spawned_from_now() -> Callable[[str], bool]:
    """A ``spare`` predicate: True for the tokens of groups this life spawns from now on
    (a run resumed while its pause is still being swept keeps its new agent)."""
    with _lock:
        issued = _issued

    def later(token: str) -> bool:
        life, _, number = token.rpartition(".")
        return life == _LIFE and number.isdigit() and int(number) > issued

    return later


def marker(key: str, value: str) -> bytes:
    return f"{key}={value}".encode()


def owner_markers(owner: str | None) -> tuple[bytes, ...]:
    """The markers of an owner's processes: ours, and the run id the engine sets."""
    if owner is None:
        return ()
    return (marker(OWNER_VAR, owner), marker(RUN_VAR, owner))


def marked_env(env: Mapping[str, str] | None, token: str, owner: str | None) -> dict[str, str]:
    """``env`` (None: ours) plus the markers a stop finds the child's descendants by."""
    marked = dict(env if env is not None else os.environ)
    marked[GROUP_VAR] = token
    if owner is not None:
        marked[OWNER_VAR] = owner
    return marked


@dataclass(frozen=True)
class Scope:
    """What a sweep takes along. ``markers`` are ``KEY=value`` environment entries;
    ``group`` is (pgid, the leader's start time in epoch seconds); ``since_pid`` limits the
    search to pids handed out from it on (a group of this life); ``adopted_only`` looks for
    marked processes among our own children only (as child subreaper, whatever this life
    started and left is below us: it spares reading every environment); ``spare`` says
    which ``AGENTLOOP_GROUP`` tokens to leave alone."""

    markers: tuple[bytes, ...] = ()
    roots: tuple[int, ...] = ()
    group: tuple[int, float] | None = None
    since_pid: int | None = None
    adopted_only: bool = False
    spare: Callable[[str], bool] | None = None


class Sweep:
    """One stop of the processes in a :class:`Scope`, ending at ``deadline`` (monotonic)."""

    def __init__(self, scope: Scope, deadline: float, key: Hashable | None = None) -> None:
        self.scope = scope
        self.deadline = deadline
        self.key = key
        self.found: dict[int, int] = {}  # pid -> start ticks, everything signalled so far

    def claim(self) -> bool:
        """False while a sweep with the same ``key`` runs (the same stop asked for again,
        e.g. a second pause, or the other hosts' cancel watcher every 0.25 s); else this
        sweep holds the key until it ends. Always True without a key."""
        if self.key is None:
            return True
        with _lock:
            if self.key in _claimed:
                return False
            _claimed.add(self.key)
            return True

    def begin(self, *, by_marker: bool = True) -> bool:
        """Find and SIGTERM; True when anything was found."""
        return self.terminate(self.find(by_marker=by_marker))

    def terminate(self, targets: dict[int, int]) -> bool:
        """SIGTERM what :meth:`find` returned; True when this sweep has any target."""
        self._terminate(targets)
        return bool(self.found)

    def finish(self) -> None:
        """Wait for the targets to end (catching what they fork), SIGKILL what is left at
        the deadline, reap what we adopted."""
        try:
            self._await_deadline()
            self._kill_remaining()
        finally:
            _subreaper.reap_adopted()

    def in_background(self) -> None:
        """:meth:`finish` on a thread that :func:`wait_finished` waits for."""
        thread = threading.Thread(target=self._run_tracked, name="agentloop-sweep", daemon=True)
        with _lock:  # held until started: wait_finished must never join an unstarted thread
            _running.add(thread)
            thread.start()

    def _run_tracked(self) -> None:
        try:
            self.finish()
        finally:
            with _lock:
                _running.discard(threading.current_thread())
                _claimed.discard(self.key)

    def _await_deadline(self) -> None:
        last_scan = time.monotonic()
        while (now := time.monotonic()) < self.deadline:
            alive = any(_proc.is_same_live(pid, ticks) for pid, ticks in self.found.items())
            if not alive or now - last_scan >= _RESCAN_SEC:
                fresh = self._terminate(self.find())
                last_scan = now
                if not alive and not fresh:
                    return
            time.sleep(min(_TICK_SEC, max(0.0, self.deadline - now)))

    def _kill_remaining(self) -> None:
        give_up = time.monotonic() + _KILL_WAIT_SEC
        while True:
            targets = self.find()
            targets.update(
                (pid, ticks) for pid, ticks in self.found.items() if _proc.is_same_live(pid, ticks)
            )
            if not targets or time.monotonic() >= give_up:
                return
            self.found.update(targets)
            for pid, ticks in targets.items():
                _proc.signal_process(pid, ticks, signal.SIGKILL)
            time.sleep(_TICK_SEC)

    def _terminate(self, targets: dict[int, int]) -> dict[int, int]:
        fresh = {pid: ticks for pid, ticks in targets.items() if self.found.get(pid) != ticks}
        self.found.update(fresh)
        for pid, ticks in fresh.items():
            _proc.signal_process(pid, ticks, signal.SIGTERM)
        return fresh

    def find(self, *, by_marker: bool = True) -> dict[int, int]:
        """The live targets now (pid -> start ticks, each after its ancestors), not yet
        signalled. ``by_marker=False`` leaves the marked processes to :meth:`finish`
        (reading every environment takes longer than following the leaders' descendants,
        which must be done before the leaders die)."""
        stats = _proc.table(self.scope.since_pid)
        children: dict[int, list[int]] = {}
        for pid, stat in stats.items():
            children.setdefault(stat.ppid, []).append(pid)
        members, adoptable = self._members(stats)
        tops = [child for root in self.scope.roots for child in children.get(root, ())]
        if by_marker:
            tops += self._marked(stats)
        below = _descendants(tops, children)
        adoptable |= below  # started by a leader's tree, not by us
        found = {}
        targets = (members | below) - _groups.leader_pids() - {os.getpid()}
        for pid in _ancestors_first(targets, stats):
            stat = stats[pid]
            if stat.state in ("Z", "X"):
                continue
            found[pid] = stat.start_ticks
            if pid in adoptable:
                _subreaper.adopt(pid, stat.start_ticks)
        return found

    def _members(self, stats: dict[int, _proc.Stat]) -> tuple[set[int], set[int]]:
        """The group's processes, and those of them we did not start ourselves: a child of
        ours by birth stays in our session or leads its own."""
        if self.scope.group is None:
            return set(), set()
        pgid, leader_start = self.scope.group
        if not _proc.leader_matches(pgid, leader_start, stats):
            return set(), set()
        own, own_sid = os.getpid(), os.getsid(0)
        members = {pid for pid, stat in stats.items() if stat.pgid == pgid}
        adoptable = {
            pid for pid in members if stats[pid].ppid != own or stats[pid].sid not in (pid, own_sid)
        }
        return members, adoptable

    def _marked(self, stats: dict[int, _proc.Stat]) -> list[int]:
        if not self.scope.markers:
            return []
        own, adopted_only = os.getpid(), self.scope.adopted_only
        return [
            pid
            for pid, stat in stats.items()
            if pid != own
            and stat.state not in ("Z", "X")
            and (stat.ppid == own or not adopted_only)
            and self._carries_marker(pid)
        ]

    def _carries_marker(self, pid: int) -> bool:
        env = _proc.environ(pid)
        if not env:
            return False
        entries = env.split(b"\0")
        if not any(m in entries for m in self.scope.markers):
            return False
        spare = self.scope.spare
        if spare is None:
            return True
        prefix = GROUP_VAR.encode() + b"="
        token = next((e[len(prefix) :] for e in entries if e.startswith(prefix)), None)
        return token is None or not spare(token.decode("utf-8", "replace"))


def _descendants(tops: Iterable[int], children: dict[int, list[int]]) -> set[int]:
    seen: set[int] = set()
    stack = list(tops)
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, ()))
    return seen


def _ancestors_first(pids: Iterable[int], stats: dict[int, _proc.Stat]) -> list[int]:
    """``pids``, each after its ancestors: an agent is signalled before its tools, so it
    never sees a tool end before its own stop (it could answer that with another model
    turn). Pid order says nothing once the counter wrapped around."""

    def depth(pid: int) -> int:
        seen = {pid}
        while (pid := stats[pid].ppid) in stats and pid not in seen:
            seen.add(pid)
        return len(seen)

    return sorted(pids, key=depth)


def wait_finished(timeout_sec: float) -> bool:
    """Wait until no sweep runs and no cancelled group is still alive (daemon shutdown:
    nothing may outlive loopd's exit). False when that took longer than ``timeout_sec``."""
    deadline = time.monotonic() + timeout_sec
    while True:
        with _lock:
            running = list(_running)
        if not running and not _groups.cancelled_pending():
            return True
        if time.monotonic() >= deadline:
            return False
        if running:
            running[0].join(max(0.0, deadline - time.monotonic()))
        else:
            time.sleep(_TICK_SEC)
