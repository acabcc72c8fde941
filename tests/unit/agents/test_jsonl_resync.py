"""Re-synchronising damaged JSONL lines: spliced and concatenated objects, garbage."""

from __future__ import annotations

import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agentloop.agents._jsonl import parse_line

from .support import FIXTURES_DIR


def test_clean_lines() -> None:
    assert parse_line('{"type": "x", "n": 1}') == [{"type": "x", "n": 1}]
    assert parse_line('  {"a": 1}  ') == [{"a": 1}]


def test_not_json_lines() -> None:
    for line in ("", "hello", "[1, 2]", "42", "{broken", '{"a": 1', "Claude AI usage limit"):
        assert parse_line(line) is None


def test_concatenated_objects() -> None:
    assert parse_line('{"a": 1}{"b": 2} {"c": 3}') == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_the_fixtures_spliced_line() -> None:
    path = FIXTURES_DIR / "claude-2.1.197" / "usage-limit.reconstructed.stream.jsonl"
    line = path.read_text(encoding="utf-8").splitlines()[2]
    inner, outer = parse_line(line) or []
    assert inner["type"] == "rate_limit_event" and inner["uuid"] == "g7"
    assert outer["type"] == "assistant" and outer["uuid"] == "f6"
    assert outer["message"]["content"][0]["text"] == "Reading the plan."


def test_two_splices_in_one_line() -> None:
    outer = json.dumps({"type": "assistant", "text": "abcdefghij", "n": 12345})
    a = json.dumps({"type": "rate_limit_event", "k": 1})
    b = json.dumps({"type": "system", "k": 2})
    line = outer[:20] + a + outer[20:40] + b + outer[40:]
    assert sorted(map(json.dumps, parse_line(line) or [])) == sorted([outer, a, b])


def test_pathological_garbage_is_bounded() -> None:
    line = "{" + '{"a": ' * 2000 + "x"
    assert parse_line(line) is None


events = st.fixed_dictionaries(
    {"type": st.sampled_from(["assistant", "user", "result", "system"])},
    optional={
        "text": st.text(max_size=30),
        "n": st.integers(),
        "nested": st.dictionaries(
            st.text(max_size=5).filter(lambda key: key != "type"), st.integers(), max_size=3
        ),
        "list": st.lists(st.text(max_size=5), max_size=3),
    },
)
intruders = st.builds(
    lambda status, resets: {"type": "rate_limit_event",
                            "rate_limit_info": {"status": status, "resetsAt": resets}},
    st.sampled_from(["allowed", "allowed_warning", "rejected"]),
    st.integers(min_value=0, max_value=2**40),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(outer=events, inner=intruders, data=st.data(), compact=st.booleans())
def test_any_splice_point_recovers_both_objects(
    outer: dict, inner: dict, data: st.DataObject, compact: bool
) -> None:
    sep = (",", ":") if compact else (", ", ": ")
    text = json.dumps(outer, separators=sep, ensure_ascii=False)
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    line = text[:at] + json.dumps(inner, separators=sep) + text[at:]
    # A splice can land where it forms valid JSON (inside an empty list: `[{...}]`): no
    # parser can see damage there, and the line is taken as the one object it is. (Beside
    # a nested object that has a "type" of its own, two readings are valid: see _spliced.)
    assume(not _valid(line))
    recovered = parse_line(line)
    assert recovered is not None
    assert sorted(map(json.dumps, recovered)) == sorted(map(json.dumps, [outer, inner]))


def _valid(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
