"""The sender: POSTs due outbox rows, signed, and retries failures with backoff and jitter.

    sender = NotificationSender(database, secret)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(sender.run)     # until cancelled
    await sender.drain(timeout=10)       # or: send what is due now, then return
    await sender.close()

It runs in `campaigner run` (beside the dialer, in its own task and database thread, so the
dialer's hot path never waits for it) and in `campaigner serve`. Several processes may run one:
each claims rows with a lease (see `_outbox`), so no row is sent by two at once.

A 2xx answer delivers a row. Anything else (an error status, a refused connection, a timeout) is
retried after `base * 2**tries` seconds, capped at `cap`, each delay scaled by a random factor in
[0.5, 1) so that retries from many rows do not arrive together. Rows are retried until delivered:
nothing is dropped. The secret is used to sign and is never logged.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx

from ..db import Database
from ._outbox import Outgoing, Result, claim_due, next_due, record_results, undelivered_count
from ._signing import ID_HEADER, SIGNATURE_HEADER, sign

logger = logging.getLogger("campaigner.notifications")

USER_AGENT = "campaigner-notifications/1"


class NotificationSender:
    def __init__(
        self,
        database: Database,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        batch: int = 50,
        concurrency: int = 8,
        lease: float = 60.0,
        timeout: float = 10.0,
        base: float = 5.0,
        cap: float = 3600.0,
        poll: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self._database = database
        self._secret = secret
        self._client = client
        self._own_client = client is None
        self._batch = batch
        self._concurrency = concurrency
        self._lease = max(lease, timeout * 2)
        self._timeout = timeout
        self._base = base
        self._cap = cap
        self._poll = poll
        self._rng = rng or random.Random()
        self._limiter = anyio.CapacityLimiter(1)
        self._poked = anyio.Event()
        self.delivered = 0
        self.failed = 0

    def poke(self) -> None:
        """Look for due rows now (something was just written)."""
        self._poked.set()

    def retry_delay(self, tries: int) -> float:
        """Seconds before the next try of a row that has failed `tries` times (1 = once)."""
        delay: float = min(self._cap, self._base * 2.0 ** (tries - 1))
        return delay * (0.5 + self._rng.random() / 2)

    async def run(self) -> None:
        """Send due rows until cancelled; between batches, wait for a poke or the poll interval.
        The owner `close()`s the sender afterwards."""
        while True:
            try:
                sent = await self._send_batch()
            except Exception as exc:  # the database failed: try again later, never stop the run
                logger.error("notifications.batch_failed error=%s", type(exc).__name__)
                sent = 0
            if sent < self._batch:
                with anyio.move_on_after(self._poll):
                    await self._poked.wait()
                self._poked = anyio.Event()

    async def drain(self, timeout: float) -> int:
        """Send the undelivered rows, waiting for retries that fall due within `timeout` seconds;
        returns how many are still undelivered."""
        with anyio.move_on_after(timeout):
            while True:
                if await self._send_batch():
                    continue
                due = await self.next_due()
                if due is None:
                    break
                await anyio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        return await self.undelivered()

    async def undelivered(self) -> int:
        def read(database: Database) -> int:
            with database.read() as connection:
                return undelivered_count(connection)

        return await anyio.to_thread.run_sync(read, self._database, limiter=self._limiter)

    async def next_due(self) -> datetime | None:
        def read(database: Database) -> datetime | None:
            with database.read() as connection:
                return next_due(connection)

        return await anyio.to_thread.run_sync(read, self._database, limiter=self._limiter)

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _send_batch(self) -> int:
        """Claim and send one batch; how many rows it had.

        Shielded from cancellation: rows claimed are sent and recorded even when the sender is
        being stopped (each request is bounded by the timeout), so none sits out its lease."""
        with anyio.CancelScope(shield=True):
            claimed = await anyio.to_thread.run_sync(
                partial(self._claim, datetime.now(UTC)), limiter=self._limiter
            )
            if not claimed:
                return 0
            results: list[Result] = []
            semaphore = anyio.Semaphore(self._concurrency)

            async def send(item: Outgoing) -> None:
                async with semaphore:
                    results.append(await self._send(item))

            async with anyio.create_task_group() as tasks:
                for item in claimed:
                    tasks.start_soon(send, item)
            await anyio.to_thread.run_sync(partial(self._record, results), limiter=self._limiter)
        return len(claimed)

    def _claim(self, now: datetime) -> list[Outgoing]:
        with self._database.write() as connection:
            return claim_due(connection, now, self._batch, self._lease)

    def _record(self, results: Sequence[Result]) -> None:
        with self._database.write() as connection:
            record_results(connection, results, datetime.now(UTC))

    async def _send(self, item: Outgoing) -> Result:
        body = item.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            ID_HEADER: item.notification_id,
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        try:
            response = await self._client.post(item.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if 200 <= response.status_code < 300:
                self.delivered += 1
                return Result(item.id, True)
            error = f"HTTP {response.status_code}"
        self.failed += 1
        delay = self.retry_delay(item.attempts + 1)
        logger.warning(
            "notification.failed id=%s to=%s tries=%d error=%s retry_in=%.0fs",
            item.notification_id,
            _where(item.url),
            item.attempts + 1,
            error,
            delay,
        )
        return Result(item.id, False, error, datetime.now(UTC) + timedelta(seconds=delay))


def _where(url: str) -> str:
    """The scheme, host and path of a URL: its query may carry a token, which is not logged."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{parts.path}"
