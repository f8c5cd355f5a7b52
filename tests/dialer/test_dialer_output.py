"""What a run prints: the progress snapshot in its three forms, the reporters, the summary."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from campaigner.dialer.progress import RateMeter, Snapshot
from campaigner.dialer.reporting import (
    JsonReporter,
    LineReporter,
    RunResult,
    TerminalReporter,
    reporter_for,
)
from campaigner.dialer.stopping import Stop
from campaigner.model import ContactState

SNAPSHOT = Snapshot(
    campaign="spring",
    elapsed=125.4,
    dialled=1234,
    in_flight=17,
    rate=4.87,
    cap=5.0,
    outcomes={"delivered": 900, "busy": 50, "no_answer": 120, "failed": 30, "live": 17, "x": 3},
    pending=4000,
    next_due=datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
)


def test_a_snapshot_as_a_line() -> None:
    assert SNAPSHOT.line() == (
        "spring: dialled 1,234, in flight 17, delivered 900, busy 50, no answer 120, failed 30, "
        "other 3, 4.9 calls/s (cap 5), pending 4,000, next due 2026-11-23 14:00 UTC"
    )


def test_a_snapshot_as_a_block() -> None:
    assert SNAPSHOT.block() == [
        "campaign spring  running 2m5s",
        "  dialled 1,234   in flight 17   4.9 calls/s (cap 5)",
        "  delivered 900, busy 50, no answer 120, failed 30, other 3",
        "  pending 4,000, next due 2026-11-23 14:00 UTC",
    ]


def test_a_snapshot_as_json() -> None:
    document = SNAPSHOT.document()
    assert document["action"] == "progress"
    assert (document["dialled"], document["in_flight"], document["rate"]) == (1234, 17, 4.87)
    assert document["next_due"] == "2026-11-23T14:00:00+00:00"
    json.dumps(document)


@pytest.mark.parametrize(
    ("times", "now", "rate"),
    [([], 10.0, 0.0), ([1.0, 2.0, 3.0], 5.0, 0.3), ([1.0, 2.0, 3.0, 12.5], 12.5, 0.2)],
)
def test_the_rate_over_the_last_ten_seconds(times: list[float], now: float, rate: float) -> None:
    meter = RateMeter(span=10.0)
    for at in times:
        meter.add(at)
    assert meter.rate(now) == pytest.approx(rate)


RESULT = RunResult(
    campaign="spring",
    stop=Stop.NOTHING_DUE,
    message="no contact is due for 3h",
    dialled=120,
    elapsed=60.0,
    contacts={ContactState.PENDING: 30, ContactState.DELIVERED: 90},
    next_due=datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
)


def test_the_summary() -> None:
    assert RESULT.lines() == [
        "campaign spring: no contact is due for 3h",
        "  dialled 120 calls in 1m (2.0 calls/s)",
        "  contacts: pending 30, delivered 90",
        "  next contact due 2026-11-23 14:00 UTC: run `campaigner run spring` again then (exit 75)",
    ]
    assert RESULT.document()["exit_code"] == 75


def test_the_terminal_display_is_redrawn_in_place() -> None:
    stream = io.StringIO()
    reporter = TerminalReporter(stream)
    reporter.progress(SNAPSHOT)
    reporter.progress(SNAPSHOT)
    reporter.note("dial.refused", "enablex refused a call")
    reporter.finished(RESULT)
    text = stream.getvalue()
    assert text.count("\x1b[4F\x1b[J") == 2  # the block erased before each redraw and the note
    assert text.endswith("\n".join(RESULT.lines()) + "\n")


def test_json_lines_are_each_a_document() -> None:
    stream = io.StringIO()
    reporter = JsonReporter(stream)
    reporter.note("dial.refused", "enablex refused a call", code="6118")
    reporter.progress(SNAPSHOT)
    reporter.finished(RESULT)
    actions = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [a["action"] for a in actions] == ["dial.refused", "progress", "finished"]
    assert actions[0]["code"] == "6118"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "log_format", "kind", "interval"),
    [
        (io.StringIO(), "text", LineReporter, 60.0),
        (FakeTerminal(), "text", TerminalReporter, 1.0),
        (FakeTerminal(), "json", JsonReporter, 60.0),
    ],
)
def test_the_reporter_fits_where_the_output_goes(
    stream: io.StringIO, log_format: str, kind: type, interval: float
) -> None:
    reporter = reporter_for(stream, log_format)
    assert (type(reporter), reporter.interval) == (kind, interval)
