"""A tiny stand-in loopd on a real socket, for the client's protocol edge cases that the real
daemon cannot be made to produce on demand (a stream cut mid-way, a replay that overlaps
what was already sent, a 401, an endpoint missing). Each test scripts the answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLoopd:
    routes: dict[tuple[str, str], Callable[[Seen], tuple[int, Any]]] = field(default_factory=dict)
    streams: dict[str, Callable[[Seen], list[bytes | float]]] = field(default_factory=dict)
    """path -> the raw chunks to send (a float: pause that long); then the connection closes."""
    seen: list[Seen] = field(default_factory=list)
    addr: str = ""

    def json(self, method: str, path: str, status: int, body: Any) -> None:
        self.routes[(method, path)] = lambda _seen: (status, body)


def sse(seq: int, event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\r\nid: {seq}\r\ndata: {json.dumps(data)}\r\n\r\n".encode()


def serve(fake: FakeLoopd) -> Iterator[FakeLoopd]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path
            seen = Seen(method, path, dict(self.headers), json.loads(raw) if raw else None)
            fake.seen.append(seen)
            bare = path.split("?")[0]
            if method == "GET" and bare in fake.streams:
                chunks = fake.streams[bare](seen)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in chunks:
                    if isinstance(chunk, float):
                        time.sleep(chunk)
                        continue
                    self.wfile.write(chunk)
                    self.wfile.flush()
                self.close_connection = True
                return
            route = fake.routes.get((method, bare))
            status, body = route(seen) if route else (404, {"error": "Not Found"})
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.addr = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
