"""Requests a provider needs after an event (EnableX: hang up once the message has played, or
play it again when no key was pressed and the campaign replays on no input).

Sent in the background once the event is stored, never before the webhook is answered: EnableX
gives its webhooks about 5 seconds. A failure is retried a few times, then logged; the call then
ends when the callee or the provider hangs up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace

import httpx

from ..config import Settings
from ..errors import ConfigError
from ..model import Provider
from ..providers import CallEvent, Credentials, EventKind, FollowUp, ProviderAdapter
from ..store.attempts import FollowUpNeeded
from ._log import describe_error, log

TRIES = 4
FIRST_RETRY_DELAY = 0.5  # seconds, doubled after each failure
TIMEOUT = 5.0
# Statuses worth trying again; any other failure will fail the same way again.
_TRANSIENT = frozenset({408, 425, 429})


class FollowUpSender:
    def __init__(
        self,
        settings: Settings,
        adapters: Mapping[Provider, ProviderAdapter],
        client: httpx.AsyncClient | None = None,
        *,
        tries: int = TRIES,
        first_retry_delay: float = FIRST_RETRY_DELAY,
    ) -> None:
        self._settings = settings
        self._adapters = adapters
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT)
        self._tries = tries
        self._first_retry_delay = first_retry_delay
        self._credentials: dict[Provider, Credentials | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, needed: FollowUpNeeded) -> None:
        """Start sending in the background."""
        task = asyncio.create_task(self._guarded(needed), name=f"follow-up-{needed.attempt_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, timeout: float = TIMEOUT) -> None:
        """Give the requests under way `timeout` seconds to finish, then drop them."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
                log(logging.WARNING, "follow_ups.abandoned", count=len(late))
        if self._own_client:
            await self._client.aclose()

    async def _guarded(self, needed: FollowUpNeeded) -> None:
        try:
            await self._send(needed)
        except Exception as exc:  # a bug here must not go unseen in an unawaited task
            log(
                logging.ERROR,
                "follow_up.crashed",
                attempt_id=needed.attempt_id,
                error=describe_error(exc),
            )

    async def _send(self, needed: FollowUpNeeded) -> None:
        credentials = self._credentials_for(needed.provider)
        if credentials is None:
            return
        adapter = self._adapters[needed.provider]
        if needed.follow_up is FollowUp.REPLAY and needed.replay is not None:
            request = adapter.replay_request(
                needed.call_id, needed.replay, needed.key_timeout, credentials
            )
        else:
            event = CallEvent(EventKind.FINAL, needed.call_id, follow_up=needed.follow_up)
            request = adapter.follow_up_request(event, credentials)
        if request is None:
            return
        fields = {
            "provider": needed.provider.value,
            "attempt_id": needed.attempt_id,
            "call_id": needed.call_id,
            "follow_up": needed.follow_up.value,
        }
        delay = self._first_retry_delay
        for tried in range(1, self._tries + 1):
            try:
                response = await self._client.request(
                    request.method, request.url, headers=dict(request.headers), json=request.json
                )
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = response.status_code
                if status < 300 or status == 404:  # 404: the call is already over
                    log(logging.DEBUG, "follow_up.sent", status=status, **fields)
                    return
                reason = f"HTTP {status}"
                if status < 500 and status not in _TRANSIENT:
                    break
            if tried < self._tries:
                log(logging.INFO, "follow_up.retrying", reason=reason, tried=tried, **fields)
                await asyncio.sleep(delay)
                delay *= 2
        log(logging.WARNING, "follow_up.failed", reason=reason, **fields)
        if needed.follow_up is FollowUp.REPLAY:  # the callee must not be left on a silent line
            await self._send(replace(needed, follow_up=FollowUp.HANG_UP, replay=None))

    def _credentials_for(self, provider: Provider) -> Credentials | None:
        if provider not in self._credentials:
            try:
                self._credentials[provider] = self._adapters[provider].credentials(self._settings)
            except ConfigError as exc:
                self._credentials[provider] = None
                log(logging.ERROR, "follow_ups.disabled", provider=provider.value, reason=exc)
        return self._credentials[provider]
