"""The exchange: takes dial requests, places calls and plays them out as webhooks.

It holds the simulator's state (live calls, idempotency keys, Fractel callback URLs, attempt
counts) and writes the ledger. Its request methods are synchronous and return a `Reply` for the
HTTP layer (`app.py`) to send, possibly after a delay, or to hold open (a hang); everything else
runs as tasks on the server's event loop, the only loop that may call it.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from . import enablex, fractel, webex
from .calls import Call, Callback, Dialect, DialRequest, JsonObject, Refusal, Step, json_bytes
from .config import SimulatorConfig
from .faults import FaultInjector, Verdict, WebhookFaults
from .ledger import DialResult, HangupKind, HangupRecord, Ledger, WebhookRecord
from .sender import SendError, WebhookSender


@dataclass(frozen=True)
class Reply:
    """An HTTP answer. `hang`: hold the request open until the client gives up. `then`: run
    once the answer is sent (starts the call's play-out)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    then: Callable[[], None] | None = None


@dataclass
class _LiveCall:
    """An EnableX call that is up: it can be looked up and hung up."""

    call: Call
    state: str = "In progress"
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    play_done: bool = False
    replay: asyncio.Event = field(default_factory=asyncio.Event)  # a PUT .../play came
    replay_ref: str | None = None  # its prompt_ref
    plays: int = 1  # the message's plays so far


class Exchange:
    def __init__(self, config: SimulatorConfig, ledger: Ledger, faults: FaultInjector) -> None:
        self.config = config
        self.ledger = ledger
        self.faults = faults
        self.sender = WebhookSender(config.webhooks.connections_per_host, config.webhooks.timeout)
        self.fractel_callbacks: dict[str, Callback] = {}  # FoneNumber (E.164) -> callback
        self._tasks: set[asyncio.Task[None]] = set()
        self._clear()

    def _clear(self) -> None:
        self._rng = random.Random(self.config.behaviour.seed)
        self._attempts: Counter[str] = Counter()
        self._live: dict[str, _LiveCall] = {}
        self._enablex_keys: dict[str, tuple[float, int, bytes, str]] = {}
        self._webex_keys: dict[str, tuple[float, str]] = {}

    def now(self) -> tuple[float, datetime]:
        stamp = self.config.clock()
        return stamp, datetime.fromtimestamp(stamp, UTC)

    async def reset(self) -> None:
        """Forget every call, key and ledger entry; Fractel callback URLs stay set."""
        await self.cancel_calls()
        self._clear()
        self.faults.reset()
        self.ledger.clear()

    async def cancel_calls(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.cancel_calls()
        self.sender.close()

    # Dialing ---------------------------------------------------------------------------------

    def dial(
        self,
        dialect: Dialect,
        headers: Mapping[str, str],
        body: bytes,
        arrived_at: float | None = None,
    ) -> Reply:
        """`arrived_at`: when the request's bytes arrived (`arrival`), its receipt time on the
        wall clock; a test's own clock stamps the moment the request is read."""
        stamp, at = self.now()
        if arrived_at is not None and self.config.clock is time.time:
            stamp, at = arrived_at, datetime.fromtimestamp(arrived_at, UTC)
        key = headers.get("idempotency-key")
        provider = dialect.PROVIDER

        def refuse(result: DialResult, refusal: Refusal, **details: Any) -> Reply:
            self.ledger.record_dial(
                stamp, provider, result, idempotency_key=key, code=refusal.code, **details
            )
            return self._reply(refusal.status, refusal.body, refusal.headers)

        refusal = dialect.authenticate(headers, self.config.credentials, at)
        if refusal:
            return refuse(DialResult.REFUSED, refusal)
        decision = self.faults.on_dial(stamp)
        if decision.verdict is Verdict.RATE_LIMITED:
            retry_after = self.config.faults.retry_after
            return refuse(DialResult.RATE_LIMITED, dialect.rate_limited(retry_after, at))
        if decision.verdict is Verdict.SERVER_ERROR:
            return refuse(DialResult.SERVER_ERROR, dialect.server_error(decision.status, at))
        if provider == webex.PROVIDER and (refusal := webex.check_idempotency_key(key)):
            return refuse(DialResult.REFUSED, refusal)
        request = dialect.parse_dial(body, self.config.caller_ids, at)
        if isinstance(request, Refusal):
            return refuse(DialResult.REFUSED, request)
        if provider == fractel.PROVIDER:
            number = fractel.fonenumber_e164(request.caller_id) or ""
            request = dataclasses.replace(request, callback=self.fractel_callbacks.get(number))
        details = {
            "to": request.to,
            "caller_id": request.caller_id,
            "correlation": request.correlation,
        }
        repeat = self._repeat(provider, key, stamp)
        if repeat:
            call_id, reply = repeat
            self.ledger.record_dial(
                stamp,
                provider,
                DialResult.REPEAT,
                idempotency_key=key,
                call_id=call_id,
                code=str(reply.status),
                **details,
            )
            return reply
        hang = decision.verdict is Verdict.HANG
        if hang and not decision.places_call:
            self.ledger.record_dial(
                stamp, provider, DialResult.HUNG, idempotency_key=key, **details
            )
            return Reply(hang=True)
        call = self._place(
            dialect, request, stamp, DialResult.HUNG if hang else DialResult.PLACED, key
        )
        status, answer = dialect.answer(call, at)
        encoded = json_bytes(answer)
        if key and provider == enablex.PROVIDER:
            self._enablex_keys[key] = (stamp, status, encoded, call.call_id)
        if key and provider == webex.PROVIDER:
            self._webex_keys[key] = (stamp, call.call_id)
        if hang:
            self._start(dialect, call)
            return Reply(hang=True)
        return Reply(
            status, encoded, delay=self._latency(), then=lambda: self._start(dialect, call)
        )

    def _repeat(self, provider: str, key: str | None, stamp: float) -> tuple[str, Reply] | None:
        if not key:
            return None
        if provider == enablex.PROVIDER and key in self._enablex_keys:
            first, status, encoded, call_id = self._enablex_keys[key]
            if stamp - first < enablex.IDEMPOTENCY_WINDOW:
                return call_id, Reply(status, encoded, delay=self._latency())
        if provider == webex.PROVIDER and key in self._webex_keys:
            first, call_id = self._webex_keys[key]
            if stamp - first < webex.IDEMPOTENCY_WINDOW:
                refusal = webex.duplicate(key)
                return call_id, self._reply(refusal.status, refusal.body)
        return None

    def _place(
        self,
        dialect: Dialect,
        request: DialRequest,
        stamp: float,
        result: DialResult,
        key: str | None,
    ) -> Call:
        attempt = self._attempts[request.to]
        self._attempts[request.to] += 1
        behaviour = self.config.behaviour
        rng = behaviour.call_rng(request.to, attempt)
        outcome = behaviour.outcome(request.to, attempt, rng)
        call = Call(dialect.PROVIDER, dialect.new_call_id(), request, outcome, attempt, rng)
        self.ledger.record_dial(
            stamp,
            dialect.PROVIDER,
            result,
            to=request.to,
            caller_id=request.caller_id,
            correlation=request.correlation,
            idempotency_key=key,
            call_id=call.call_id,
            placed=True,
            outcome=outcome.value,
            attempt=attempt,
        )
        if dialect.PROVIDER == enablex.PROVIDER:
            self._live[call.call_id] = _LiveCall(call)
        return call

    def _latency(self) -> float:
        return self.config.timing.answer_latency.draw(self._rng)

    def _reply(
        self, status: int, body: JsonObject, headers: Mapping[str, str] | None = None
    ) -> Reply:
        return Reply(status, json_bytes(body), headers or {}, delay=self._latency())

    # EnableX call control --------------------------------------------------------------------

    def enablex_lookup(self, headers: Mapping[str, str], voice_id: str) -> Reply:
        _, at = self.now()
        refusal = enablex.authenticate(headers, self.config.credentials, at)
        live = self._live.get(voice_id)
        if refusal is None and live is None:
            refusal = enablex.no_such_call(voice_id, at)
        if refusal or live is None:
            return self._refusal(refusal)
        return self._reply(200, enablex.call_info(live.call, live.state, at))

    def enablex_hang_up(self, headers: Mapping[str, str], voice_id: str) -> Reply:
        stamp, at = self.now()
        refusal = enablex.authenticate(headers, self.config.credentials, at)
        live = self._live.get(voice_id)
        if refusal is None and (live is None or live.hung_up.is_set()):
            refusal = enablex.no_such_call(voice_id, at)
        if refusal or live is None:
            return self._refusal(refusal)
        kind = HangupKind.AFTER_PLAY if live.play_done else HangupKind.EARLY
        self.ledger.record_hangup(HangupRecord(voice_id, stamp, kind))
        live.hung_up.set()
        return self._reply(200, enablex.hangup_answer(live.call, at))

    def enablex_play(self, headers: Mapping[str, str], voice_id: str, body: bytes) -> Reply:
        """PUT .../play on a live call: the message again, with a key wait if `dtmf` is true."""
        _, at = self.now()
        refusal = enablex.authenticate(headers, self.config.credentials, at)
        live = self._live.get(voice_id)
        if refusal is None and (live is None or live.hung_up.is_set()):
            refusal = enablex.no_such_call(voice_id, at)
        if refusal is None and live is not None and live.replay.is_set():
            refusal = enablex.error(408, 6114, "Play request pending", at)
        parsed = refusal or enablex.parse_play(body, at)
        if isinstance(parsed, Refusal) or live is None:
            return self._refusal(parsed if isinstance(parsed, Refusal) else None)
        live.replay_ref = parsed
        live.replay.set()
        return self._reply(200, enablex.play_answer(live.call, at))

    def _refusal(self, refusal: Refusal | None) -> Reply:
        assert refusal is not None
        return self._reply(refusal.status, refusal.body, refusal.headers)

    # Fractel callbacks -----------------------------------------------------------------------

    def fractel_send_notify(self, headers: Mapping[str, str], body: bytes) -> Reply:
        _, at = self.now()
        refusal = fractel.authenticate(headers, self.config.credentials, at)
        parsed = refusal or fractel.parse_send_notify(body, self.config.caller_ids)
        if isinstance(parsed, Refusal):
            return self._refusal(parsed)
        number, callback = parsed
        if callback is None:
            self.fractel_callbacks.pop(number, None)
        else:
            self.fractel_callbacks[number] = callback
        return self._reply(200, fractel.send_notify_answer(number, callback))

    # Play-out --------------------------------------------------------------------------------

    def _start(self, dialect: Dialect, call: Call) -> None:
        task = asyncio.get_running_loop().create_task(self._play(dialect, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(self, dialect: Dialect, call: Call) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        plan = dialect.plan(call, self.config, self.now()[1])
        faults = WebhookFaults.draw(self.config.faults, call.rng, len(plan.steps))
        live = self._live.get(call.call_id)
        try:
            for timed in faults.schedule(plan.steps):
                if await self._pause(live, began + timed.at - loop.time()):
                    break
                await self._deliver(call, timed.step, timed.duplicate)
                if live:
                    live.state = enablex.live_state(timed.step.event, live.state)
            if live is None:
                return
            live.play_done = True
            if plan.awaits_hangup and not live.hung_up.is_set():
                await self._await_hang_up(call, live)
            if plan.awaits_hangup or live.hung_up.is_set():
                live.hung_up.set()
                event = enablex.hangup_event(call, self.config.behaviour, self.now()[1])
                await self._deliver(call, event, False)
        finally:
            self._live.pop(call.call_id, None)

    async def _await_hang_up(self, call: Call, live: _LiveCall) -> None:
        """Until the client hangs up, or the hang-up timeout; a replay asked for meanwhile (PUT
        .../play) is played out, and the wait starts again."""
        while True:
            try:
                async with asyncio.timeout(self.config.timing.hangup_timeout):
                    await _first_of(live.hung_up, live.replay)
            except TimeoutError:
                stamp = self.config.clock()
                self.ledger.record_hangup(HangupRecord(call.call_id, stamp, HangupKind.TIMEOUT))
                return
            if live.hung_up.is_set():
                return
            live.plays += 1
            steps = enablex.replay_steps(
                call, self.config, self.now()[1], live.replay_ref, live.plays - 1
            )
            for step in steps:
                await self._deliver(call, step, False)
            live.replay.clear()

    @staticmethod
    async def _pause(live: _LiveCall | None, seconds: float) -> bool:
        """Wait `seconds`; True as soon as the call is hung up (EnableX)."""
        if live is None:
            if seconds > 0:
                await asyncio.sleep(seconds)
            return False
        if live.hung_up.is_set() or seconds <= 0:
            return live.hung_up.is_set()
        try:
            async with asyncio.timeout(seconds):
                await live.hung_up.wait()
        except TimeoutError:
            return False
        return True

    async def _deliver(self, call: Call, step: Step, duplicate: bool) -> None:
        callback = call.request.callback
        if callback is None:
            return
        method, url, body, headers = _request_for(
            callback, step.payload, self.config.webhooks.basic_auth
        )
        policy = self.config.webhooks
        sent_at = self.config.clock()
        status: int | None = None
        error: str | None = None
        attempts = 0
        for attempt in range(policy.retries + 1):
            if attempt:
                await asyncio.sleep(policy.retry_gap)
            attempts += 1
            try:
                status, error = await self.sender.send(method, url, body, headers), None
            except SendError as exc:
                status, error = None, str(exc)
            if status is not None and 200 <= status < 300:
                break
        delivered = status is not None and 200 <= status < 300
        self.ledger.record_webhook(
            WebhookRecord(
                call.call_id,
                call.provider,
                step.event,
                url,
                sent_at,
                attempts,
                status,
                delivered,
                duplicate,
                error,
            )
        )


async def _first_of(*events: asyncio.Event) -> None:
    """Until one of `events` is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _request_for(
    callback: Callback, payload: JsonObject, auth: tuple[str, str] | None
) -> tuple[str, str, bytes | None, dict[str, str]]:
    """Method, URL, body and headers of a webhook (Fractel's GET and POST use the query)."""
    credentials = callback.auth or auth
    headers: dict[str, str] = {}
    if credentials:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if callback.method == "JSON":
        return "POST", callback.url, json_bytes(payload), headers
    separator = "&" if "?" in callback.url else "?"
    url = f"{callback.url}{separator}{urlencode({k: str(v) for k, v in payload.items()})}"
    if callback.method == "GET":
        return "GET", url, None, headers
    return "POST", url, json_bytes(payload), headers
