"""The receiver's HTTP/1.1 server: an asyncio protocol around httptools' parser.

Webhooks are thousands of tiny POSTs a second. Served by uvicorn and an ASGI application, each
cost about 85 µs of CPU before the database saw it (a scope, a task, ASGI messages and two writes
per request); here a request under /hooks/ is checked when its headers are in (`check_webhook`),
its body is handed to the group-commit writer when it is complete, and the answer is written in
one piece from the writer's future, with no task per request. Every other path (`/healthz`, the
status pages) goes to the Starlette application through a small buffered ASGI call.

What the providers' senders need, and a server must do: keep-alive (the default in HTTP/1.1),
`Connection: close` and HTTP/1.0, chunked bodies (httptools decodes them), `Expect:
100-continue` (for a pipelined request too, after the answers before it), answers in request
order when requests are pipelined, 400 and a closed connection for a request that does not parse,
431 for oversized headers, 413 for an oversized body (read to its end and dropped, so that the
connection stays usable), idle connections closed after `KEEP_ALIVE_SECONDS`, and 408 and a
closed connection for a request that stops arriving half-way for `STALL_SECONDS` (a client that
died, or one holding connections open on purpose). An `Upgrade` header (`curl --http2` sends
`Upgrade: h2c`) is ignored, as RFC 9110 lets a server do: the request is served in HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import http
import logging
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import httptools
from starlette.types import Message

from ..model import Provider
from ._app import HOOKS, NOT_STORED, STORED, Answer, ReceiverApp
from ._log import describe_error, log

KEEP_ALIVE_SECONDS = 5.0
STALL_SECONDS = 30.0  # the most a request may go without a byte once it has begun
MAX_HEAD = 16 * 1024  # request line and headers
MAX_PIPELINED = 16  # requests waiting for their answers before the connection stops reading


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


_STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_JSON = b"content-type: application/json\r\n"
_CLOSE = b"connection: close\r\n"
_BAD_REQUEST = Answer(400, b'{"error":"malformed request"}')
_HEAD_TOO_LARGE = Answer(431, b'{"error":"request headers too large"}')
_STALLED = Answer(408, b'{"error":"request not received in time"}')


class _Clock:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self._second = 0
        self._header = b""

    def header(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._header = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._header


class Connections:
    """The server's open connections, so that it can stop them."""

    def __init__(self, app: ReceiverApp) -> None:
        self.app = app
        self.clock = _Clock()
        self.open: set[HttpConnection] = set()
        self.closing = False
        self.all_closed = asyncio.Event()
        self.all_closed.set()

    def protocol(self) -> HttpConnection:
        return HttpConnection(self)

    def close_idle(self) -> None:
        """Stop: idle connections close now, the others once their answers are written."""
        self.closing = True
        for connection in list(self.open):
            connection.close_if_idle()

    def abort(self) -> None:
        for connection in list(self.open):
            connection.abort()


class _Slot:
    """One request's place in its connection's answer order."""

    __slots__ = ("close", "data")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.close = False


