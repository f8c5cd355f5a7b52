"""When a request's first bytes reached the simulator: the receipt time a provider's edge stamps.

The ledger judges "never more than N calls in any second" on receipt times. Taken when the
simulator's code got to a request, they carried the simulator's own delays: on the machine it
shares with the dialers under test it waits for a CPU, and its event loop queues requests behind
webhooks. Measured on the dial benchmark at a load of 8.6 on two cores: requests the dialer wrote
at most 349 to a second were read by the simulator up to 0.8 s late (p99), and stamped up to 417
to a second. A real provider's edge runs on machines of its own and sees the bytes as they come.

So the simulator takes the kernel's word: on Linux, TCP_INFO's `tcpi_last_data_recv` is how long
ago the connection last received data; read as a request's first bytes are parsed, it dates their
arrival (to one kernel clock tick, 4 ms at HZ=250). Elsewhere the stamp is the moment the first
bytes are parsed, before the request waits in the event loop.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

ARRIVAL = "campaigner.arrival"  # the scope's extension: {"at": Unix time the request arrived}

# struct tcp_info (linux/tcp.h): 8 one-byte fields, then 32-bit ones; tcpi_last_data_recv (ms)
# is the 12th of those.
_LAST_DATA_RECV = struct.Struct("=I")
_LAST_DATA_RECV_AT = 8 + 4 * 11
_TCP_INFO = getattr(socket, "TCP_INFO", None) if sys.platform.startswith("linux") else None


def arrived_at(sock: Any) -> float:
    """When the data last read from this TCP socket arrived (Unix time)."""
    now = time.time()
    if _TCP_INFO is None or sock is None:
        return now
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _LAST_DATA_RECV_AT + 4)
    except OSError:
        return now
    if len(info) < _LAST_DATA_RECV_AT + 4:
        return now
    milliseconds: int = _LAST_DATA_RECV.unpack_from(info, _LAST_DATA_RECV_AT)[0]
    return now - milliseconds / 1000


class ArrivalStamping(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with each request's arrival in its scope (`ARRIVAL`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._socket = transport.get_extra_info("socket")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ARRIVAL: {"at": arrived_at(self._socket)}}


def arrival_of(scope: Any) -> float | None:
    """The arrival `ArrivalStamping` noted in a request's scope, if it did."""
    arrival = scope.get("extensions", {}).get(ARRIVAL)
    return None if arrival is None else float(arrival["at"])
