"""The receiver's HTTP/1.1 on the wire, as the providers' senders may speak it: keep-alive,
pipelining, chunked bodies, `Expect: 100-continue`, `Connection: close`, HTTP/1.0, and requests
that are malformed, unauthorised or too large. Raw sockets, so that each byte is the test's."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import anyio
import pytest
from attempts_helpers import enablex_state, event_rows
from receiver_helpers import TOKEN, Receiver

from campaigner.db import Database
from campaigner.receiver import _http

pytestmark = pytest.mark.anyio

BODY = enablex_state("voice-1", "ringing")
HOOK = f"/hooks/enablex/{TOKEN}"
HANG = 30  # seconds: an answer not sent at all fails the test instead of hanging it


async def _connect(receiver: Receiver) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    where = urlsplit(receiver.url)
    assert where.hostname is not None
    assert where.port is not None
    return await asyncio.open_connection(where.hostname, where.port)


def _post(body: bytes = BODY, path: str = HOOK, *extra: str) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: receiver",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One answer: status, headers (lower-case names), body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _last_answer(receiver: Receiver, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` on a new connection: its one answer's status and headers, and what the
    receiver sent after it before closing (b"" when it closed cleanly)."""
    reader, writer = await _connect(receiver)
    writer.write(request)
    status, headers, _ = await _answer(reader)
    rest = await reader.read()
    writer.close()
    return status, headers, rest


async def test_one_connection_carries_many_webhooks(database: Database, receiver: Receiver) -> None:
    reader, writer = await _connect(receiver)
    statuses = []
    for _ in range(3):
        writer.write(_post())
        status, headers, body = await _answer(reader)
        statuses.append(status)
        assert "connection" not in headers
        assert body == b'{"status":"stored"}'
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: receiver\r\n\r\n")
    health = await _answer(reader)
    writer.close()
    assert statuses == [200, 200, 200]
    assert (health[0], health[2]) == (200, b'{"status":"ok","database":"ok"}')
    assert len(event_rows(database)) == 3


async def test_pipelined_requests_are_answered_in_order(
    database: Database, receiver: Receiver
) -> None:
    reader, writer = await _connect(receiver)
    writer.write(_post() + _post(path="/hooks/enablex/wrong-token-0123456789") + _post())
    answers = [await _answer(reader) for _ in range(3)]
    writer.close()
    assert [status for status, _, _ in answers] == [200, 401, 200]
    assert len(event_rows(database)) == 2


async def test_a_chunked_body_is_stored_whole(database: Database, receiver: Receiver) -> None:
    reader, writer = await _connect(receiver)
    half = len(BODY) // 2
    chunks = [BODY[:half], BODY[half:]]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    head = f"POST {HOOK} HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n"
    writer.write(head.encode() + encoded)
    status, _, _ = await _answer(reader)
    writer.close()
    assert status == 200
    (row,) = event_rows(database)
    assert bytes(row["body"]) == BODY


async def test_expect_100_continue_is_honoured(database: Database, receiver: Receiver) -> None:
    reader, writer = await _connect(receiver)
    request = _post(BODY, HOOK, "Expect: 100-continue")
    head, body = request.split(b"\r\n\r\n", 1)
    writer.write(head + b"\r\n\r\n")
    interim = await reader.readuntil(b"\r\n\r\n")
    writer.write(body)
    status, _, _ = await _answer(reader)
    writer.close()
    assert (interim, status) == (b"HTTP/1.1 100 Continue\r\n\r\n", 200)
    assert len(event_rows(database)) == 1


async def test_a_refusal_is_sent_instead_of_100_continue(
    database: Database, receiver: Receiver
) -> None:
    """The client waits for 100 before sending its body: it gets the refusal instead, and the
    connection closes (the body it would have sent is not read)."""
    status, headers, rest = await _last_answer(
        receiver,
        f"POST {HOOK} HTTP/1.1\r\nHost: r\r\nContent-Length: 99999\r\n"
        "Expect: 100-continue\r\n\r\n".encode(),
    )
    assert (status, headers["connection"], rest) == (413, "close", b"")
    assert event_rows(database) == []


