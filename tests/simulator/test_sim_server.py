"""The simulator over HTTP: each vendor's endpoints, the play-out as webhooks, faults, the ledger.

Each test serves a simulator on a free port of 127.0.0.1 and, where webhooks matter, a receiver;
tests wait on the receiver's or the ledger's conditions, never on the clock.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sim_helpers import (
    CALLER_ID,
    ENABLEX_AUTH,
    Receiver,
    dial,
    enablex_call,
    fractel_call,
    webex_message,
)

from campaigner.model import Outcome
from campaigner.simulator import (
    Behaviour,
    DialResult,
    FaultPlan,
    HangupKind,
    Ledger,
    Simulator,
    SimulatorConfig,
    Span,
    Timing,
    WebhookPolicy,
    running_simulator,
    serving_simulator,
)
from campaigner.simulator.server import bind

EVERY_OUTCOME = Behaviour(mix=Behaviour().mix)


class Clock:
    """A clock the test moves by hand: receipt times, idempotency windows, the cps cap."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def config(**changes: Any) -> SimulatorConfig:
    """Every call delivered unless a test says otherwise; webhooks retried at once."""
    base = SimulatorConfig(
        behaviour=Behaviour(mix=Behaviour().mix.parse("delivered=1")),
        webhooks=WebhookPolicy(retry_gap=0.0),
    )
    return replace(base, **changes)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with running_simulator(config()) as sim:
        yield sim


def client(sim: Simulator, timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(base_url=sim.url, timeout=timeout)


def state(hook_body: dict[str, Any]) -> str:
    return str(hook_body.get("playstate") or hook_body.get("state"))


# EnableX -------------------------------------------------------------------------------------


def test_enablex_call_plays_out_and_the_client_hangs_up(receiver: Receiver) -> None:
    with running_simulator(config()) as sim, client(sim) as http:
        answer = dial(http, "enablex", enablex_call(event_url=f"{receiver.url}/enablex"))
        assert answer.status_code == 200
        voice_id = answer.json()["voice_id"]
        assert answer.json()["state"] == "initiated"
        hooks = receiver.wait_for(4)
        assert [state(h.body) for h in hooks] == [
            "ringing",
            "connected",
            "initiated",
            "playfinished",
        ]
        assert {h.body["voice_id"] for h in hooks} == {voice_id}
        assert {h.body["owner_ref"] for h in hooks} == {"contact-1"}
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 4)
        looked_up = http.get(
            f"/enablex/voice/v1/call/{voice_id}", headers={"Authorization": ENABLEX_AUTH}
        )
        assert (looked_up.status_code, looked_up.json()["state"]) == (200, "connected")
        hung_up = http.delete(
            f"/enablex/voice/v1/call/{voice_id}", headers={"Authorization": ENABLEX_AUTH}
        )
        assert (hung_up.status_code, hung_up.json()["state"]) == (200, "success")
        last = receiver.wait_for(5)[-1].body
        assert (last["state"], last["disconnect_reason"]) == ("disconnected", "Normal Clearing")
        assert [h.kind for h in sim.ledger.hangups] == [HangupKind.AFTER_PLAY]
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 5)
        gone = http.delete(
            f"/enablex/voice/v1/call/{voice_id}", headers={"Authorization": ENABLEX_AUTH}
        )
        assert (gone.status_code, gone.json()["result"]) == (404, 404)
        unauthorised = http.get(f"/enablex/voice/v1/call/{voice_id}")
        assert unauthorised.status_code == 401


def test_enablex_call_left_up_is_hung_up_by_the_timeout(receiver: Receiver) -> None:
    with running_simulator(config(timing=Timing(hangup_timeout=0.0))) as sim, client(sim) as http:
        voice_id = dial(http, "enablex", enablex_call(event_url=f"{receiver.url}/x")).json()[
            "voice_id"
        ]
        assert state(receiver.wait_for(5)[-1].body) == "disconnected"
        sim.ledger.wait_until(lambda ledger: bool(ledger.hangups))
        assert sim.ledger.never_hung_up() == [voice_id]


