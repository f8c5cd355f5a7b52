"""Sending one dial request, and what each answer leads to; reconciling calls gone quiet.

A dial task (one per claimed contact) waits for its turn, checks the contact's calling window once
more (the claim was up to half a second ago) and that its number has not been put on the
do-not-call list since (`Dialer.blocked`: then the claim is given back, and the contact is
suppressed), and sends. Then:

- Accepted: the call id is recorded (the journal batches it); orphan events are matched then.
- Refused: not a call: recorded as `rejected_request` (the contact is due again, its attempt not
  counted) and the run stops; the campaign is paused with the provider's own words.
- Transient (connection refused, 429, 5xx): the same request (same correlation and idempotency
  key) is sent again after a backoff with jitter, never sooner than Retry-After; a 429 holds every
  request, not just this one. No attempt is used up. Failures other than 429 count towards the
  circuit breaker.
- Ambiguous (sent, no answer): the call may exist, so the attempt stays live, noted as ambiguous.
  Where the provider honours the idempotency key (EnableX, Webex Connect), the same request is
  sent again: EnableX answers with the first call's id; Webex Connect refuses a repeat (409),
  which proves the first was accepted; either way no second call is placed. Elsewhere (Fractel)
  the attempt waits for its events or the call timeout.

Reconciling, every few seconds: an attempt live for half the call timeout with no call id is sent
again if the provider is idempotent (this covers a run that died between committing an attempt and
hearing the answer); one with a call id is looked up where the provider allows it (EnableX
`GET /call/{voice_id}`), and a call the provider says has ended is settled from that answer. At
the call timeout, what is still live is failed ("no final event within ...") and retried per the
campaign's retry policy as a new attempt.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import Connection

from ..phones import mask
from ..providers import (
    Accepted,
    CallEvent,
    CallLookup,
    Credentials,
    EventKind,
    HttpRequest,
    ProviderAdapter,
    Refused,
    Transient,
)
from ..store.attempts import Applied, apply_events, settle_stale_attempts, store_raw_events
from ..store.queue import (
    Claimed,
    DueContact,
    LiveAttempt,
    Uncallable,
    live_attempts,
    suppressed_numbers,
)
from ..windows import CallingWindow, zone_named
from .backoff import Backoff
from .breaker import CircuitBreaker
from .http import Ambiguous
from .stopping import Stop
from .transport import Response

if TYPE_CHECKING:
    from .engine import Dialer

RESENDS = 3  # times an ambiguous request is sent again (idempotent providers only)
DUPLICATE_STATUS = 409  # a provider refusing a repeated idempotency key: the first was accepted


class Withdrawn(Exception):
    """A request not sent after all: the run is stopping, or the contact's window has closed."""

    def __init__(self, due_again: datetime | None) -> None:
        super().__init__("withdrawn before sending")
        self.due_again = due_again  # when the contact is due again; None: as it was


class WindowCheck:
    """The campaign's calling window, for contacts' zones (looked up once each)."""

    def __init__(self, window: CallingWindow) -> None:
        self.window = window
        self._zones: dict[str, ZoneInfo] = {}

    def zone(self, name: str) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = zone_named(name)
        return zone

    def closed_until(self, contact: DueContact, now: datetime) -> datetime | None:
        """None when the contact's window is open at `now`, else when it next opens."""
        zone = self.zone(contact.timezone)
        return None if self.window.is_open(now, zone) else self.window.next_opening(now, zone)


