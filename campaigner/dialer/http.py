"""Sending dial requests: several httpx clients, and what each kind of failure means.

One `httpx.AsyncClient` slows to a crawl above a few dozen requests in flight (its connection pool
bookkeeping grows with the square of the requests waiting: encode/httpcore#1035; measured here,
64 in flight against a 100 ms server gave 105 requests/s). So requests are spread over several
clients, each kept to a handful of requests in flight (a request goes to the client with the
fewest), sharing one TLS context (each client loading the CA bundle on its own costs 36 ms).
See benchmarks/dial_bench.py for the figures behind `REQUESTS_PER_CLIENT`.

What a failure means decides whether the call may exist:

- nothing was sent (no connection, connect timeout, no free connection in time): `Transient`,
  the same request may simply be sent again;
- the request went out and no answer came (read timeout, connection dropped mid-answer):
  `Ambiguous`: the provider may have placed the call, so it is never redialled blind;
- an answer: the adapter reads it (`Accepted`, `Refused`, or `Transient` for 408, 429, 5xx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx

from ..providers import DialAnswer, HttpRequest, ProviderAdapter, Transient

# In flight per client: below where httpx's pool bookkeeping starts to cost (measured).
REQUESTS_PER_CLIENT = 8
MAX_CLIENTS = 64


@dataclass(frozen=True)
class Ambiguous:
    """The request was sent and no answer came: the call may or may not have been placed."""

    reason: str


SendResult = DialAnswer | Ambiguous


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0  # seconds to open a connection (nothing sent yet: safe to retry)
    read: float = 30.0  # seconds to wait for the provider's answer once the request is sent


class ProviderClient:
    """Sends a provider's requests over a few pooled httpx clients."""

    def __init__(self, adapter: ProviderAdapter, timeouts: Timeouts, concurrency: int) -> None:
        self.adapter = adapter
        count = max(1, min(MAX_CLIENTS, math.ceil(concurrency / REQUESTS_PER_CLIENT)))
        timeout = httpx.Timeout(
            connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=timeouts.connect
        )
        limits = httpx.Limits(
            max_connections=REQUESTS_PER_CLIENT, max_keepalive_connections=REQUESTS_PER_CLIENT
        )
        tls = httpx.create_ssl_context()
        self._clients = [
            httpx.AsyncClient(timeout=timeout, limits=limits, verify=tls) for _ in range(count)
        ]
        self._busy = [0] * count

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def send(self, request: HttpRequest) -> tuple[SendResult, int | None]:
        """Send a dial request; what came back, as the provider meant it, and the HTTP status."""
        response = await self.exchange(request)
        if isinstance(response, Transient | Ambiguous):
            return response, None
        answer = self.adapter.parse_dial_answer(
            response.status_code, response.headers, response.content
        )
        return answer, response.status_code

    async def exchange(self, request: HttpRequest) -> httpx.Response | Transient | Ambiguous:
        """Send any request (a dial, a lookup); the response, or why there is none."""
        index = min(range(len(self._clients)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            return await self._clients[index].request(
                request.method,
                request.url,
                headers=dict(request.headers),
                json=request.json,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Transient(f"cannot reach the provider: {_describe(exc)}")
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            return Ambiguous(f"sent, but no answer: {_describe(exc)}")
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


def _describe(exc: httpx.HTTPError) -> str:
    said = str(exc).strip()
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__
