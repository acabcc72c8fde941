"""What the benchmarks share: the test harness on sys.path, process figures from /proc,
percentiles, and the one JSON line each bench ends with.

Not a benchmark itself (run_all.py only runs ``bench_*.py``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds of one process: its own threads, and its children it has waited for."""

    own: float
    children: float
    at: float  # time.monotonic() when read

    @classmethod
    def of(cls, pid: int) -> CpuTimes:
        # Fields after the parenthesised command name: utime stime cutime cstime are 14-17.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        return cls((utime + stime) / _TICK, (cutime + cstime) / _TICK, time.monotonic())

    def percent_since(self, earlier: CpuTimes) -> tuple[float, float]:
        """(own, children) CPU use between ``earlier`` and this, in % of one core."""
        wall = max(self.at - earlier.at, 1e-9)
        return (
            100 * (self.own - earlier.own) / wall,
            100 * (self.children - earlier.children) / wall,
        )


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` figure of /proc/<pid>/status, e.g. ``VmHWM`` (peak RSS) or ``VmRSS``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank: an observed value, never interpolated."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def machine_load() -> str:
    """The 1-minute load average and core count: how busy the machine was."""
    one, _, _ = os.getloadavg()
    return f"load {one:.2f} on {os.cpu_count()} cores"


def emit(summary: dict[str, Any]) -> None:
    """The bench's last line: one JSON object (run_all.py quotes its scalar keys)."""
    print(json.dumps(summary), flush=True)