class Sender:
    def __init__(
        self,
        dialer: Dialer,
        adapter: ProviderAdapter,
        credentials: Credentials,
        breaker: CircuitBreaker,
        backoff: Backoff,
        rng: random.Random,
    ) -> None:
        self.dialer = dialer
        self.adapter = adapter
        self.credentials = credentials
        self.breaker = breaker
        self.backoff = backoff
        self.rng = rng
        self.idempotent = adapter.capabilities.idempotent_dial
        self.sending: set[int] = set()  # attempts whose request a task of this run is sending
        self.reconciled: set[int] = set()  # attempts this run has sent again or looked up

    # --- A claimed contact's request ------------------------------------------------------------

    async def dial(self, claimed: Claimed[HttpRequest]) -> None:
        dialer = self.dialer
        attempt_id = claimed.attempt_id
        dialer.tasks += 1
        self.sending.add(attempt_id)
        try:
            if dialer.marker is not None and not await dialer.marker.wait(attempt_id):
                dialer.lost(attempt_id)  # taken over by another worker: not this one's to send
                return
            await self._send(attempt_id, claimed.request, claimed.contact, sent_before=False)
        finally:
            self.sending.discard(attempt_id)
            dialer.tasks -= 1
            dialer.poke()

    async def _send(
        self, attempt_id: int, request: HttpRequest, contact: DueContact, *, sent_before: bool
    ) -> None:
        """Send until there is an answer to record, or nothing more to do.

        `sent_before`: a request with this key may have reached the provider already (ambiguous),
        so the attempt can never be given back as unsent.
        """
        dialer = self.dialer
        failures = 0
        resends = 0
        ready = partial(self._ready, attempt_id, contact)
        while True:
            try:
                result, status = await dialer.client.send(request, ready)
            except Withdrawn as withdrawn:
                if not sent_before:
                    dialer.take_unsent(attempt_id)
                    dialer.journal.release(attempt_id, withdrawn.due_again)
                return
            if isinstance(result, Accepted):
                self.breaker.success()
                dialer.journal.answer(attempt_id, result)
                return
            if isinstance(result, Refused):
                self.breaker.success()
                self._refused(attempt_id, result, status, contact, sent_before=sent_before)
                return
            if isinstance(result, Ambiguous):
                sent_before = True
                resends += 1
                self._failure(result.reason)
                dialer.journal.ambiguous(attempt_id, f"ambiguous: {result.reason}")
                dialer.reporter.note(
                    "dial.ambiguous",
                    f"no answer to the dial request for {mask(contact.phone)} "
                    f"({result.reason}): {self._ambiguous_plan()}",
                    attempt=attempt_id,
                )
                if not self.idempotent or resends > RESENDS:
                    return
            else:
                self._transient(result, status)
            if dialer.stop is not None:
                if not sent_before:  # a transient failure placed no call: give the claim back
                    dialer.take_unsent(attempt_id)
                    dialer.journal.release(attempt_id, None)
                return
            failures += 1
            retry_after = result.retry_after if isinstance(result, Transient) else None
            with anyio.move_on_after(self.backoff.delay(failures, self.rng.random(), retry_after)):
                await dialer.stopped.wait()

    async def _ready(self, attempt_id: int, contact: DueContact) -> None:
        """Just before a request is written: wait for its turn, then make sure it may still go.

        Taking the turn here, with the connection ready, keeps the requests evenly spaced on the
        wire (a turn taken before connecting would leave the spacing to connection times).
        """
        dialer = self.dialer
        await dialer.pacer.turn()
        if dialer.stop is not None:
            raise Withdrawn(None)
        if contact.phone in dialer.blocked:  # put on the do-not-call list since it was claimed
            raise Withdrawn(None)
        closed_until = dialer.windows.closed_until(contact, dialer.clock.now())
        if closed_until is not None:
            raise Withdrawn(closed_until)
        # Out of `unsent` just before the first write: whatever happens next, it may have left.
        if dialer.take_unsent(attempt_id):
            dialer.dialled += 1
            dialer.rate.add(time.monotonic())
            if len(dialer.unsent) == dialer.lookahead // 2:
                dialer.poke()  # time to claim the next batch

    def _refused(
        self,
        attempt_id: int,
        refused: Refused,
        status: int | None,
        contact: DueContact,
        *,
        sent_before: bool,
    ) -> None:
        dialer = self.dialer
        provider = self.adapter.provider.value
        if sent_before and status == DUPLICATE_STATUS:
            dialer.journal.ambiguous(
                attempt_id,
                f"the provider already has this request ({refused.code}: {refused.message}): "
                "waiting for the call's events",
            )
            return
        words = f"{provider} refused a call: {refused.code}: {refused.message}"
        if sent_before:  # the first request may have placed the call: it stays live
            dialer.journal.ambiguous(attempt_id, f"sent again, then refused: {refused.code}")
        else:
            dialer.journal.answer(attempt_id, refused)
        dialer.reporter.note(
            "dial.refused",
            f"{words} (to {mask(contact.phone)})",
            code=refused.code,
            status=status,
        )
        dialer.request_stop(Stop.REFUSED, words)

    def _transient(self, result: Transient, status: int | None) -> None:
        if status == 429:  # the provider asks everyone to slow down: honour it, not a failure
            self.dialer.pacer.hold(result.retry_after or self.backoff.delay(1, self.rng.random()))
            return
        if result.retry_after:
            self.dialer.pacer.hold(result.retry_after)
        self._failure(result.reason)

    def _failure(self, reason: str) -> None:
        if self.breaker.failure(reason):
            self.dialer.request_stop(Stop.BREAKER, self.breaker.describe())

    def _ambiguous_plan(self) -> str:
        if self.idempotent:
            return "sending it again with the same idempotency key (no second call can result)"
        return "not redialled: waiting for the call's events or the call timeout"

    # --- Calls gone quiet -----------------------------------------------------------------------

    async def reconcile(self, call_timeout: float) -> None:
        dialer = self.dialer
        now = dialer.clock.now()
        quiet = await dialer.db.read(
            partial(
                live_attempts,
                campaign_id=dialer.campaign.id,
                requested_before=now - timedelta(seconds=call_timeout / 2),
                owner=dialer.lease.id or None,
            )
        )
        for attempt in quiet:
            if attempt.attempt_id in self.sending or attempt.attempt_id in self.reconciled:
                continue
            self.reconciled.add(attempt.attempt_id)
            if attempt.provider_call_id is None and self.idempotent:
                dialer.start_task(self._send_again, attempt)
            elif attempt.provider_call_id is not None and isinstance(self.adapter, CallLookup):
                dialer.start_task(self._look_up, attempt, attempt.provider_call_id, self.adapter)
        settled: Applied = await dialer.db.write(
            partial(
                settle_stale_attempts,
                campaign_id=dialer.campaign.id,
                started_before=now - timedelta(seconds=call_timeout),
                now=now,
                held=frozenset(dialer.unsent),
            )
        )
        if settled.finished:
            dialer.reporter.note(
                "calls.timed_out",
                f"{len(settled.finished)} call(s) had no final event within the call timeout: "
                "failed, and retried per the campaign's retry policy",
            )
        dialer.on_applied(settled)

    async def _send_again(self, attempt: LiveAttempt) -> None:
        """An attempt whose request may or may not have gone out: the same key, sent again, when
        its contact may still be called."""
        dialer = self.dialer
        if dialer.stop is not None:
            return
        contact = attempt.contact
        suppressed = await dialer.db.read(
            partial(suppressed_numbers, campaign_id=dialer.campaign.id, phones=[contact.phone])
        )
        if suppressed or dialer.windows.closed_until(contact, dialer.clock.now()) is not None:
            return  # not called now: the call timeout settles it, the retry policy takes over
        try:
            request = dialer.builder(contact, attempt.correlation_key)
        except Uncallable:
            return
        self.sending.add(attempt.attempt_id)
        dialer.tasks += 1
        try:
            await self._send(attempt.attempt_id, request, contact, sent_before=True)
        finally:
            self.sending.discard(attempt.attempt_id)
            dialer.tasks -= 1

    async def _look_up(self, attempt: LiveAttempt, call_id: str, lookup: CallLookup) -> None:
        """Ask the provider about a call whose events have not come; settle it if it has ended."""
        dialer = self.dialer
        response = await dialer.client.exchange(lookup.lookup_request(call_id, self.credentials))
        if not isinstance(response, Response):
            return
        event = lookup.parse_lookup_answer(
            call_id, response.status_code, response.headers, response.content
        )
        if not isinstance(event, CallEvent) or event.kind is not EventKind.FINAL:
            return
        provider = self.adapter.provider
        body = response.content or b"{}"
        content_type = response.headers.get("content-type")

        def settle(connection: Connection) -> Applied:
            now = dialer.clock.now()
            (event_id,) = store_raw_events(connection, provider, [(body, content_type)], now)
            return apply_events(connection, provider, [(event_id, event)], now)

        applied = await dialer.db.write(settle)
        outcomes = ", ".join(str(item.outcome) for item in applied.finished) or "no change"
        dialer.reporter.note(
            "call.looked_up",
            f"call {call_id} had sent no final event; the provider says it has ended: {outcomes}",
            attempt=attempt.attempt_id,
        )
        dialer.on_applied(applied)
