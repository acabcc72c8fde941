"""What can go wrong between loopctl and loopd, and the exit code each failure gets (SPEC 15).

    AgentloopError                      (agentloop.core.errors: the one root)
    └── ClientError                     loopctl could not get an answer it can use
        ├── ApiError                    loopd answered 4xx/5xx {"error": ...} (status, path)
        ├── DaemonUnreachable           no loopd at the address, after the readiness wait
        │   └── Unauthorized            loopd is there but refused the token (HTTP 401)
        └── Interrupted                 Ctrl-C while following; the run goes on

Exit codes: 0 ok, 1 error, 2 usage (click), 3 daemon unreachable or token refused,
130 interrupted. ``run --follow`` exits with the run's outcome instead.
"""

from __future__ import annotations

from agentloop.cli.context import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_UNREACHABLE
from agentloop.core.errors import AgentloopError

TOKEN_HINT = "pass --token or set LOOPD_TOKEN to the daemon's LOOPD_AUTH_TOKEN"


class ClientError(AgentloopError):
    """loopctl could not get a usable answer from loopd."""


class ApiError(ClientError):
    """loopd refused a request; ``message`` is its ``{"error": ...}`` text."""

    def __init__(
        self, message: str, status: int, method: str = "GET", path: str = "", **facts: object
    ) -> None:
        super().__init__(message, status=status, method=method, path=path, **facts)

    @property
    def is_missing_endpoint(self) -> bool:
        """The route itself is unknown (an older loopd), not a run it names."""
        return self.facts["status"] == 405 or (
            self.facts["status"] == 404 and self.message in ("Not Found", "Method Not Allowed")
        )


class DaemonUnreachable(ClientError):
    """No loopd answered at ``addr`` within the readiness wait."""

    def __init__(self, addr: str, reason: str, waited_s: float = 0.0) -> None:
        waited = f"; retried for {waited_s:.0f} s" if waited_s >= 1 else ""
        super().__init__(
            f"cannot reach loopd at {addr} ({reason}{waited}).\n"
            f"hint: start it with `loopd --addr {addr}`, or point --addr / LOOPD_ADDR at the "
            f"running daemon; if it requires a token, {TOKEN_HINT}",
            addr=addr,
            reason=reason,
            waited_s=waited_s,
        )


class Unauthorized(DaemonUnreachable):
    """loopd answered 401: the token is missing or wrong."""

    def __init__(self, addr: str, reason: str = "missing or invalid bearer token") -> None:
        AgentloopError.__init__(
            self,
            f"loopd at {addr} refused the request: {reason} (HTTP 401).\nhint: {TOKEN_HINT}",
            addr=addr,
            reason=reason,
            waited_s=0.0,
        )


class Interrupted(ClientError):
    """Ctrl-C while following a run; the run itself goes on in loopd."""


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, DaemonUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(error, KeyboardInterrupt | Interrupted):
        return EXIT_INTERRUPTED
    return EXIT_ERROR
