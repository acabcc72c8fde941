"""Bearer-token check for every endpoint but /health, in constant time (SPEC 14, 17)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})
"""Reachable without a token. The dashboard's static files carry no data, so the page can
load and then ask for the token; every API call it makes is checked."""
STATIC_PREFIXES = ("/static/",)
STATIC_EXACT = frozenset({"/", "/index.html", "/favicon.ico"})


def token_matches(header: str | None, token: str) -> bool:
    if not header:
        return False
    scheme, _, supplied = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(supplied.strip().encode(), token.encode())


class BearerAuth:
    """ASGI middleware: 401 `{"error": ...}` unless `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token or _is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if token_matches(header, self.token):
            await self.app(scope, receive, send)
            return
        body = b'{"error":"missing or invalid bearer token"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="loopd"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path in STATIC_EXACT or path.startswith(STATIC_PREFIXES)
