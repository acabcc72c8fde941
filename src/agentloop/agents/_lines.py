"""Bytes from a pipe in, text lines out, as soon as each line is complete.

Lines lose their ``\\n`` (and a ``\\r`` before it); invalid UTF-8 becomes U+FFFD; a line
longer than ``max_line_bytes`` is cut there (on a character boundary) so a child that never
writes a newline cannot make us hold unbounded memory; a last line without newline is
delivered at end of stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class LineSplitter:
    """Splits one stream into lines, calls ``on_line`` for each, keeps count and a tail."""

    def __init__(
        self, on_line: Callable[[str], None] | None, tail_lines: int, max_line_bytes: int
    ) -> None:
        self.on_line = on_line
        self.tail: deque[str] = deque(maxlen=max(tail_lines, 0))
        self.count = 0
        self.max_line_bytes = max(max_line_bytes, 4)
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> None:
        buffer = self._buffer
        buffer += chunk
        end = buffer.rfind(b"\n")
        if end >= 0:
            complete = bytes(buffer[:end])
            del buffer[: end + 1]
            for raw in complete.split(b"\n"):
                self._emit(raw)
        while len(buffer) > self.max_line_bytes:
            cut = _char_boundary(buffer, self.max_line_bytes)
            self._emit(bytes(buffer[:cut]))
            del buffer[:cut]

    def close(self) -> None:
        if self._buffer:
            self._emit(bytes(self._buffer))
            self._buffer.clear()

    def _emit(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        line = raw.decode("utf-8", "replace")
        self.count += 1
        self.tail.append(line)
        if self.on_line is not None:
            self.on_line(line)


def _char_boundary(buffer: bytearray, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence (continuation bytes
    are 0b10xxxxxx); falls back to ``limit`` for bytes that are not UTF-8 anyway."""
    for cut in range(limit, max(limit - 4, 0), -1):
        if buffer[cut] & 0xC0 != 0x80:
            return cut
    return limit