class HttpConnection(asyncio.Protocol):
    """One client connection; see the module docstring."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._app = connections.app
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client = "?"
        self._server: tuple[str, int] | None = None
        self._client_address: tuple[str, int] | None = None
        self._answers: deque[_Slot] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._lost: asyncio.Future[None] | None = None
        self._done = False  # no more requests are read on this connection
        self._closed = False
        self._reading = True
        self._in_message = False
        # The request being read
        self._url = b""
        self._head_size = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._authorization: str | None = None
        self._content_type: str | None = None
        self._length: bytes | None = None
        self._expect_continue = False
        self._early = False  # refused before its body, and answered
        self._head = False
        self._keep_alive = True
        self._hook: Provider | None = None
        self._refusal: Answer | None = None
        self._path = ""
        self._query = b""
        self._body: list[bytes] = []
        self._size = 0

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.open.add(self)
        self._connections.all_closed.clear()
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self._client = str(peer[0])
            self._client_address = (str(peer[0]), int(peer[1]))
        local = transport.get_extra_info("sockname")
        if isinstance(local, tuple):
            self._server = (str(local[0]), int(local[1]))
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._done = True
        self._cancel_timer()
        self._connections.open.discard(self)
        if not self._connections.open:
            self._connections.all_closed.set()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._cancel_timer()
        self._feed(data)
        self._wait_for_more()

    def _wait_for_more(self) -> None:
        """Time the wait for the client's next bytes: the rest of a request, or the next one."""
        if self._done:
            return
        if self._in_message:
            self._arm(STALL_SECONDS, self._stalled)
        elif not self._answers:
            self._arm_idle()

    def _feed(self, data: bytes) -> None:
        while True:
            try:
                self._parser.feed_data(data)
                return
            except httptools.HttpParserUpgrade as upgrade:
                head = self._head_without_upgrade()
                if head is None:
                    self._fail(_BAD_REQUEST)
                    return
                data = head + data[upgrade.args[0] :]
            except httptools.HttpParserError:
                self._fail(self._refusal if self._refusal is _HEAD_TOO_LARGE else _BAD_REQUEST)
                return

    def _head_without_upgrade(self) -> bytes | None:
        """The request asked to switch protocols, which this server does not do, and the parser
        stopped after its head. Its head without the upgrade, for a new parser to read before the
        rest (the body, the next requests), so that the request is served as HTTP/1.1; None for
        CONNECT, which has no other meaning."""
        method = self._parser.get_method()
        if method == b"CONNECT":
            return None
        version = self._parser.get_http_version().encode()
        head = [b"%s %s HTTP/%s\r\n" % (method, self._url, version)]
        for name, value in self._headers:
            if name == b"connection":
                tokens = [t.strip() for t in value.split(b",")]
                value = b", ".join(t for t in tokens if t.lower() != b"upgrade")
            if name != b"upgrade" and value:
                head.append(b"%s: %s\r\n" % (name, value))
        head.append(b"\r\n")
        self._parser = httptools.HttpRequestParser(self)
        return b"".join(head)

    def eof_received(self) -> bool | None:
        """The client will send no more: answer what it asked, then close."""
        self._done = True
        if not self._answers:
            return None  # asyncio closes the transport
        self._answers[-1].close = True
        return True

    # --- httptools callbacks ---

    def on_message_begin(self) -> None:
        self._in_message = True
        self._url = b""
        self._head_size = 0
        self._headers = []
        self._authorization = self._content_type = None
        self._length = None
        self._expect_continue = False
        self._early = False
        self._hook = None
        self._refusal = None
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        name = name.lower()
        self._headers.append((name, value))
        if name == b"authorization":
            self._authorization = value.decode("latin-1")
        elif name == b"content-type":
            self._content_type = value.decode("latin-1")
        elif name == b"content-length":
            self._length = value
        elif name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True

    def on_headers_complete(self) -> None:
        parser = self._parser
        if parser.should_upgrade():
            return  # served once the upgrade is taken out (`_without_upgrade`)
        self._keep_alive = parser.should_keep_alive() and not self._connections.closing
        url = httptools.parse_url(self._url)
        path = url.path.decode("latin-1")
        self._path = unquote(path) if "%" in path else path
        self._query = url.query or b""
        method = parser.get_method().decode("latin-1")
        self._head = method == "HEAD"
        if not self._path.startswith(HOOKS):
            self._continue_if_asked()
            return
        checked = self._app.check_webhook(method, self._path, self._authorization, self._client)
        if isinstance(checked, Answer):
            self._refuse_early(checked)
            return
        self._hook = checked
        limit = self._app.max_body
        if self._length is not None and self._length.isdigit() and int(self._length) > limit:
            self._refuse_early(self._app.refuse_size(checked))
            return
        self._continue_if_asked()

    def on_body(self, body: bytes) -> None:
        if self._early or self._refusal is not None:
            return  # read to its end and dropped
        self._size += len(body)
        if self._hook is not None and self._size > self._app.max_body:
            self._refusal = self._app.refuse_size(self._hook)
            self._body = []
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._parser.should_upgrade():
            return  # its body, if any, is still to come (`_without_upgrade`)
        self._in_message = False
        if self._early:
            return
        slot = _Slot()
        self._answers.append(slot)
        if not self._keep_alive:
            self._done = True
            slot.close = True
        if self._done or len(self._answers) >= MAX_PIPELINED:
            self._pause()
        body = b"".join(self._body)
        self._body = []
        if self._refusal is not None:
            self._fill(slot, self._answer(self._refusal, slot.close))
        elif self._hook is not None:
            stored = self._app.store(self._hook, body, self._content_type)
            stored.add_done_callback(self._stored_callback(slot))
        else:
            loop = asyncio.get_running_loop()
            self._lost = self._lost or loop.create_future()
            task = loop.create_task(self._page(slot, self._scope(), body, self._lost))
            task.add_done_callback(_discard)

    # --- answers ---

    def _stored_callback(self, slot: _Slot) -> Callable[[asyncio.Future[None]], None]:
        def stored(future: asyncio.Future[None]) -> None:
            failed = future.cancelled() or future.exception() is not None
            self._fill(slot, self._answer(NOT_STORED if failed else STORED, slot.close))

        return stored

    def _answer(self, answer: Answer, close: bool) -> bytes:
        parts = [
            _STATUS_LINES[answer.status],
            self._connections.clock.header(),
            _JSON,
            b"content-length: %d\r\n" % len(answer.body),
        ]
        for name, value in answer.headers:
            parts += [name, b": ", value, b"\r\n"]
        if close:
            parts.append(_CLOSE)
        parts.append(b"\r\n")
        if not self._head:
            parts.append(answer.body)
        return b"".join(parts)

    def _fill(self, slot: _Slot, data: bytes) -> None:
        slot.data = data
        transport = self._transport
        if transport is None or self._closed:
            return
        answers = self._answers
        while answers and answers[0].data is not None:
            done = answers.popleft()
            assert done.data is not None
            transport.write(done.data)
            if done.close:
                answers.clear()
                self._close()
                return
        if not answers and not self._in_message:
            if self._connections.closing:
                self._close()
                return
            self._arm_idle()
        if not self._done and not self._reading and len(answers) < MAX_PIPELINED:
            self._reading = True
            transport.resume_reading()

    def _refuse_early(self, answer: Answer) -> None:
        """A webhook refused before its body: with `Expect: 100-continue` the client waits, so
        answer and close now; otherwise read the body to its end, drop it, answer then."""
        self._refusal = answer
        if self._expect_continue and self._transport is not None:
            self._done = self._early = True
            slot = _Slot()
            slot.close = True
            self._answers.append(slot)
            self._fill(slot, self._answer(answer, True))

    def _continue_if_asked(self) -> None:
        """Answer `Expect: 100-continue`: now, or after the answers still owed before it."""
        if not self._expect_continue or self._transport is None:
            return
        if not self._answers:
            self._transport.write(_CONTINUE)
            return
        interim = _Slot()
        interim.data = _CONTINUE
        self._answers.append(interim)

    def _fail(self, answer: Answer) -> None:
        """The request cannot be read: answer it (after those before it) and close."""
        self._done = True
        self._in_message = False
        self._pause()
        slot = _Slot()
        slot.close = True
        self._answers.append(slot)
        self._fill(slot, self._answer(answer, True))

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD:
            self._refusal = _HEAD_TOO_LARGE
            raise httptools.HttpParserError("request head too large")

    # --- other paths: Starlette ---

    def _scope(self) -> dict[str, Any]:
        """The ASGI scope of the request just read (taken now: the next one may follow)."""
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": self._parser.get_http_version(),
            "method": self._parser.get_method().decode("latin-1"),
            "scheme": "http",
            "path": self._path,
            "raw_path": self._url.partition(b"?")[0],
            "query_string": self._query,
            "root_path": "",
            "headers": self._headers,
            "client": self._client_address,
            "server": self._server,
            "state": {},
        }

    async def _page(
        self, slot: _Slot, scope: dict[str, Any], body: bytes, lost: asyncio.Future[None]
    ) -> None:
        close = slot.close
        head = scope["method"] == "HEAD"
        received = False
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await lost
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self._app.pages(scope, receive, send)
        except Exception as exc:
            log(logging.ERROR, "receiver.page_failed", error=describe_error(exc))
            status, headers, chunks = 500, [(b"content-type", b"text/plain")], [b"server error"]
        content = b"".join(chunks)
        parts = [_STATUS_LINES.get(status, _status_line(status)), self._connections.clock.header()]
        for name, value in headers:
            if name.lower() not in (b"content-length", b"connection", b"date"):
                parts += [name, b": ", value, b"\r\n"]
        parts.append(b"content-length: %d\r\n" % len(content))
        if close:
            parts.append(_CLOSE)
        parts.append(b"\r\n")
        if not head:
            parts.append(content)
        self._fill(slot, b"".join(parts))

    # --- flow and timers ---

    def _pause(self) -> None:
        if self._reading and self._transport is not None:
            self._reading = False
            self._transport.pause_reading()

    def _arm_idle(self) -> None:
        self._arm(KEEP_ALIVE_SECONDS, self._close_idle)

    def _arm(self, seconds: float, then: Callable[[], None]) -> None:
        self._cancel_timer()
        if self._transport is not None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(seconds, then)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_idle(self) -> None:
        self._timer = None
        self.close_if_idle()

    def _stalled(self) -> None:
        self._timer = None
        if self._in_message and not self._done:
            self._fail(_STALLED)

    def close_if_idle(self) -> None:
        if not self._answers and not self._in_message:
            self._close()

    def _close(self) -> None:
        self._done = self._closed = True
        self._cancel_timer()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


def _discard(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