def test_enablex_early_hang_up_ends_a_ringing_call(receiver: Receiver) -> None:
    slow = config(timing=Timing(ring_delay=Span(3600.0, 3600.0)))
    with running_simulator(slow) as sim, client(sim) as http:
        voice_id = dial(http, "enablex", enablex_call(event_url=f"{receiver.url}/x")).json()[
            "voice_id"
        ]
        assert state(receiver.wait_for(1)[0].body) == "ringing"
        looked_up = http.get(
            f"/enablex/voice/v1/call/{voice_id}", headers={"Authorization": ENABLEX_AUTH}
        )
        assert looked_up.json()["state"] == "In progress"
        http.delete(f"/enablex/voice/v1/call/{voice_id}", headers={"Authorization": ENABLEX_AUTH})
        assert [state(h.body) for h in receiver.wait_for(2)] == ["ringing", "disconnected"]
        assert [h.kind for h in sim.ledger.hangups] == [HangupKind.EARLY]


def test_enablex_idempotency_key_returns_the_first_answer_for_24_hours(clock: Clock) -> None:
    with running_simulator(config(clock=clock)) as sim, client(sim) as http:
        first = dial(http, "enablex", enablex_call(), **{"Idempotency-Key": "k1"})
        clock.now += 24 * 3600 - 1
        again = dial(http, "enablex", enablex_call(), **{"Idempotency-Key": "k1"})
        assert (again.status_code, again.content) == (first.status_code, first.content)
        clock.now += 1
        later = dial(http, "enablex", enablex_call(), **{"Idempotency-Key": "k1"})
        assert later.json()["voice_id"] != first.json()["voice_id"]
        assert [d.result for d in sim.ledger.dials] == [
            DialResult.PLACED,
            DialResult.REPEAT,
            DialResult.PLACED,
        ]
        assert sim.ledger.dials[1].call_id == first.json()["voice_id"]
        assert sim.ledger.calls_per_number() == {"+14155550100": 2}


# Webex Connect -------------------------------------------------------------------------------


def test_webex_call_plays_out(receiver: Receiver) -> None:
    with running_simulator(config()) as sim, client(sim) as http:
        answer = dial(http, "webex", webex_message(callbackUrl=f"{receiver.url}/webex"))
        assert answer.status_code == 202
        statuses = [
            h.body["deliveryInfoNotification"]["deliveryInfo"]["deliveryStatus"]
            for h in receiver.wait_for(4)
        ]
        assert statuses == ["OFFERED", "ACCEPTED", "ANSWERED", "RELEASED"]
        notification = receiver.hooks[0].body["deliveryInfoNotification"]
        assert (notification["transid"], notification["correlationid"]) == (
            answer.json()["messageId"],
            "contact-1",
        )
        assert sim.ledger.placed()[0].correlation == "contact-1"


def test_webex_repeat_within_an_hour_is_refused(clock: Clock) -> None:
    with running_simulator(config(clock=clock)) as sim, client(sim) as http:
        first = dial(http, "webex", webex_message(), **{"Idempotency-Key": "k1"})
        clock.now += 3599
        again = dial(http, "webex", webex_message(), **{"Idempotency-Key": "k1"})
        assert (again.status_code, again.json()["code"]) == (409, "7035")
        clock.now += 1
        assert dial(http, "webex", webex_message(), **{"Idempotency-Key": "k1"}).status_code == 202
        too_long = dial(http, "webex", webex_message(), **{"Idempotency-Key": "k" * 65})
        assert (too_long.status_code, too_long.json()["code"]) == (400, "7004")
        assert [d.result for d in sim.ledger.dials] == [
            DialResult.PLACED,
            DialResult.REPEAT,
            DialResult.PLACED,
            DialResult.REFUSED,
        ]
        assert sim.ledger.dials[1].call_id == first.json()["messageId"]


# Fractel -------------------------------------------------------------------------------------


