"""JSON objects out of one line of an agent's JSONL stream, damaged lines included.

Agent CLIs write one JSON object per line, but not always cleanly: two objects may share a
line, and a known Claude Code bug splices a whole event into the middle of another
(``{"type":"assistant",... "o{"type":"rate_limit_event",...}utput_tokens": 40}...}``).
:func:`parse_line` re-synchronises: it returns every object it can recover, in the order
they were completed (a spliced object before the one it interrupted), or None when the line
is not JSON at all (then it is plain output). Nothing that parses is dropped.
"""

from __future__ import annotations

import json
from typing import Any

_decoder = json.JSONDecoder()
_MAX_ATTEMPTS = 128  # decode attempts per damaged line, all nesting levels together
_MAX_DEPTH = 3

JsonObject = dict[str, Any]
_NOT_JSON = (ValueError, RecursionError)  # nesting deeper than the decoder allows: not JSON


def parse_line(line: str) -> list[JsonObject] | None:
    """The JSON objects carried by ``line``, or None when it is not a JSON object line."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except _NOT_JSON:
        return _recover(text, _MAX_DEPTH, [_MAX_ATTEMPTS])
    return [value] if isinstance(value, dict) else None


def _recover(text: str, depth: int, budget: list[int]) -> list[JsonObject] | None:
    return _concatenated(text) or (_spliced(text, depth, budget) if depth > 0 else None)


def _concatenated(text: str) -> list[JsonObject] | None:
    """Objects written back to back on one line (``{...}{...}`` or with spaces between)."""
    objects: list[JsonObject] = []
    pos = 0
    while pos < len(text):
        try:
            value, end = _decoder.raw_decode(text, pos)
        except _NOT_JSON:
            return None
        if not isinstance(value, dict):
            return None
        objects.append(value)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return objects if len(objects) > 1 else None


def _spliced(text: str, depth: int, budget: list[int]) -> list[JsonObject] | None:
    """One object cut open at some point with another written whole into the gap.

    Candidates for the intruder start at ``{"`` (inside a JSON string that sequence cannot
    occur unescaped). A splice right beside a nested object can be read two ways, both
    valid JSON; intruders are events, so candidates with a ``"type"`` are tried first,
    leftmost first. Either way every object is kept."""
    candidates: list[tuple[int, JsonObject, int]] = []
    start = text.find('{"', 1)
    while start != -1 and budget[0] > 0:
        budget[0] -= 1
        try:
            inner, end = _decoder.raw_decode(text, start)
        except _NOT_JSON:
            inner = None
        if isinstance(inner, dict):
            candidates.append((start, inner, end))
        start = text.find('{"', start + 1)
    candidates.sort(key=lambda c: (not isinstance(c[1].get("type"), str), c[0]))
    for start, inner, end in candidates:
        outer = _whole(text[:start] + text[end:], depth - 1, budget)
        if outer is not None:
            return [inner, *outer]
    return None


def _whole(text: str, depth: int, budget: list[int]) -> list[JsonObject] | None:
    try:
        value = json.loads(text)
    except _NOT_JSON:
        return _recover(text, depth, budget) if depth > 0 else None
    return [value] if isinstance(value, dict) else None
