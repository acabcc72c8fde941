"""A mock model API on a loopback port, in a thread of the test process.

One :class:`MockServer` serves one vendor's wire format, given as a :class:`Protocol`: it
says which requests are model turns, turns the request body into the brain's inputs (the
first user text, the tool results so far) and writes the brain's action back in the
vendor's streaming format. Tests queue failures (:meth:`MockServer.fail`) that the next
model requests get instead of an answer, and read what the CLI sent (``requests``).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from typing import Protocol as TypingProtocol

from realcli.brain import Action, Brain


@dataclass(frozen=True)
class Fault:
    """One canned error answer: HTTP ``status`` with a JSON ``body`` and ``headers``."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def fault(status: int, body: dict[str, Any], **headers: str) -> Fault:
    """A Fault whose header names are given as keywords (``retry_after`` -> ``retry-after``)."""
    return Fault(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


def text_parts(content: Any, kinds: tuple[str, ...] = ("text",)) -> list[str]:
    """The texts of a message's content: a string, or parts ``{"type": kind, "text": ...}``."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in kinds
    ]


@dataclass(frozen=True)
class Recorded:
    """A request the CLI made."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    faulted: bool


class Protocol(TypingProtocol):
    """One vendor's wire format."""

    def is_model_request(self, method: str, path: str) -> bool: ...

    def brain_inputs(self, body: Any) -> tuple[str, list[str]]:
        """(the first user text, the tool results so far, oldest first)."""
        ...

    def write_action(self, out: SSEWriter, body: Any, path: str, action: Action) -> None: ...


class SSEWriter:
    """Writes one streaming answer: headers first, then ``data:`` events."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.handler = handler
        self.started = False

    def start(self, content_type: str = "text/event-stream") -> None:
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        self.started = True

    def event(self, data: Any, name: str | None = None) -> None:
        if not self.started:
            self.start()
        text = data if isinstance(data, str) else json.dumps(data)
        frame = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
        self.handler.wfile.write(frame.encode())
        self.handler.wfile.flush()

    def json(self, data: Any, status: int = 200) -> None:
        """A plain (non-streaming) JSON answer."""
        payload = json.dumps(data).encode()
        handler = self.handler
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        self.started = True


class MockServer:
    """A running mock API: ``url`` is its base address; :meth:`close` stops it."""

    def __init__(self, protocol: Protocol, brain: Brain | None = None) -> None:
        self.protocol = protocol
        self.brain = brain or Brain()
        self.faults: deque[Fault] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, fault: Fault, times: int = 1) -> None:
        """The next ``times`` model requests get ``fault``."""
        with self._lock:
            self.faults.extend([fault] * times)

    def model_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if self.protocol.is_model_request(r.method, r.path)]

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _take_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def _record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)


def _handler_for(server: MockServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            protocol = server.protocol
            is_model = protocol.is_model_request(method, self.path)
            fault = server._take_fault() if is_model else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(Recorded(method, self.path, headers, body, fault is not None))
            out = SSEWriter(self)
            if fault is not None:
                payload = json.dumps(fault.body).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in fault.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
                return
            if not is_model:
                out.json({})
                return
            prompt, results = protocol.brain_inputs(body)
            action = server.brain.decide(prompt, results)
            protocol.write_action(out, body, self.path, action)
            self.close_connection = True

    return Handler
