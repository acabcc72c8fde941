"""Write a run's files to its run dir(s), mirror them, and index them in the store.

Small files (prompts, notes, report rows, summary) are written to every enabled location
at once. Big streamed logs are written to the primary location while they grow and
mirrored when they are closed (at the end of the step). Each written copy is indexed with
its sha256 and size (location ``workspace`` or ``global``), so re-writing a file updates
its index row. Every OS failure becomes an :class:`ArtifactError` naming the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from agentloop.artifacts.layout import RunDir, kind_of
from agentloop.core.errors import ArtifactError
from agentloop.core.models import Artifact
from agentloop.core.types import ArtifactLocation

TAIL_LINES = 200
_CHUNK = 1 << 16


class ArtifactIndex(Protocol):
    """Where a run's files are indexed: the store, seen only through what indexing needs."""

    def transaction(self, operation: str = ...) -> AbstractContextManager[Any]:
        """One write transaction; its connection goes to :meth:`index_artifact`."""
        ...

    def index_artifact(
        self,
        run_id: str,
        kind: str,
        location: ArtifactLocation,
        path: str,
        checksum: str,
        size: int,
        *,
        conn: Any = None,
    ) -> Artifact:
        """Record (or update) one copy of a file; keyed by (run, location, path)."""
        ...