async def test_an_oversized_body_is_refused_and_the_connection_stays_usable(
    database: Database, receiver: Receiver
) -> None:
    reader, writer = await _connect(receiver)
    writer.write(_post(b"{" + b" " * 5000 + b"}"))
    too_large = await _answer(reader)
    writer.write(_post())
    then = await _answer(reader)
    writer.close()
    assert (too_large[0], then[0]) == (413, 200)
    assert len(event_rows(database)) == 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"POST /hooks/enablex HTTP/1.1\r\nContent-Length: x\r\n\r\n", id="length"),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="garbage"),
        pytest.param(b"POST / HTTP/1.1\r\nBad Header\r\n\r\n", id="header"),
    ],
)
async def test_a_malformed_request_gets_400_and_the_connection_closes(
    database: Database, receiver: Receiver, request_bytes: bytes
) -> None:
    status, headers, rest = await _last_answer(receiver, request_bytes)
    assert (status, headers["connection"], rest) == (400, "close", b"")
    assert event_rows(database) == []


async def test_oversized_headers_get_431(database: Database, receiver: Receiver) -> None:
    status, _, rest = await _last_answer(receiver, _post(BODY, HOOK, "X-Padding: " + "a" * 20_000))
    assert (status, rest) == (431, b"")
    assert event_rows(database) == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(_post(BODY, HOOK, "Connection: close"), id="connection-close"),
        pytest.param(_post().replace(b"HTTP/1.1", b"HTTP/1.0", 1), id="http-1.0"),
    ],
)
async def test_the_connection_closes_when_the_client_asks(
    database: Database, receiver: Receiver, request_bytes: bytes
) -> None:
    status, headers, rest = await _last_answer(receiver, request_bytes)
    assert (status, headers["connection"], rest) == (200, "close", b"")
    assert len(event_rows(database)) == 1


async def test_a_pipelined_request_gets_100_continue_after_the_answers_before_it(
    database: Database, receiver: Receiver
) -> None:
    reader, writer = await _connect(receiver)
    head, body = _post(BODY, HOOK, "Expect: 100-continue").split(b"\r\n\r\n", 1)
    writer.write(_post() + head + b"\r\n\r\n")
    with anyio.fail_after(HANG):
        first = await _answer(reader)
        interim = await reader.readuntil(b"\r\n\r\n")
    writer.write(body)
    second = await _answer(reader)
    writer.close()
    assert (first[0], interim, second[0]) == (200, b"HTTP/1.1 100 Continue\r\n\r\n", 200)
    assert len(event_rows(database)) == 2


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(f"POST {HOOK} HTTP/1.1\r\nHost: r\r\n".encode(), id="head"),
        pytest.param(_post()[:-5], id="body"),
    ],
)
async def test_a_request_that_stops_half_way_gets_408_and_the_connection_closes(
    database: Database,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    request_bytes: bytes,
) -> None:
    monkeypatch.setattr(_http, "STALL_SECONDS", 0.2)
    with anyio.fail_after(HANG):
        status, headers, rest = await _last_answer(receiver, request_bytes)
    assert (status, headers["connection"], rest) == (408, "close", b"")
    assert event_rows(database) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_upgrade_is_ignored_and_the_request_served_in_http_1_1(
    database: Database, receiver: Receiver, chunked: bool
) -> None:
    """As `curl --http2 http://...` asks: `Upgrade: h2c`, which the receiver does not do."""
    upgrade = ["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABk"]
    request = _post(BODY, HOOK, *upgrade)
    if chunked:
        head = request.split(b"\r\n\r\n", 1)[0].replace(
            b"Content-Length: %d" % len(BODY), b"Transfer-Encoding: chunked"
        )
        request = head + b"\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    reader, writer = await _connect(receiver)
    writer.write(request + _post())
    with anyio.fail_after(HANG):
        answers = [await _answer(reader) for _ in range(2)]
    writer.close()
    assert [status for status, _, _ in answers] == [200, 200]
    assert [bytes(row["body"]) for row in event_rows(database)] == [BODY, BODY]
