"""When does a usage limit reset? Reading the many ways agent CLIs say it, best effort.

Forms understood, in this order: an epoch number (seconds, or milliseconds when 13 digits),
an ISO 8601 timestamp, a relative delay after "in"/"after" (``try again in 5 days 22 hours
11 minutes``, ``2h 13m``, ``reset after 2h13m5s``, ``retry in 43.5s``), and a clock time
after "try again"/"resets" (``try again at 3:04 PM``, ``try again at Jul 5th, 2026 8:19 PM``,
``resets 9am (Europe/Berlin)``; a time of day alone means its next occurrence, in the named
zone or else the local one). Anything else gives None, and the caller waits
``usage_limit_wait_sec`` (:func:`resume_time`).

A clock time names a minute (codex prints ``%-I:%M %p`` of the exact reset, seconds cut
off): it means that minute's start, except when we are inside that minute already, where
the reset is at most its end away (the end, not tomorrow: a reset seconds away must not
become a day's wait).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "USAGE_LIMIT_WAIT_SEC",
    "parse_epoch",
    "parse_reset_time",
    "resume_time",
    "zone_of_env",
]

USAGE_LIMIT_WAIT_SEC = 900.0

_EPOCH_MIN, _EPOCH_MAX = 1_000_000_000, 4_102_444_800  # 2001 .. 2100
_UNIT_SEC = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_UNIT = r"(?:days?|d|hours?|hrs?|hr|h|minutes?|mins?|min|m|seconds?|secs?|sec|s)(?![a-z])"
_PART = rf"\d+(?:\.\d+)?\s*{_UNIT}"
_RELATIVE = re.compile(rf"\b(?:in|after)\s+((?:{_PART}(?:\s*,?\s*(?:and\s+)?)?)+)", re.I)
_PART_RE = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})", re.I)
_EPOCH = re.compile(r"(?<![\d.])(\d{13}|\d{10})(?![\d.])")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_ABSOLUTE = re.compile(
    r"\b(?:try again|resets?|available again|reset)\s+(?:at\s+|on\s+)?(?P<when>[^()]*?)"
    r"\s*(?:\((?P<tz>[A-Za-z_]+(?:/[A-Za-z_+-]+)*)\))?\s*(?:[.!]\s|[.!]?$|$)",
    re.I,
)
_CLOCK = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?", re.I)
_DATE = re.compile(
    r"(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<year>\d{4})?,?\s*"
    r"(?:at\s+)?(?P<time>\d{1,2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?)?",
    re.I,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


def parse_epoch(value: object) -> float | None:
    """Epoch seconds from a number or a digit string (milliseconds when it is that large),
    or from an ISO 8601 string; None when it is neither or implausible."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if _ISO.fullmatch(text):
            return _from_iso(text)
        try:
            value = float(text)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    seconds = float(value) / 1000 if value > _EPOCH_MAX * 10 else float(value)
    return seconds if _EPOCH_MIN <= seconds <= _EPOCH_MAX else None


def parse_reset_time(
    text: str, *, now: float | None = None, tz: tzinfo | None = None
) -> float | None:
    """When the limit described by ``text`` resets, in epoch seconds, or None."""
    now = time.time() if now is None else now
    if m := _EPOCH.search(text):
        epoch = parse_epoch(int(m.group(1)))
        if epoch is not None:
            return epoch
    if m := _ISO.search(text):
        return _from_iso(m.group(0))
    if m := _RELATIVE.search(text):
        return now + sum(
            float(n) * _UNIT_SEC[u[0].lower()] for n, u in _PART_RE.findall(m.group(1))
        )
    for m in _ABSOLUTE.finditer(text):
        zone = _zone(m.group("tz")) or tz
        found = _absolute(m.group("when"), now, zone)
        if found is not None:
            return found
    return None


def resume_time(
    resume_at: float | None, *, wait_sec: float = USAGE_LIMIT_WAIT_SEC, now: float | None = None
) -> float:
    """``resume_at`` when the agent gave one in the future, else now + ``wait_sec``."""
    now = time.time() if now is None else now
    if resume_at is not None and resume_at > now:
        return resume_at
    return now + wait_sec


def _from_iso(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp()  # naive: local time, like the CLI that printed it


def zone_of_env(env: Mapping[str, str]) -> tzinfo | None:
    """The zone an agent CLI started with ``env`` tells local times in, when its ``TZ``
    names one (``Europe/Berlin``, ``:UTC``); None: ours."""
    return _zone(env.get("TZ", "").removeprefix(":"))


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _minute_named(moment: datetime, now: float) -> float:
    """When a reset named to the minute as ``moment`` is due: ``moment``, or the end of the
    minute when ``now`` is already inside it."""
    start = moment.timestamp()
    return start + 60 if start <= now < start + 60 else start


def _absolute(when: str, now: float, zone: tzinfo | None) -> float | None:
    when = when.strip().rstrip(",")
    current = (
        datetime.fromtimestamp(now, zone) if zone else datetime.fromtimestamp(now).astimezone()
    )
    if (d := _DATE.fullmatch(when)) and d.group("mon")[:3].lower() in _MONTHS:
        clock = _clock(d.group("time") or "0:00")
        if clock is None:
            return None
        year = int(d.group("year") or current.year)
        try:
            moment = current.replace(
                year=year,
                month=_MONTHS[d.group("mon")[:3].lower()],
                day=int(d.group("day")),
                hour=clock[0],
                minute=clock[1],
                second=0,
                microsecond=0,
            )
        except ValueError:
            return None
        if moment.timestamp() + 60 <= now and not d.group("year"):
            moment = moment.replace(year=year + 1)
        return _minute_named(moment, now)
    clock = _clock(when)
    if clock is None:
        return None
    moment = current.replace(hour=clock[0], minute=clock[1], second=0, microsecond=0)
    if moment.timestamp() + 60 <= now:
        moment += timedelta(days=1)
    return _minute_named(moment, now)


def _clock(text: str) -> tuple[int, int] | None:
    """(hour, minute) of "9am", "9:30 PM", "21:05"; None for a bare number or nonsense."""
    m = _CLOCK.fullmatch(text.strip())
    if m is None or (m.group("m") is None and m.group("ampm") is None):
        return None
    hour, minute = int(m.group("h")), int(m.group("m") or 0)
    if ampm := m.group("ampm"):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return hour, minute
