"""What /proc says about processes and groups, and stopping a group we may not be parent of.

Start times are epoch seconds derived from ``/proc/<pid>/stat`` (clock ticks since boot
plus the boot time from ``/proc/stat``). The boot time is recomputed by the kernel from the
wall clock, so two lives of the daemon may see it differ by a second or so:
:data:`START_TIME_TOLERANCE_SEC` absorbs that. A pid reused within that window by a new
process is not a practical concern.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from typing import NamedTuple

START_TIME_TOLERANCE_SEC = 2.0
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Stat(NamedTuple):
    state: str
    pgid: int
    start_ticks: int


def read_stat(pid: int) -> Stat | None:
    """The state, process group and start (clock ticks since boot) of ``pid``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: the fields we want follow the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return Stat(fields[0], int(fields[2]), int(fields[19]))
    except (IndexError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _boot_time() -> float:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return time.time() - time.monotonic()


def start_time(pid: int) -> float | None:
    """When ``pid`` started, in epoch seconds, or None when it does not exist."""
    stat = read_stat(pid)
    if stat is None:
        return None
    return _boot_time() + stat.start_ticks / _CLK_TCK


def is_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    stat = read_stat(pid)
    return stat is not None and stat.state not in ("Z", "X")


def has_exited(pid: int) -> bool:
    """True when our child ``pid`` has exited, without reaping it (its pid, and so its
    process group id, stays reserved until we do)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_exists(pgid: int) -> bool:
    """True while some process (zombies included) is in the group."""
    return signal_group(pgid, 0)


def members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = read_stat(int(name))
        if stat is not None and stat.pgid == pgid and stat.state not in ("Z", "X"):
            found.append(int(name))
    return found


def verified_members(pgid: int, leader_start: float) -> list[int]:
    """Live members of the group that the leader started at ``leader_start`` led.

    If a process with pid ``pgid`` lives but started at another time, the number was reused
    for someone else: nothing belongs to us. If the leader is gone, the members still
    carrying its group id are its own: Linux keeps the number reserved while they do."""
    leader = start_time(pgid)
    if leader is not None and abs(leader - leader_start) > START_TIME_TOLERANCE_SEC:
        return []
    return members(pgid)


def stop_members(pgid: int, leader_start: float, grace_sec: float) -> None:
    """SIGTERM the verified group, wait up to ``grace_sec`` for it to empty, then SIGKILL
    and wait (briefly) until no live member is left."""
    if not verified_members(pgid, leader_start):
        return
    signal_group(pgid, signal.SIGTERM)
    if _wait_empty(pgid, leader_start, grace_sec):
        return
    with contextlib.suppress(OSError):
        if verified_members(pgid, leader_start):
            signal_group(pgid, signal.SIGKILL)
    _wait_empty(pgid, leader_start, 2.0)


def _wait_empty(pgid: int, leader_start: float, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not verified_members(pgid, leader_start):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