def send_notify(http: httpx.Client, **fields: str) -> httpx.Response:
    body = {"fonenumber": "3215550100", "type": "Callback", **fields}
    return http.post(
        "/fractel/v2/calls/send_notify", json=body, headers={"token": "sim-fractel-token"}
    )


@pytest.mark.parametrize("method", ["JSON", "POST", "GET"])
def test_fractel_events_go_to_the_fonenumbers_callback(receiver: Receiver, method: str) -> None:
    with running_simulator(config()) as sim, client(sim) as http:
        notified = send_notify(
            http, method=method, url=f"{receiver.url}/fractel", username="u", password="p"
        )
        assert (
            notified.json()["fonenumber"]["call_options"]["send_notify"]["url"]
            == f"{receiver.url}/fractel"
        )
        call_id = dial(http, "fractel", fractel_call()).json()["call"]["id"]
        hooks = receiver.wait_for(2)
        fields = [h.query if method == "GET" else h.body for h in hooks]
        assert [(f["status"], f["disposition"]) for f in fields] == [
            ("BEGIN", ""),
            ("END", "ANSWERED"),
        ]
        assert {f["uid"] for f in fields} == {call_id}
        assert {h.method for h in hooks} == {"GET" if method == "GET" else "POST"}
        assert bool(hooks[0].query) is (method != "JSON")
        assert hooks[0].headers["authorization"] == "Basic dTpw"
        assert sim.ledger.placed()[0].to == "+14155550100"


# Authentication over HTTP --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "body", "headers", "status", "code"),
    [
        (
            "enablex",
            enablex_call(),
            {"Authorization": "Basic c2ltLWVuYWJsZXgtYXBwOm5v"},
            401,
            "401",
        ),
        ("fractel", fractel_call(), {"token": "wrong"}, 401, "401"),
        ("webex", webex_message(), {"key": "wrong"}, 401, "7001"),
        ("webex", b"{", {}, 400, "7000"),
    ],
)
def test_refusals_are_answered_and_recorded(
    simulator: Simulator, provider: str, body: Any, headers: dict[str, str], status: int, code: str
) -> None:
    with client(simulator) as http:
        assert dial(http, provider, body, **headers).status_code == status
    (record,) = simulator.ledger.dials
    assert (record.result, record.code, record.placed) == (DialResult.REFUSED, code, False)


# Outcomes fixed per number -------------------------------------------------------------------


def test_scripted_number_is_busy_then_delivered(receiver: Receiver) -> None:
    scripted = Behaviour(scripts={"+14155550100": (Outcome.BUSY, Outcome.DELIVERED)})
    with running_simulator(config(behaviour=scripted)) as sim, client(sim) as http:
        for _ in range(2):
            dial(http, "webex", webex_message(callbackUrl=f"{receiver.url}/w"))
        assert [(d.attempt, d.outcome) for d in sim.ledger.placed()] == [
            (0, "busy"),
            (1, "delivered"),
        ]
        hooks = receiver.wait_for(6)
        finals = {
            h.body["deliveryInfoNotification"]["deliveryInfo"]["deliveryStatus"] for h in hooks
        }
        assert {"REJECTED", "RELEASED"} <= finals
        assert sim.ledger.numbers_called_more_than_once() == {"+14155550100": 2}


# Faults --------------------------------------------------------------------------------------


