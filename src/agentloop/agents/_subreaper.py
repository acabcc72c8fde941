"""loopd as child subreaper: processes orphaned below it re-parent to loopd instead of
init, and loopd reaps them when they exit.

With ``PR_SET_CHILD_SUBREAPER`` an agent's tool that double-forked or outlived its parent
stays in loopd's tree (its ``PPid`` is loopd's pid) and its zombie is loopd's to reap. The
reaping must not steal the exit status of a child that ``subprocess.Popen`` waits for: a
blanket ``waitpid(-1)`` would make that ``Popen.wait`` report 0. So only specific pids are
reaped, once known not to be such a child:

- processes a stop (:mod:`._escapees`) found by their environment marker or below a
  leader: loopd started neither directly (:func:`adopt`);
- zombies of a foreign session: every process loopd starts itself either stays in loopd's
  session or leads its own (``start_new_session``), so a child in a third session was
  adopted;
- zombies left unreaped for :data:`SETTLE_SEC`: a ``Popen`` waits for its child within
  moments of its exit.

Never the leader of a live group (its supervisor reaps it). A daemon thread looks once a
second: one ``waitid(WNOWAIT)`` call says whether any child has exited, and only then is
``/proc`` read. Linux only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

from agentloop.agents import _groups, _proc

POLL_SEC = 1.0
SETTLE_SEC = 10.0
_PR_SET_CHILD_SUBREAPER = 36
_log = logging.getLogger("agentloop.agents")

_lock = threading.Lock()
_adopted: dict[int, int] = {}  # pid -> start ticks
_thread: threading.Thread | None = None


def become(prctl: Callable[..., int] | None) -> bool:
    """Make this process a child subreaper and start reaping; False when the kernel (or a
    missing libc ``prctl``) refuses."""
    global _thread
    if prctl is None or prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        return False
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_watch, name="agentloop-reaper", daemon=True)
            _thread.start()
    return True


def active() -> bool:
    """True once this process is a child subreaper (everything it starts stays below it)."""
    return _thread is not None


def adopt(pid: int, start_ticks: int) -> None:
    """``pid`` is no child of ours by birth: reap it once it is our zombie."""
    with _lock:
        _adopted[pid] = start_ticks


def reap_adopted() -> None:
    """Reap the adopted processes that have exited; forget those gone elsewhere."""
    own = os.getpid()
    with _lock:
        adopted = dict(_adopted)
    for pid, ticks in adopted.items():
        stat = _proc.read_stat(pid)
        if stat is None or stat.start_ticks != ticks or stat.ppid != own:
            if stat is None or stat.start_ticks != ticks:
                _forget(pid, ticks)
            continue
        if stat.state == "Z" and pid not in _groups.leader_pids():
            _reap(pid)
            _forget(pid, ticks)


def _forget(pid: int, ticks: int) -> None:
    with _lock:
        if _adopted.get(pid) == ticks:
            del _adopted[pid]


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _watch() -> None:
    first_seen: dict[tuple[int, int], float] = {}
    while True:
        time.sleep(POLL_SEC)
        try:
            reap_exited(first_seen)
        except Exception:  # a bug here must not end the reaping for the daemon's life
            _log.exception("reaping adopted orphans failed")


def reap_exited(first_seen: dict[tuple[int, int], float]) -> int:
    """One look at our exited children: reap those that qualify (see the module doc).
    ``first_seen`` carries when each zombie was first noticed between calls. Returns how
    many were reaped."""
    try:
        if os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            first_seen.clear()
            return 0
    except ChildProcessError:  # no children at all
        first_seen.clear()
        return 0
    reap_adopted()
    own, own_sid = os.getpid(), os.getsid(0)
    leaders = _groups.leader_pids()
    now = time.monotonic()
    zombies = {
        (pid, stat.start_ticks): stat
        for pid, stat in _proc.table().items()
        if stat.ppid == own and stat.state == "Z" and pid not in leaders
    }
    reaped = 0
    for (pid, ticks), stat in zombies.items():
        foreign = stat.sid not in (pid, own_sid)
        if foreign or now - first_seen.setdefault((pid, ticks), now) >= SETTLE_SEC:
            _reap(pid)
            first_seen.pop((pid, ticks), None)
            reaped += 1
    for key in set(first_seen) - set(zombies):
        del first_seen[key]
    return reaped