@contextmanager
def os_errors(path: Path, action: str) -> Iterator[None]:
    """Turn an OSError raised inside into an ArtifactError about ``path``."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise ArtifactError(
            f"cannot {action} {path}: {reason}", path=str(path), reason=reason
        ) from error


def sha256_of(path: Path) -> tuple[str, int]:
    """The sha256 hex digest and the size of a file."""
    digest = hashlib.sha256()
    size = 0
    with os_errors(path, "read"), path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def tail_lines(path: Path, count: int = TAIL_LINES) -> list[str]:
    """The last ``count`` lines of a file (without newlines), reading only its end."""
    if count <= 0:
        return []
    with os_errors(path, "read"), path.open("rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= count:
            step = min(_CHUNK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-count:]


def _atomic_write(path: Path, data: bytes) -> None:
    with os_errors(path, "write"):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class ArtifactWriter:
    """Writes one run's files; indexes them when given a store (an :class:`ArtifactIndex`)."""

    def __init__(self, run_dir: RunDir, store: ArtifactIndex | None = None) -> None:
        self.run_dir = run_dir
        self._store = store

    def ensure_dirs(self) -> None:
        """Create the run dir in every location (ArtifactError if one is unwritable)."""
        for _, root in self.run_dir.locations:
            with os_errors(root, "create the run dir"):
                root.mkdir(parents=True, exist_ok=True)
                if not os.access(root, os.W_OK | os.X_OK):
                    raise PermissionError(13, "Permission denied", str(root))

    def write_bytes(
        self,
        name: str,
        data: bytes,
        *,
        atomic: bool = False,
        kind: str | None = None,
        index: bool = True,
    ) -> list[Artifact]:
        """Write ``name`` in every location (tmp + rename when ``atomic``) and index it."""
        for _, path in self.run_dir.paths(name):
            if atomic:
                _atomic_write(path, data)
            else:
                with os_errors(path, "write"):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
        return self.index(name, kind=kind) if index else []

    def write_text(
        self,
        name: str,
        text: str,
        *,
        atomic: bool = False,
        kind: str | None = None,
        index: bool = True,
    ) -> list[Artifact]:
        data = text.encode("utf-8", "replace")
        return self.write_bytes(name, data, atomic=atomic, kind=kind, index=index)

    def write_json(
        self, name: str, value: Any, *, kind: str | None = None, index: bool = True
    ) -> list[Artifact]:
        """Write ``value`` as indented JSON, atomically (summary.json)."""
        text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
        return self.write_text(name, text, atomic=True, kind=kind, index=index)

    def append_text(
        self, name: str, text: str, *, index: bool = False, header: str | None = None
    ) -> list[Artifact]:
        """Append ``text`` to ``name`` in every location (small files: notes, report rows).

        ``header`` is written first into a copy that is missing or empty.
        """
        data = text.encode("utf-8", "replace")
        for _, path in self.run_dir.paths(name):
            with os_errors(path, "append to"):
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("ab") as handle:
                    if header is not None and handle.tell() == 0:
                        handle.write(header.encode("utf-8", "replace"))
                    handle.write(data)
        return self.index(name) if index else []

    def read_text(self, name: str) -> str:
        """The primary copy of ``name`` ("" when it does not exist yet)."""
        path = self.run_dir.safe_path(name)
        with os_errors(path, "read"):
            return path.read_text("utf-8", "replace") if path.exists() else ""

    def open_log(self, name: str, *, append: bool = False) -> LogFile:
        """A streamed log in the primary location; mirrored and indexed when closed."""
        return LogFile(self, name, append=append)

    def mirror(self, name: str) -> None:
        """Copy the primary ``name`` to the other locations (atomically replacing them)."""
        (_, source), *others = self.run_dir.paths(name)
        for _, target in others:
            with os_errors(target, "mirror to"):
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
                )
                os.close(fd)
                try:
                    shutil.copyfile(source, tmp)
                    os.replace(tmp, target)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise

    def index(self, name: str, *, kind: str | None = None) -> list[Artifact]:
        """Record every existing copy of ``name`` (sha256, size) in the store."""
        return self.index_many([(name, kind)])

    def index_rows(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """Index rows (kind, location, path, checksum, size) of every existing copy of
        ``names``, for a transaction of the caller's (``Store.index_artifacts``)."""
        rows = []
        for name in names:
            for location, path in self.run_dir.paths(name):
                if path.exists():
                    checksum, size = sha256_of(path)
                    row = {"kind": kind_of(name), "location": location, "path": str(path)}
                    rows.append({**row, "checksum": checksum, "size": size})
        return rows

    def index_many(self, names: Sequence[tuple[str, str | None]]) -> list[Artifact]:
        """Index every existing copy of each ``(name, kind)`` in one transaction."""
        if self._store is None:
            return []
        copies = [
            (kind or kind_of(name), location, path, *sha256_of(path))
            for name, kind in names
            for location, path in self.run_dir.paths(name)
            if path.exists()
        ]
        if not copies:
            return []
        with self._store.transaction("index artifacts") as conn:
            return [
                self._store.index_artifact(
                    self.run_dir.run_id, kind, location, str(path), checksum, size, conn=conn
                )
                for kind, location, path, checksum, size in copies
            ]

    def finish(self, name: str) -> list[Artifact]:
        """Mirror and index ``name`` (a streamed log at the end of its step)."""
        self.mirror(name)
        return self.index(name)

    def write_tail(
        self, log_name: str, tail_name: str, lines: int = TAIL_LINES, *, index: bool = True
    ) -> list[Artifact]:
        """Write the last ``lines`` lines of the primary ``log_name`` to ``tail_name``."""
        tail = tail_lines(self.run_dir.safe_path(log_name), lines)
        return self.write_text(tail_name, "".join(f"{line}\n" for line in tail), index=index)


class LogFile:
    """A line-buffered text log being written by one step (iter-NN.log, verify-NN.log)."""

    def __init__(self, writer: ArtifactWriter, name: str, *, append: bool = False) -> None:
        self._writer = writer
        self.name = name
        self.path = writer.run_dir.safe_path(name)
        self.bytes_written = 0
        self.lines_written = 0
        with os_errors(self.path, "open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[str] | None = self.path.open(
                "a" if append else "w", encoding="utf-8", errors="replace", buffering=1
            )

    def write_line(self, line: str) -> None:
        self.write(line if line.endswith("\n") else f"{line}\n")

    def write(self, text: str) -> None:
        if self._handle is None:
            raise ArtifactError(f"log {self.path} is closed", path=str(self.path), reason="closed")
        with os_errors(self.path, "write"):
            self._handle.write(text)
        self.bytes_written += len(text.encode("utf-8", "replace"))
        self.lines_written += text.count("\n")

    def close(self) -> list[Artifact]:
        """Close, mirror and index the log (idempotent: a second close only re-indexes)."""
        if self._handle is not None:
            with os_errors(self.path, "close"):
                self._handle.close()
            self._handle = None
        return self._writer.finish(self.name)

    def __enter__(self) -> LogFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
