"""A streamed log written to every run-dir location at once, hashed as it is written.

Agent output arrives line by line; writing each line to the workspace copy and the global
mirror together, and feeding a running sha256, means closing the log costs nothing: no
copy, no re-read to hash it, and the last lines for the tail file are already in memory.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agentloop.artifacts.layout import RunDir
from agentloop.artifacts.writer import TAIL_LINES, os_errors
from agentloop.core.types import ArtifactLocation


@dataclass(frozen=True)
class WrittenCopy:
    """One copy of a finished file, ready for the artifact index."""

    name: str
    location: ArtifactLocation
    path: Path
    checksum: str
    size: int


class TeeLog:
    """``lazy``: the files are created by the first line (a log most agents never write,
    such as the raw events of an agent without a JSON protocol, then costs nothing)."""

    def __init__(
        self, run_dir: RunDir, name: str, *, tail_lines: int = TAIL_LINES, lazy: bool = False
    ) -> None:
        self.name = name
        self._run_dir = run_dir
        self._handles: list[tuple[ArtifactLocation, Path, IO[bytes]]] = []
        self._opened = False
        self._hash = hashlib.sha256()
        self.size = 0
        self.lines = 0
        self.tail: deque[str] = deque(maxlen=tail_lines)
        if not lazy:
            self._open()

    def _open(self) -> None:
        self._opened = True
        for location, path in self._run_dir.paths(self.name):
            with os_errors(path, "open"):
                path.parent.mkdir(parents=True, exist_ok=True)
                existing = path.read_bytes() if path.exists() else b""
                handle = path.open("ab")
            if not self._handles and existing:  # a step running again appends: hash it all
                self._hash.update(existing)
                self.size = len(existing)
            self._handles.append((location, path, handle))

    def write_line(self, line: str) -> None:
        if not self._opened:
            self._open()
        data = (line + "\n").encode("utf-8", "replace")
        for _, path, handle in self._handles:
            with os_errors(path, "write"):
                handle.write(data)
                handle.flush()
        self._hash.update(data)
        self.size += len(data)
        self.lines += 1
        self.tail.append(line)

    def close(self) -> list[WrittenCopy]:
        digest = self._hash.hexdigest()
        copies = []
        for location, path, handle in self._handles:
            with os_errors(path, "close"):
                handle.close()
            copies.append(WrittenCopy(self.name, location, path, digest, self.size))
        self._handles = []
        return copies


def write_small(run_dir: RunDir, name: str, text: str) -> list[WrittenCopy]:
    """Write a small file (a tail) to every location; its copies for the index."""
    data = text.encode("utf-8", "replace")
    digest = hashlib.sha256(data).hexdigest()
    copies = []
    for location, path in run_dir.paths(name):
        with os_errors(path, "write"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        copies.append(WrittenCopy(name, location, path, digest, len(data)))
    return copies
