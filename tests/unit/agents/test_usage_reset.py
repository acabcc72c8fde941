"""Reading usage-limit reset times from the ways agent CLIs say it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agentloop.agents.usage import parse_epoch, parse_reset_time, resume_time, zone_of_env

NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC).timestamp()  # 07:00 in Berlin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claude AI usage limit reached|1795003200", 1795003200.0),
        ('{"resets_at": 1795003200000}', 1795003200.0),
        ("resets at 2026-11-18T08:00:00Z", NOW + 2 * 3600),
        ("or try again in 5 days 22 hours 11 minutes.", NOW + ((5 * 24 + 22) * 60 + 11) * 60),
        ("try again in 2h 13m", NOW + (2 * 60 + 13) * 60),
        ("Your quota will reset after 2h13m5s.", NOW + 2 * 3600 + 13 * 60 + 5),
        ("Please retry in 43.5s.", NOW + 43.5),
        ("try again in 1 hour and 5 minutes", NOW + 3900),
        ("resets 9am (Europe/Berlin)", NOW + 2 * 3600),
        ("resets 5am (Europe/Berlin)", NOW + 22 * 3600),  # already past today: tomorrow
        ("try again at 3:04 PM (UTC).", datetime(2026, 11, 18, 15, 4, tzinfo=UTC).timestamp()),
        ("try again at Jul 5th, 2027 8:19 PM (UTC).",
         datetime(2027, 7, 5, 20, 19, tzinfo=UTC).timestamp()),
        ("try again at Jan 2 9:00 am (UTC)", datetime(2027, 1, 2, 9, 0, tzinfo=UTC).timestamp()),
    ],
)  # fmt: skip
def test_reset_times(text: str, expected: float) -> None:
    assert parse_reset_time(text, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["usage limit reached", "try again later.", "resets 99", "", "try again at 25:00"]
)
def test_no_reset_time(text: str) -> None:
    assert parse_reset_time(text, now=NOW) is None


def test_local_zone_when_none_is_named() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    found = parse_reset_time("try again at 9:30 am", now=NOW, tz=berlin)
    assert found == datetime(2026, 11, 18, 9, 30, tzinfo=berlin).timestamp()


def test_parse_epoch() -> None:
    assert parse_epoch(1795003200) == 1795003200.0
    assert parse_epoch("1795003200") == 1795003200.0
    assert parse_epoch(1795003200123) == pytest.approx(1795003200.123)
    assert parse_epoch("2026-11-18T08:00:00+00:00") == NOW + 7200
    for bad in (None, True, "soon", 42, -1, [1]):
        assert parse_epoch(bad) is None


def test_resume_time_defaults_to_the_wait() -> None:
    assert resume_time(None, wait_sec=900, now=NOW) == NOW + 900
    assert resume_time(NOW - 10, wait_sec=900, now=NOW) == NOW + 900  # already past
    assert resume_time(NOW + 60, wait_sec=900, now=NOW) == NOW + 60


CODEX = (
    "You\u2019ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
    "https://chatgpt.com/settings/usage to purchase more credits or try again at {when}."
)


@pytest.mark.parametrize(
    ("now", "when", "expected"),
    [
        # the reset is seconds away, inside the minute codex names: the minute's end,
        # never tomorrow (the defect: a day's wait for a limit that was about to lift)
        (datetime(2026, 11, 18, 7, 23, 30), "7:23 AM", datetime(2026, 11, 18, 7, 24)),
        (datetime(2026, 11, 18, 7, 23, 0), "7:23 AM", datetime(2026, 11, 18, 7, 24)),
        (datetime(2026, 11, 18, 7, 22, 59), "7:23 AM", datetime(2026, 11, 18, 7, 23)),
        (datetime(2026, 11, 18, 7, 24, 0), "7:23 AM", datetime(2026, 11, 19, 7, 23)),
        (datetime(2026, 11, 18, 23, 59, 40), "Nov 19th, 2026 12:00 AM",
         datetime(2026, 11, 19, 0, 0)),
        (datetime(2026, 11, 19, 0, 0, 20), "Nov 19th, 2026 12:00 AM",
         datetime(2026, 11, 19, 0, 1)),
        (datetime(2026, 11, 18, 7, 0), "Jul 5th, 2027 8:19 PM", datetime(2027, 7, 5, 20, 19)),
    ],
)  # fmt: skip
def test_codex_reset_named_to_the_minute_in_local_time(
    now: datetime, when: str, expected: datetime
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    found = parse_reset_time(
        CODEX.format(when=when), now=now.replace(tzinfo=berlin).timestamp(), tz=berlin
    )
    assert found == expected.replace(tzinfo=berlin).timestamp()


def test_zone_of_env() -> None:
    assert zone_of_env({"TZ": "Europe/Berlin"}) == ZoneInfo("Europe/Berlin")
    assert zone_of_env({"TZ": ":UTC"}) == ZoneInfo("UTC")
    for env in ({}, {"TZ": ""}, {"TZ": "Not/AZone"}, {"TZ": "/etc/../x"}):
        assert zone_of_env(env) is None
