"""A notification target: a real HTTP server on 127.0.0.1 that records what it is sent, and can
answer errors, or be stopped and started again on the same port (down, then up)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from campaigner.notifications import ID_HEADER, SIGNATURE_HEADER, verify

SECRET = "test-notify-secret-0123456789"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Target:
    port: int
    fail_first: int = 0  # answer 500 to this many requests (after recording them)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)  # set at each request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/campaigner"

    def start(self) -> None:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with target._lock:
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    target.received.append(Received(self.path, headers, body))
                    failing = target.fail_first > 0
                    target.fail_first -= 1 if failing else 0
                target.arrived.set()
                self.send_response(500 if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def by_id(self) -> dict[str, Received]:
        """What the target keeps once it deduplicates by the notification id."""
        with self._lock:
            return {item.headers[ID_HEADER.lower()]: item for item in self.received}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def signed(item: Received, secret: str = SECRET) -> bool:
    return verify(secret, item.body, item.headers.get(SIGNATURE_HEADER.lower()))
