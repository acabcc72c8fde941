"""The daemon's own settings: where it listens, where it keeps data, its scheduling caps.

Resolved once at start from flags, then environment, then defaults (SPEC 11, 14).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from agentloop.core.errors import InvalidInput
from agentloop.core.types import QueuePolicy

DEFAULT_ADDR = "http://127.0.0.1:7700"
WORKFLOW_VERSION = "loopd-wf-2"
"""Pinned DBOS application version (ENGINE-NOTES): bump only on incompatible step changes."""


@dataclass(frozen=True)
class Caps:
    """Scheduling caps in force: global, per workspace, and the queue order."""

    max_concurrency: int = 3
    max_runs_per_workspace: int | None = None
    queue_policy: QueuePolicy = QueuePolicy.FIFO

    def to_json(self) -> dict[str, object]:
        return {
            "max_concurrency": self.max_concurrency,
            "max_runs_per_workspace": self.max_runs_per_workspace,
            "queue_policy": self.queue_policy.value,
        }


@dataclass(frozen=True)
class DaemonSettings:
    host: str = "127.0.0.1"
    port: int = 7700
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    database_url: str | None = None
    auth_token: str | None = None
    worker_concurrency: int | None = None
    caps: Caps = field(default_factory=Caps)
    caps_from_flags: frozenset[str] = frozenset()
    log_format: str = "text"
    executor_id: str = ""
    poll_interval_sec: float = 0.25
    """DBOS's poll of the run queue (shared by every host) while this host has work."""
    idle_poll_interval_sec: float = 1.0
    """This host's poll while it runs nothing (engine.queue_wakeup): a run enqueued here
    wakes the queue at once; only runs enqueued or freed on other hosts wait for this."""

    @property
    def is_postgres(self) -> bool:
        url = self.database_url or ""
        return url.startswith(("postgres://", "postgresql://", "postgresql+"))

    @property
    def system_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'loopd.db'}"

    @property
    def global_log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def merge_tmp_dir(self) -> Path:
        """Where merges make their temporary worktrees (vcs.merge)."""
        return self.data_dir / "tmp"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return self.host in {"127.0.0.1", "localhost", "::1"} or self.host.startswith("127.")


def default_data_dir() -> Path:
    env = os.environ.get("LOOPD_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("loopd", appauthor=False))


def default_executor_id(database_url: str | None, port: int) -> str:
    """Stable across restarts, or DBOS would not recover this daemon's own runs.

    SQLite has one loopd per file (a lock enforces it), so one fixed id. On PostgreSQL each
    loopd needs its own: host and port, unless ``DBOS__VMID`` names it.
    """
    configured = os.environ.get("DBOS__VMID")
    if configured:
        return configured
    if database_url and database_url.startswith(("postgres://", "postgresql")):
        return f"{socket.gethostname()}:{port}"
    return "local"


def parse_addr(addr: str) -> tuple[str, int]:
    """`http://127.0.0.1:7700`, `127.0.0.1:7700`, `[::1]:7700` or `:7700` -> (host, port)."""
    text = addr.strip()
    if "://" not in text:
        text = "http://" + (text if not text.startswith(":") else "127.0.0.1" + text)
    parts = urlsplit(text)
    if parts.scheme not in {"http", ""}:
        raise InvalidInput(f"--addr {addr!r}: only http:// addresses are served")
    try:
        port = parts.port if parts.port is not None else 7700
    except ValueError as exc:
        raise InvalidInput(f"--addr {addr!r}: invalid port") from exc
    host = parts.hostname or "127.0.0.1"
    return host, port


def _env_int(environ: Mapping[str, str], key: str) -> int | None:
    raw = environ.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{key}={raw!r}: expected a whole number") from exc
    if value < 1:
        raise InvalidInput(f"{key}={raw!r}: expected a number >= 1")
    return value


def resolve_settings(
    *,
    addr: str | None = None,
    data_dir: str | None = None,
    database_url: str | None = None,
    worker_concurrency: int | None = None,
    max_concurrency: int | None = None,
    max_runs_per_workspace: int | None = None,
    queue_policy: str | None = None,
    log_format: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> DaemonSettings:
    """Flags first, then `LOOPD_*` environment variables, then defaults."""
    env = os.environ if environ is None else environ
    host, port = parse_addr(addr or env.get("LOOPD_ADDR") or DEFAULT_ADDR)
    data = Path(data_dir or env.get("LOOPD_DATA_DIR") or default_data_dir()).expanduser()
    explicit: set[str] = set()
    mc = max_concurrency if max_concurrency is not None else _env_int(env, "LOOPD_MAX_CONCURRENCY")
    if mc is not None:
        explicit.add("max_concurrency")
    mrw = max_runs_per_workspace
    if mrw is None:
        mrw = _env_int(env, "LOOPD_MAX_RUNS_PER_WORKSPACE")
    if mrw is not None:
        explicit.add("max_runs_per_workspace")
    qp_raw = queue_policy or env.get("LOOPD_QUEUE_POLICY")
    try:
        qp = QueuePolicy(qp_raw) if qp_raw else QueuePolicy.FIFO
    except ValueError as exc:
        raise InvalidInput(f"queue policy {qp_raw!r}: expected fifo or newest_first") from exc
    if qp_raw:
        explicit.add("queue_policy")
    for name, value in (("max_concurrency", mc), ("max_runs_per_workspace", mrw)):
        if value is not None and value < 1:
            raise InvalidInput(f"{name}={value}: expected a number >= 1")
    wc = (
        worker_concurrency
        if worker_concurrency is not None
        else _env_int(env, "LOOPD_WORKER_CONCURRENCY")
    )
    fmt = log_format or env.get("LOOPD_LOG_FORMAT") or "text"
    if fmt not in {"text", "json"}:
        raise InvalidInput(f"--log-format {fmt!r}: expected text or json")
    db_url = database_url or env.get("LOOPD_DATABASE_URL") or None
    return DaemonSettings(
        host=host,
        port=port,
        data_dir=data,
        database_url=db_url,
        executor_id=default_executor_id(db_url, port),
        auth_token=env.get("LOOPD_AUTH_TOKEN") or None,
        worker_concurrency=wc,
        caps=Caps(mc or 3, mrw, qp),
        caps_from_flags=frozenset(explicit),
        log_format=fmt,
    )
