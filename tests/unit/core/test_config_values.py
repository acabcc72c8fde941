import re

import pytest

from agentloop.core.config_values import (
    Boolean,
    Choice,
    Integer,
    Items,
    Number,
    OrNone,
    Text,
    url,
)
from agentloop.core.types import AgentName, MergeStrategy


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("OFF", False),
    ],
)
def test_boolean_words(text: str, value: bool) -> None:
    assert Boolean().parse(text) is value


@pytest.mark.parametrize("text", ["", "2", "y", "truee", "nope"])
def test_boolean_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="one of true, false"):
        Boolean().parse(text)


def test_integer() -> None:
    kind = Integer(minimum=1)
    assert kind.parse("50") == 50 and kind.parse("+7") == 7
    for bad in ("0", "-1", "1.5", "1e3", "ten", "", "1_000", "٣"):
        with pytest.raises(ValueError, match="an integer >= 1"):
            kind.parse(bad)
    assert kind.from_json(3) == 3
    for bad_json in (True, 3.0, "3", None):
        with pytest.raises(ValueError):
            kind.from_json(bad_json)


def test_number() -> None:
    positive = Number(minimum=0, exclusive=True)
    assert (
        positive.parse("2.5") == 2.5 and positive.parse("3") == 3.0 and positive.parse(".5") == 0.5
    )
    for bad in ("0", "-1", "nan", "inf", "1,5", "", "0x10"):
        with pytest.raises(ValueError, match="a number > 0"):
            positive.parse(bad)
    assert Number(minimum=0).parse("0") == 0.0
    assert positive.from_json(2) == 2.0 and isinstance(positive.from_json(2), float)
    assert positive.format(5.0) == "5" and positive.format(0.25) == "0.25"
    with pytest.raises(ValueError):
        positive.from_json(True)


def test_choice_is_case_insensitive_and_returns_the_member() -> None:
    kind = Choice(MergeStrategy)
    assert kind.parse("Squash") is MergeStrategy.SQUASH
    with pytest.raises(ValueError, match="one of squash, merge, none"):
        kind.parse("rebase")
    with pytest.raises(ValueError):
        kind.check("squash")  # a plain string is not the enum


def test_text_rejects_control_characters_and_empty_unless_allowed() -> None:
    assert Text().parse("a path/with space") == "a path/with space"
    with pytest.raises(ValueError, match="non-empty"):
        Text().parse("")
    assert Text(allow_empty=True).parse("") == ""
    with pytest.raises(ValueError, match="control characters"):
        Text().parse("a\x00b")
    assert Text().parse("tab\tok") == "tab\tok"


def test_or_none_reads_empty_as_none() -> None:
    kind = OrNone(Integer(minimum=1))
    assert kind.parse("") is None and kind.parse("4") == 4
    assert kind.format(None) == "" and kind.to_json(None) is None and kind.from_json(None) is None
    with pytest.raises(ValueError, match="an integer >= 1, or empty for none"):
        kind.parse("0")


def test_items_split_trim_and_drop_empty_parts() -> None:
    commands = Items(Text(), "|", "commands")
    assert commands.parse(" make test | ruff check . || ") == ("make test", "ruff check .")
    assert commands.format(("a", "b c")) == "a|b c"
    paths = Items(Text(), None, "paths")
    assert paths.parse("  a.md\tb.md  c.md ") == ("a.md", "b.md", "c.md")
    agents = Items(Choice(AgentName), "|", "agent names")
    assert agents.parse("codex|gemini") == (AgentName.CODEX, AgentName.GEMINI)
    with pytest.raises(
        ValueError, match=re.escape("agent names separated by '|', each one of claude")
    ):
        agents.parse("codex|gpt")


def test_items_refuse_items_that_cannot_be_written_back() -> None:
    with pytest.raises(ValueError, match="cannot be one item"):
        Items(Text(), "|", "commands").check(("a|b",))
    with pytest.raises(ValueError, match="cannot be one item"):
        Items(Text(), None, "paths").from_json(["a b"])
    with pytest.raises(ValueError):
        Items(Text(), "|", "commands").from_json("a|b")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://hooks.example.com/x?y=1", True),
        ("http://127.0.0.1:9000/", True),
        ("ftp://example.com", False),
        ("example.com", False),
        ("https://", False),
        ("https://exa mple.com", False),
    ],
)
def test_url(value: str, ok: bool) -> None:
    assert (url(value) is None) is ok
