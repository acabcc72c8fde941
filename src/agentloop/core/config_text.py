"""The text syntax of ``.loop/config`` files (SPEC 16), read and written.

One ``key=value`` per line. Blank lines and lines starting with ``#`` are ignored. Keys are
identifiers. A value is trimmed; an unquoted value ends at the first ``#`` preceded by
whitespace (a trailing comment), so ``url=http://x/#frag`` keeps its ``#``. A value wrapped
in single or double quotes is taken verbatim between them (no escapes), and may be
followed by a comment. A key given twice: the last one wins. A UTF-8 byte order mark and
``\\r\\n`` line ends are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agentloop.core.errors import ConfigError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED = re.compile(r"""(?P<quote>["'])(?P<value>.*?)(?P=quote)\s*(?:#.*)?""", re.DOTALL)
_COMMENT = re.compile(r"\s#")


@dataclass(frozen=True)
class ConfigLayer:
    """The raw values of one source of configuration, keys as written."""

    source: str
    """A file path, or a name such as ``overrides``."""
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    """Line number of each key, for sources that are files."""

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.source}:{line}" if line else self.source


def parse_config_text(text: str, source: str = "<config>") -> ConfigLayer:
    """Parse config text into raw string values. Raises :class:`ConfigError` on a line that
    is neither blank, a comment nor ``key=value``, naming ``source`` and the line."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line_no, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{line_no}"
        key, equals, rest = line.partition("=")
        key = key.strip()
        if not equals:
            raise ConfigError(key, line, "a 'key=value' line", where)
        if not _KEY.fullmatch(key):
            raise ConfigError(key, rest.strip(), "a key made of letters, digits and '_'", where)
        values[key] = _value(key, rest, where)
        lines[key] = line_no
    return ConfigLayer(source=source, values=values, lines=lines)


def read_config_file(path: Path) -> ConfigLayer:
    """Read and parse a config file; :class:`ConfigError` when it cannot be read as UTF-8."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(
            "config file", str(path), f"a readable file ({exc.strerror or exc})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "config file", str(path), f"UTF-8 text (bad byte at {exc.start})"
        ) from exc
    return parse_config_text(text, str(path))


def format_config_value(value: str) -> str:
    """``value`` as it must be written after ``key=`` to read back as ``value``: quoted
    when it has outer whitespace, starts with a quote or holds a ``#`` after whitespace.
    Raises :class:`ValueError` for a value no line can hold (a line break, or both quote
    styles each followed by a comment)."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"a config value cannot hold a line break: {value!r}")
    needs_quotes = value != value.strip() or value[:1] in ("'", '"') or _COMMENT.search(value)
    if not needs_quotes:
        return value
    for quote in ('"', "'"):
        written = f"{quote}{value}{quote}"
        if _unquote(written) == value:
            return written
    raise ValueError(f"a config value cannot be written on one line: {value!r}")


def _value(key: str, rest: str, where: str) -> str:
    stripped = rest.strip()
    if stripped[:1] in ("'", '"'):
        value = _unquote(stripped)
        if value is None:
            raise ConfigError(key, stripped, "a value with matching quotes", where)
        return value
    comment = _COMMENT.search(rest)
    return (rest[: comment.start()] if comment else rest).strip()


def _unquote(text: str) -> str | None:
    match = _QUOTED.fullmatch(text)
    return match["value"] if match else None
