"""Kinds of configuration values: how one value is read from its text form, written back
to text, carried in JSON, and checked.

Each kind raises :class:`ValueError` with a description of what is allowed; the config
loader turns that into a :class:`~agentloop.core.errors.ConfigError` naming key, value and
source. ``parse(format(v)) == v`` and ``from_json(to_json(v)) == v`` for every valid ``v``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum
from typing import Generic, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
V = TypeVar("V")
JSONValue = str | int | float | bool | None | list[str]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ValueKind(ABC, Generic[T]):
    """One kind of value. ``allowed`` describes the valid values for error messages."""

    allowed: str

    @abstractmethod
    def parse(self, text: str) -> T: ...

    @abstractmethod
    def format(self, value: T) -> str: ...

    @abstractmethod
    def to_json(self, value: T) -> JSONValue: ...

    @abstractmethod
    def from_json(self, data: object) -> T: ...

    @abstractmethod
    def check(self, value: object) -> T:
        """``value`` itself when it is a valid typed value of this kind, else ValueError."""

    def reject(self) -> ValueError:
        return ValueError(self.allowed)


class Text(ValueKind[str]):
    """A string without control characters; empty only if ``allow_empty``. ``validate``
    may add a check of its own, returning an error description or None."""

    def __init__(
        self,
        allowed: str = "a non-empty string",
        *,
        allow_empty: bool = False,
        validate: Callable[[str], str | None] | None = None,
    ) -> None:
        self.allowed = allowed
        self.allow_empty = allow_empty
        self.validate = validate

    def parse(self, text: str) -> str:
        return self.check(text)

    def format(self, value: str) -> str:
        return value

    def to_json(self, value: str) -> JSONValue:
        return value

    def from_json(self, data: object) -> str:
        return self.check(data)

    def check(self, value: object) -> str:
        if not isinstance(value, str) or not (value or self.allow_empty):
            raise self.reject()
        if _has_control(value):
            raise ValueError(f"{self.allowed} without control characters")
        problem = self.validate(value) if self.validate and value else None
        if problem:
            raise ValueError(problem)
        return value


class Integer(ValueKind[int]):
    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.allowed = f"an integer >= {minimum}"

    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise self.reject()
        return self.check(int(text))

    def format(self, value: int) -> str:
        return str(value)

    def to_json(self, value: int) -> JSONValue:
        return value

    def from_json(self, data: object) -> int:
        return self.check(data)

    def check(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < self.minimum:
            raise self.reject()
        return value


class Number(ValueKind[float]):
    """A finite float, ``>= minimum`` (or ``> minimum`` when ``exclusive``; any number
    when ``minimum`` is None)."""

    def __init__(self, minimum: float | None = None, *, exclusive: bool = False) -> None:
        self.minimum = minimum
        self.exclusive = exclusive
        self.allowed = (
            "a number" if minimum is None else f"a number {'>' if exclusive else '>='} {minimum:g}"
        )

    def parse(self, text: str) -> float:
        if not _NUMBER.fullmatch(text):
            raise self.reject()
        return self.check(float(text))

    def format(self, value: float) -> str:
        return repr(value).removesuffix(".0")

    def to_json(self, value: float) -> JSONValue:
        return value

    def from_json(self, data: object) -> float:
        if isinstance(data, int) and not isinstance(data, bool):
            data = float(data)
        return self.check(data)

    def check(self, value: object) -> float:
        if not isinstance(value, float) or not math.isfinite(value):
            raise self.reject()
        if self.minimum is None:
            return value
        if value < self.minimum or (self.exclusive and value == self.minimum):
            raise self.reject()
        return value


class Boolean(ValueKind[bool]):
    allowed = "one of true, false, 1, 0, yes, no, on, off"

    def parse(self, text: str) -> bool:
        word = text.lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise self.reject()

    def format(self, value: bool) -> str:
        return "true" if value else "false"

    def to_json(self, value: bool) -> JSONValue:
        return value

    def from_json(self, data: object) -> bool:
        return self.check(data)

    def check(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.reject()
        return value


class Choice(ValueKind[E]):
    """One value of a string enum, matched without regard to case."""

    def __init__(self, enum: type[E]) -> None:
        self.enum = enum
        self.allowed = "one of " + ", ".join(member.value for member in enum)

    def parse(self, text: str) -> E:
        for member in self.enum:
            if member.value.lower() == text.lower():
                return member
        raise self.reject()

    def format(self, value: E) -> str:
        return value.value

    def to_json(self, value: E) -> JSONValue:
        return value.value

    def from_json(self, data: object) -> E:
        if not isinstance(data, str):
            raise self.reject()
        return self.parse(data)

    def check(self, value: object) -> E:
        if not isinstance(value, self.enum):
            raise self.reject()
        return value


class OrNone(ValueKind[T | None], Generic[T]):
    """An ``inner`` value, or None (unset), written as the empty string."""

    def __init__(self, inner: ValueKind[T]) -> None:
        self.inner = inner
        self.allowed = f"{inner.allowed}, or empty for none"

    def parse(self, text: str) -> T | None:
        return None if text == "" else _explained(self.inner.parse, text, "{}, or empty for none")

    def format(self, value: T | None) -> str:
        return "" if value is None else self.inner.format(value)

    def to_json(self, value: T | None) -> JSONValue:
        return None if value is None else self.inner.to_json(value)

    def from_json(self, data: object) -> T | None:
        if data is None:
            return None
        return _explained(self.inner.from_json, data, "{}, or empty for none")

    def check(self, value: object) -> T | None:
        return None if value is None else _explained(self.inner.check, value, "{}, or none")


class Items(ValueKind[tuple[T, ...]], Generic[T]):
    """A list of ``item`` values separated by ``separator`` (None: by whitespace); items are
    trimmed and empty items dropped."""

    def __init__(self, item: ValueKind[T], separator: str | None, what: str) -> None:
        self.item = item
        self.separator = separator
        self.allowed = f"{what} separated by " + (f"'{separator}'" if separator else "spaces")

    def parse(self, text: str) -> tuple[T, ...]:
        parts = text.split(self.separator) if self.separator else text.split()
        return tuple(self._each(self.item.parse, part.strip()) for part in parts if part.strip())

    def format(self, value: tuple[T, ...]) -> str:
        return (self.separator or " ").join(self.item.format(item) for item in value)

    def to_json(self, value: tuple[T, ...]) -> JSONValue:
        return [self.item.format(item) for item in value]

    def from_json(self, data: object) -> tuple[T, ...]:
        if not isinstance(data, list):
            raise self.reject()
        return self.check(tuple(self._each(self.item.from_json, item) for item in data))

    def check(self, value: object) -> tuple[T, ...]:
        if not isinstance(value, tuple):
            raise self.reject()
        items = tuple(self._each(self.item.check, item) for item in value)
        for item in items:
            text = self.item.format(item)
            if not text or text != text.strip() or self._splits(text):
                raise ValueError(f"{self.allowed}; {text!r} cannot be one item")
        return items

    def _splits(self, text: str) -> bool:
        return self.separator in text if self.separator else len(text.split()) != 1

    def _each(self, read: Callable[[V], T], data: V) -> T:
        return _explained(read, data, self.allowed + ", each {}")


def url(value: str) -> str | None:
    """Error description unless ``value`` is an absolute http(s) URL."""
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(ch.isspace() for ch in value)
    ):
        return "an http:// or https:// URL"
    return None


def _explained(read: Callable[[V], T], data: V, template: str) -> T:
    """``read(data)``, its ValueError reworded by ``template`` (``{}`` is the original)."""
    try:
        return read(data)
    except ValueError as exc:
        raise ValueError(template.replace("{}", str(exc))) from None


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in text)
