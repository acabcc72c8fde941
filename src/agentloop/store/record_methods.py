"""The store's records beside the history: the index of a run's files (artifacts), agent
holds (usage limits, across runs) and the daemon's settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from agentloop.core.models import Artifact
from agentloop.core.types import ArtifactLocation
from agentloop.store import records
from agentloop.store.transactions import StoreBase

__all__ = ["RecordMethods"]


class RecordMethods(StoreBase):
    """Artifacts, agent holds and settings."""

    def index_artifact(
        self,
        run_id: str,
        kind: str,
        location: ArtifactLocation,
        path: str,
        checksum: str,
        size: int,
        *,
        conn: sa.Connection | None = None,
    ) -> Artifact:
        """Record (or update) one file of a run; keyed by (run, location, path)."""
        with self._write(conn, "index an artifact") as tx:
            return records.index_artifact(
                tx, run_id, kind=kind, location=location, path=path, checksum=checksum,
                size=size, now=self.now_ms(),
            )  # fmt: skip

    def index_artifacts(
        self,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        conn: sa.Connection | None = None,
    ) -> None:
        """Record many files at once (``kind, location, path, checksum, size`` each)."""
        with self._write(conn, "index artifacts") as tx:
            records.index_artifacts(tx, run_id, rows, self.now_ms())

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self._read(None, "list artifacts") as tx:
            return records.list_artifacts(tx, run_id)

    def set_hold(self, agent: str, resume_at: float, reason: str | None = None) -> None:
        """Hold every run's use of ``agent`` until ``resume_at`` (epoch seconds)."""
        with self._write(None, "set an agent hold") as tx:
            records.set_hold(tx, agent, resume_at, reason, self.now_ms())

    def get_hold(self, agent: str) -> float | None:
        """When ``agent`` may be used again, or None when it is not held (or the hold expired)."""
        return self.holds().get(agent)

    def holds(self) -> dict[str, float]:
        """Every agent currently on hold, with its ``resume_at``."""
        with self._read(None, "read agent holds") as tx:
            return records.holds(tx, self._clock())

    def clear_hold(self, agent: str) -> None:
        with self._write(None, "clear an agent hold") as tx:
            records.clear_hold(tx, agent)

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._read(None, "read a setting") as tx:
            return records.get_settings(tx, [key]).get(key, default)

    def settings(self) -> dict[str, Any]:
        with self._read(None, "read settings") as tx:
            return records.get_settings(tx)

    def put_setting(self, key: str, value: Any, *, conn: sa.Connection | None = None) -> None:
        """Store a JSON value under ``key`` (daemon caps set by runs, SPEC 11)."""
        with self._write(conn, "write a setting") as tx:
            records.put_setting(tx, key, value, self.now_ms())