def test_calls_per_second_cap_answers_429_with_retry_after(clock: Clock) -> None:
    capped = config(clock=clock, faults=FaultPlan(cps_cap=2, retry_after=3))
    with running_simulator(capped) as sim, client(sim) as http:
        answers = [dial(http, "webex", webex_message(to=f"+1415555010{n}")) for n in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert answers[2].headers["retry-after"] == "3"
        clock.now += 1
        assert dial(http, "webex", webex_message(to="+14155550109")).status_code == 202
        assert sim.ledger.result_counts() == {"placed": 3, "429": 1}
        assert sim.ledger.max_calls_in_any_second() == 2


def test_burst_of_5xx(simulator: Simulator) -> None:
    simulator.faults.fail_next(2, status=502)
    with client(simulator) as http:
        answers = [dial(http, "enablex", enablex_call()) for _ in range(3)]
    assert [a.status_code for a in answers] == [502, 502, 200]
    assert answers[0].json()["state"] == "failed"
    assert simulator.ledger.result_counts() == {"5xx": 2, "placed": 1}


def test_hung_request_that_placed_the_call(simulator: Simulator, receiver: Receiver) -> None:
    simulator.faults.hang_next(1, places_call=True)
    body = enablex_call(event_url=f"{receiver.url}/x")
    with client(simulator, timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
        dial(http, "enablex", body, **{"Idempotency-Key": "k1"})
    assert state(receiver.wait_for(1)[0].body) == "ringing"  # the call was placed all the same
    (hung,) = simulator.ledger.dials
    assert (hung.result, hung.placed) == (DialResult.HUNG, True)
    with client(simulator) as http:  # a retry with the same key learns the voice_id
        retry = dial(http, "enablex", body, **{"Idempotency-Key": "k1"})
    assert retry.json()["voice_id"] == hung.call_id
    assert simulator.ledger.calls_per_number() == {"+14155550100": 1}


def test_hung_request_that_placed_nothing(simulator: Simulator) -> None:
    simulator.faults.hang_next(1, places_call=False)
    with client(simulator, timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
        dial(http, "webex", webex_message())
    (hung,) = simulator.ledger.dials
    assert (hung.result, hung.placed, hung.to) == (DialResult.HUNG, False, "+14155550100")
    assert simulator.ledger.placed() == []


def webex_statuses(receiver: Receiver, count: int) -> list[str]:
    return [
        h.body["deliveryInfoNotification"]["deliveryInfo"]["deliveryStatus"]
        for h in receiver.wait_for(count)
    ]


def test_duplicated_and_reordered_webhooks(receiver: Receiver) -> None:
    busy = Behaviour(mix=Behaviour().mix.parse("busy=1"))
    faulty = config(behaviour=busy, faults=FaultPlan(duplicate_rate=1.0, reorder_rate=1.0))
    with running_simulator(faulty) as sim, client(sim) as http:
        dial(http, "webex", webex_message(callbackUrl=f"{receiver.url}/w"))
        assert webex_statuses(receiver, 4) == ["REJECTED", "REJECTED", "OFFERED", "OFFERED"]
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 4)
        assert [w.duplicate for w in sim.ledger.webhooks] == [False, True, False, True]


def test_delayed_webhooks_still_arrive(receiver: Receiver) -> None:
    delayed = config(faults=FaultPlan(delay_rate=1.0, delay=Span(0.05, 0.05)))
    with running_simulator(delayed) as sim, client(sim) as http:
        dial(http, "webex", webex_message(callbackUrl=f"{receiver.url}/w"))
        assert webex_statuses(receiver, 4) == ["OFFERED", "ACCEPTED", "ANSWERED", "RELEASED"]
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 4)


def test_unreachable_callback_is_tried_four_times() -> None:
    sock = bind(0)
    dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()
    busy = Behaviour(mix=Behaviour().mix.parse("busy=1"))
    with running_simulator(config(behaviour=busy)) as sim, client(sim) as http:
        dial(http, "webex", webex_message(callbackUrl=dead))
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 2)
        assert {(w.attempts, w.delivered, w.status) for w in sim.ledger.webhooks} == {
            (4, False, None)
        }
        assert "cannot connect" in (sim.ledger.webhooks[0].error or "")
        assert sim.ledger.summary()["webhooks_undelivered"] == 2


def test_webhook_refused_once_is_retried(receiver: Receiver) -> None:
    receiver.statuses = [503]
    policy = WebhookPolicy(retry_gap=0.0, user="hooks", password="secret")
    with running_simulator(config(webhooks=policy)) as sim, client(sim) as http:
        dial(http, "webex", webex_message(callbackUrl=f"{receiver.url}/w"))
        hooks = receiver.wait_for(5)
        assert [h.body == hooks[0].body for h in hooks[:2]] == [
            True,
            True,
        ]  # the same OFFERED again
        assert hooks[0].headers["authorization"] == "Basic aG9va3M6c2VjcmV0"
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 4)
        first = sim.ledger.webhooks[0]
        assert (first.event, first.attempts, first.status, first.delivered) == (
            "OFFERED",
            2,
            200,
            True,
        )


