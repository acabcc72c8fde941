"""What /proc says about processes and groups, and signalling processes safely by pid.

Start times are epoch seconds derived from ``/proc/<pid>/stat`` (clock ticks since boot
plus the boot time from ``/proc/stat``). The boot time is recomputed by the kernel from the
wall clock, so two lives of the daemon may see it differ by a second or so:
:data:`START_TIME_TOLERANCE_SEC` absorbs that. A pid reused within that window by a new
process is not a practical concern.
"""

from __future__ import annotations

import functools
import os
import time
from typing import NamedTuple

START_TIME_TOLERANCE_SEC = 2.0
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Stat(NamedTuple):
    state: str
    ppid: int
    pgid: int
    sid: int
    start_ticks: int


def read_stat(pid: int) -> Stat | None:
    """The state, parent, process group, session and start (clock ticks since boot) of
    ``pid``, or None. A zombie keeps all of them until it is reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: the fields we want follow the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return Stat(fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def table(since_pid: int | None = None) -> dict[int, Stat]:
    """Every process now (zombies included), or only those whose pid was handed out at or
    after ``since_pid``: the descendants of a process we started have larger pids until the
    counter wraps around (then all are listed)."""
    pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    if since_pid is not None and _last_pid() >= since_pid:
        pids = [pid for pid in pids if pid >= since_pid]
    found = {}
    for pid in pids:
        stat = read_stat(pid)
        if stat is not None:
            found[pid] = stat
    return found


def _last_pid() -> int:
    try:
        with open("/proc/sys/kernel/ns_last_pid", "rb") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return -1  # unknown: list everything


def environ(pid: int) -> bytes | None:
    """The environment ``pid`` was started with (``KEY=value`` entries, NUL-terminated), or
    None when it is gone or unreadable (another user's, or a non-dumpable process)."""
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


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


def signal_process(pid: int, start_ticks: int, sig: int) -> bool:
    """Send ``sig`` to ``pid`` if it is still the live process that started at
    ``start_ticks`` (not a zombie, not a reused pid). False when it is not."""
    stat = read_stat(pid)
    if stat is None or stat.start_ticks != start_ticks or stat.state in ("Z", "X"):
        return False
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def is_same_live(pid: int, start_ticks: int) -> bool:
    """True while ``pid`` is the process that started at ``start_ticks`` and not a zombie."""
    stat = read_stat(pid)
    return stat is not None and stat.start_ticks == start_ticks and stat.state not in ("Z", "X")


def leader_matches(pgid: int, leader_start: float, stats: dict[int, Stat] | None = None) -> bool:
    """False when a live process holds pid ``pgid`` but started at another time than the
    leader recorded at ``leader_start``: the number was reused, the group is not ours. With
    the leader gone, the members still carrying its group id are its own (Linux keeps the
    number reserved while they do)."""
    stat = stats.get(pgid) if stats is not None else read_stat(pgid)
    if stat is None:
        return True
    started = _boot_time() + stat.start_ticks / _CLK_TCK
    return abs(started - leader_start) <= START_TIME_TOLERANCE_SEC
