"""The ledger's checks, on synthetic records: calls per number, per second, outside hours."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from campaigner.simulator import (
    DialResult,
    HangupKind,
    HangupRecord,
    Ledger,
    WebhookRecord,
    max_in_any_second,
)
from campaigner.windows import CallingWindow


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], 0),
        ([5.0], 1),
        ([0.0, 0.5, 0.999], 3),
        ([0.0, 0.5, 1.0], 2),  # half-open: 1.0 is outside [0, 1)
        ([0.9, 1.1, 1.8, 2.05], 3),  # the busiest second straddles calendar seconds
        ([3.0, 0.0, 3.5, 0.2, 3.9], 3),  # any order
        ([1.0] * 4 + [1.9999], 5),
    ],
)
def test_max_in_any_second(times: list[float], expected: int) -> None:
    assert max_in_any_second(times) == expected


def placed(ledger: Ledger, at: float, to: str, correlation: str | None = None) -> None:
    ledger.record_dial(
        at,
        "enablex",
        DialResult.PLACED,
        to=to,
        correlation=correlation,
        placed=True,
        outcome="delivered",
        call_id=f"call-{at}",
    )


def test_counts_ignore_requests_that_placed_nothing() -> None:
    ledger = Ledger()
    placed(ledger, 0.0, "+14155550100", "c1")
    placed(ledger, 0.2, "+14155550100", "c1")
    placed(ledger, 0.4, "+14155550101", "c2")
    ledger.record_dial(0.5, "enablex", DialResult.REPEAT, to="+14155550101", correlation="c2")
    ledger.record_dial(0.6, "enablex", DialResult.RATE_LIMITED, code="429")
    ledger.record_dial(0.7, "enablex", DialResult.HUNG, to="+14155550102", placed=False)
    ledger.record_dial(
        0.8, "webex", DialResult.HUNG, to="+14155550103", placed=True, outcome="busy"
    )
    assert ledger.calls_per_number() == {"+14155550100": 2, "+14155550101": 1, "+14155550103": 1}
    assert ledger.calls_per_correlation() == {"c1": 2, "c2": 1}
    assert ledger.numbers_called_more_than_once() == {"+14155550100": 2}
    assert ledger.max_calls_in_any_second() == 4
    assert ledger.result_counts() == {"placed": 3, "repeat": 1, "429": 1, "hung": 2}
    assert ledger.outcome_counts() == {"delivered": 3, "busy": 1}
    assert [d.to for d in ledger.placed("webex")] == ["+14155550103"]


def test_calls_outside_window_in_each_callees_zone() -> None:
    window = CallingWindow.parse("09:00-20:00", "mon-fri")
    zones = {
        "+12125550100": ZoneInfo("America/New_York"),
        "+13105550100": ZoneInfo("America/Los_Angeles"),
        "+442071234567": ZoneInfo("Europe/London"),
    }
    ledger = Ledger()
    # Tuesday 2026-11-17 14:30 UTC: 09:30 New York, 06:30 Los Angeles, 14:30 London.
    tuesday = datetime(2026, 11, 17, 14, 30, tzinfo=UTC).timestamp()
    for number in zones:
        placed(ledger, tuesday, number)
    # Saturday: closed everywhere.
    placed(ledger, datetime(2026, 11, 21, 15, 0, tzinfo=UTC).timestamp(), "+442071234567")
    outside = ledger.calls_outside_window(window, zones.__getitem__)
    assert [(d.to, d.received_at) for d in outside] == [
        ("+13105550100", tuesday),
        ("+442071234567", datetime(2026, 11, 21, 15, 0, tzinfo=UTC).timestamp()),
    ]


def test_round_trip_through_json() -> None:
    ledger = Ledger()
    placed(ledger, 1.0, "+14155550100", "c1")
    ledger.record_dial(1.5, "webex", DialResult.REFUSED, code="7004")
    ledger.record_webhook(
        WebhookRecord("call-1.0", "enablex", "ringing", "http://x/hook", 1.1, 1, 200, True)
    )
    ledger.record_hangup(HangupRecord("call-1.0", 2.0, HangupKind.TIMEOUT))
    copy = Ledger.from_dict(ledger.to_dict())
    assert copy.dials == ledger.dials
    assert copy.webhooks == ledger.webhooks
    assert copy.hangups == ledger.hangups
    assert copy.never_hung_up() == ["call-1.0"]
    assert copy.summary() == ledger.summary()


def test_wait_until_wakes_on_a_record_from_another_thread() -> None:
    ledger = Ledger()
    writer = threading.Thread(target=placed, args=(ledger, 1.0, "+14155550100"))
    writer.start()
    ledger.wait_until(lambda seen: len(seen.placed()) == 1, timeout=10)
    writer.join()
    with pytest.raises(TimeoutError):
        ledger.wait_until(lambda seen: len(seen.placed()) == 2, timeout=0.01)


def test_clear_empties_everything() -> None:
    ledger = Ledger()
    placed(ledger, 1.0, "+14155550100")
    ledger.clear()
    assert ledger.summary()["dial_requests"] == 0
    assert ledger.dials == []