# The ledger over HTTP, and running inside a test's event loop --------------------------------


def test_sim_endpoints(simulator: Simulator, receiver: Receiver) -> None:
    with client(simulator) as http:
        dial(http, "webex", webex_message(callbackUrl=f"{receiver.url}/w"))
        simulator.ledger.wait_until(lambda ledger: len(ledger.webhooks) == 4)
        dial(http, "webex", webex_message(callerId="+13215559999"))
        stats = http.get("/_sim/stats").json()
        assert (stats["dial_requests"], stats["calls_placed"], stats["results"]) == (
            2,
            1,
            {"placed": 1, "refused": 1},
        )
        copy = Ledger.from_dict(http.get("/_sim/ledger").json())
        assert copy.dials == simulator.ledger.dials
        assert copy.webhooks == simulator.ledger.webhooks
        assert http.get("/_sim/ledger", params={"webhooks": "0"}).json()["webhooks"] == []
        assert http.post("/_sim/reset").json() == {"reset": True}
        assert http.get("/_sim/stats").json()["dial_requests"] == 0


def test_environment_points_campaigner_at_the_simulator(simulator: Simulator) -> None:
    environment = simulator.environment()
    assert environment["CAMPAIGNER_ENABLEX_BASE_URL"] == f"{simulator.url}/enablex/voice/v1"
    assert environment["CAMPAIGNER_FRACTEL_BASE_URL"] == f"{simulator.url}/fractel/v2"
    assert environment["CAMPAIGNER_WEBEX_BASE_URL"] == f"{simulator.url}/webex/v1"
    assert environment["CAMPAIGNER_FRACTEL_TOKEN"] == "sim-fractel-token"
    assert simulator.url.startswith("http://127.0.0.1:")
    simulator.reset()
    assert simulator.ledger.dials == []


@pytest.mark.anyio
async def test_serving_simulator_in_the_tests_event_loop(receiver: Receiver) -> None:
    async with serving_simulator(config()) as sim, httpx.AsyncClient(base_url=sim.url) as http:
        body = json.dumps(webex_message(callbackUrl=f"{receiver.url}/w"))
        answer = await http.post(
            "/webex/v1/voice/messages", content=body, headers={"key": "sim-webex-key"}
        )
        assert answer.status_code == 202
        await sim.ledger.until(lambda ledger: len(ledger.webhooks) == 4)
        assert [w.event for w in sim.ledger.webhooks] == [
            "OFFERED",
            "ACCEPTED",
            "ANSWERED",
            "RELEASED",
        ]
        assert sim.ledger.placed()[0].caller_id == CALLER_ID


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="arrival times from TCP_INFO")
@pytest.mark.anyio
async def test_a_dial_request_is_stamped_when_its_bytes_arrived_not_when_they_were_read() -> None:
    """A provider's edge sees a request as it arrives; the simulator, sharing a machine with the
    dialers it measures, may get to it much later. Here its event loop (this test's) is held for
    0.2 s after the request is sent: the receipt time is still the sending's (to a kernel tick)."""
    body = json.dumps(webex_message()).encode()
    head = (
        "POST /webex/v1/voice/messages HTTP/1.1\r\nHost: sim\r\nkey: sim-webex-key\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    async with serving_simulator(config()) as sim:
        with socket.create_connection(("127.0.0.1", sim.port)) as raw:
            sent = time.time()
            raw.sendall(head.encode() + body)
            time.sleep(0.2)  # not a wait for anything: the simulator's loop is busy meanwhile
            read = time.time()
            await sim.ledger.until(lambda ledger: len(ledger.dials) == 1)
    (received,) = sim.ledger.placed()
    assert abs(received.received_at - sent) < read - received.received_at
