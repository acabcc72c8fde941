"""loopctl's door to loopd: JSON calls and SSE streams over HTTP, with the readiness wait.

Built on the standard library's ``http.client`` rather than httpx: importing httpx costs
~70 ms, more than half of ``loopctl list``'s 120 ms budget, and a CLI making one call per
process needs neither connection pools nor async. SSE frames are parsed in
:mod:`agentloop.cli.sse`.

Readiness (SPEC 15): when a connection fails, :meth:`Loopd.wait_ready` probes ``/health``
with exponential backoff from 200 ms for up to 5 s before giving up with
:class:`~agentloop.cli.errors.DaemonUnreachable`. The clock and the sleep are passed in.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from agentloop.cli.errors import ApiError, ClientError, DaemonUnreachable, Unauthorized

FIRST_PROBE_DELAY_S = 0.2
READY_BUDGET_S = 5.0
REQUEST_TIMEOUT_S = 30.0
CREATE_TIMEOUT_S = 90.0
"""``POST /runs`` may ask an agent for a name (10 s) and check the workspace."""


@dataclass(frozen=True)
class Address:
    """Where loopd listens: ``http://127.0.0.1:7700``; a bare ``host:port`` means http."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        raw = text.strip()
        parts = urlsplit(raw if "://" in raw else f"http://{raw}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"--addr {text!r}: expected http://HOST:PORT")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ClientError(f"--addr {text!r}: bad port") from exc
        return cls(parts.scheme, parts.hostname, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class _NoConnection(Exception):
    """The request never reached loopd (``sent`` False) or its answer never came back."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


def run_path(ref: str, *rest: str) -> str:
    return "/".join(["/runs", quote(ref, safe=""), *rest])


class Loopd:
    """A client of one loopd. Each call opens its own connection (one call per command)."""

    def __init__(
        self,
        addr: str,
        token: str | None = None,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        ready_budget: float = READY_BUDGET_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.address = Address.parse(addr)
        self.on_wait = on_wait
        """Told when a request could not connect and the readiness wait begins (loopctl
        says so on a terminal, so 5 s of silence are explained)."""
        self.token = token
        self.timeout = timeout
        self.ready_budget = ready_budget
        self.clock = clock
        self.sleep = sleep

    @property
    def addr(self) -> str:
        return str(self.address)

    # -- plumbing -----------------------------------------------------------------------

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        a = self.address
        conn: http.client.HTTPConnection
        if a.scheme == "https":
            conn = http.client.HTTPSConnection(a.host, a.port, timeout=timeout)
        else:
            conn = http.client.HTTPConnection(a.host, a.port, timeout=timeout)
        try:
            conn.connect()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _NoConnection(_reason(exc), sent=False) from exc
        return conn

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "loopctl"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def _send(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self._connect(timeout)
        try:
            conn.request(method, target, body=body, headers=headers)
            sock = conn.sock
            response = conn.getresponse()
            # http.client drops conn.sock when the answer ends with the connection; keep the
            # socket so a stream reader can still set its read timeout.
            response.sock = sock  # type: ignore[attr-defined]
            return conn, response
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _NoConnection(_reason(exc), sent=True) from exc

    def _with_readiness(self, method: str, attempt: Callable[[], Any]) -> Any:
        """``attempt()``, and once more after loopd answers ``/health`` if it could not
        connect. A request that may have reached loopd is retried only when it is a GET."""
        try:
            return attempt()
        except _NoConnection as exc:
            if exc.sent and method != "GET":
                raise ClientError(
                    f"lost the connection to loopd at {self.addr} after sending {method} "
                    f"({exc.reason}); it may have been applied: check `loopctl list`"
                ) from exc
            if self.on_wait is not None and self.ready_budget > 0:
                self.on_wait(
                    f"loopd at {self.addr}: {exc.reason}; retrying for up to "
                    f"{self.ready_budget:g} s…"
                )
            self.wait_ready()
        try:
            return attempt()
        except _NoConnection as exc:
            raise DaemonUnreachable(self.addr, exc.reason) from exc

    def probe(self, timeout: float = 2.0) -> dict[str, Any]:
        """One ``GET /health``; raises :class:`DaemonUnreachable` at once when it fails."""
        try:
            conn, response = self._send("GET", "/health", None, self._headers(), timeout)
        except _NoConnection as exc:
            raise DaemonUnreachable(self.addr, exc.reason) from exc
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonUnreachable(self.addr, _reason(exc)) from exc
        finally:
            conn.close()
        if response.status != 200:
            raise DaemonUnreachable(self.addr, f"/health answered HTTP {response.status}")
        try:
            health: dict[str, Any] = json.loads(data)
        except ValueError as exc:
            raise DaemonUnreachable(self.addr, "/health did not answer JSON: not loopd?") from exc
        return health

    def wait_ready(self, budget: float | None = None) -> dict[str, Any]:
        """Probe ``/health`` at 0.2, 0.4, 0.8 ... s until it answers or ``budget`` (default
        5 s) is spent; the health document, or :class:`DaemonUnreachable`."""
        budget = self.ready_budget if budget is None else budget
        start = self.clock()
        delay = FIRST_PROBE_DELAY_S
        reason = "no answer"
        while True:
            remaining = budget - (self.clock() - start)
            if remaining <= 0:
                break
            self.sleep(min(delay, remaining))
            delay *= 2
            try:
                return self.probe(timeout=max(0.5, min(2.0, remaining)))
            except DaemonUnreachable as exc:
                reason = str(exc.facts["reason"])
        waited = self.clock() - start
        raise DaemonUnreachable(self.addr, reason, waited)

    # -- JSON calls ---------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One JSON request; the decoded answer (None for 204). Errors: :class:`ApiError`
        with loopd's message, :class:`Unauthorized`, :class:`DaemonUnreachable`."""
        target = _target(path, query)
        payload = None if body is None else json.dumps(body).encode()
        headers = self._headers({"Content-Type": "application/json"} if payload else None)

        def attempt() -> tuple[int, bytes]:
            conn, response = self._send(method, target, payload, headers, timeout or self.timeout)
            try:
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise _NoConnection(_reason(exc), sent=True) from exc
            finally:
                conn.close()

        status, data = self._with_readiness(method, attempt)
        return self._decode(method, path, status, data)

    def _decode(self, method: str, path: str, status: int, data: bytes) -> Any:
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        if status == 401:
            raise Unauthorized(self.addr, _error_text(decoded) or "missing or invalid token")
        if status >= 400:
            message = _error_text(decoded) or f"HTTP {status}"
            extra = (
                {"current_status": decoded["status"]}
                if isinstance(decoded, dict) and "status" in decoded
                else {}
            )
            raise ApiError(message, status, method, path, **extra)
        if data and decoded is None:
            raise ClientError(f"{method} {path}: loopd answered something that is not JSON")
        return decoded

    # -- SSE ----------------------------------------------------------------------------

    @contextmanager
    def stream(
        self, path: str, *, after: int = 0, read_timeout: float = 45.0
    ) -> Iterator[Callable[[], bytes]]:
        """Open an SSE stream resuming after sequence number ``after`` (``Last-Event-ID``);
        yields a ``readline`` whose lines the caller parses. A read that takes longer than
        ``read_timeout`` raises ``TimeoutError``; a dropped connection an ``OSError``."""
        headers = self._headers({"Accept": "text/event-stream"})
        if after:
            headers["Last-Event-ID"] = str(after)

        def attempt() -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
            return self._send("GET", path, None, headers, self.timeout)

        conn, response = self._with_readiness("GET", attempt)
        try:
            if response.status != 200:
                self._decode("GET", path, response.status, response.read())
                raise ClientError(f"GET {path}: HTTP {response.status}, expected a stream")
            sock = getattr(response, "sock", None)
            if sock is not None:
                sock.settimeout(read_timeout)
            yield response.readline
        finally:
            conn.close()

    # -- the API ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/health")
        return result

    def create_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(_field(self.call("POST", "/runs", body=body, timeout=CREATE_TIMEOUT_S), "run"))

    def list_runs(
        self,
        *,
        workspace_root: str | None = None,
        statuses: list[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        query = {
            "workspace_root": workspace_root,
            "status": ",".join(statuses) if statuses else None,
            "limit": limit,
            "offset": offset,
        }
        answer = self.call("GET", "/runs", query=query)
        return list(_field(answer, "runs")), int(answer.get("total", 0))

    def get_run(self, ref: str) -> dict[str, Any]:
        return dict(_field(self.call("GET", run_path(ref)), "run"))

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        return list(_field(self.call("GET", run_path(run_id, "steps")), "steps"))

    def measurements(self, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", run_path(run_id, "measurements")))

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return list(_field(self.call("GET", run_path(run_id, "artifacts")), "artifacts"))

    def control(self, run_id: str, action: str) -> Any:
        return self.call("POST", run_path(run_id, action))

    def diff(self, run_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("GET", run_path(run_id, "diff"))
        return answer


def _target(path: str, query: Mapping[str, object] | None) -> str:
    if not query:
        return path
    pairs = {k: str(v) for k, v in query.items() if v is not None}
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _field(answer: Any, name: str) -> Any:
    if not isinstance(answer, dict) or name not in answer:
        raise ClientError(f"loopd's answer lacks {name!r}: is the daemon the same version?")
    return answer[name]


def _error_text(decoded: Any) -> str | None:
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        return str(decoded["error"])
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the daemon closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
