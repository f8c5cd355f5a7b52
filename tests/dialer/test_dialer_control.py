"""Stopping and waiting: pause and cancel from another connection, the deadline, nothing due,
a number suppressed mid-campaign, and calling windows across zones, DST and midnight, with the
clock injected (the dialer's and the simulator's) so no test waits for real hours."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dialer_helpers import (
    add_contacts,
    check_ledger,
    contact_rows,
    make_campaign,
    run_dialer,
    us_numbers,
)
from sqlalchemy import insert

from campaigner.db import Database
from campaigner.db.schema import suppressions
from campaigner.dialer import ExitCode, ShiftedClock, Stop
from campaigner.model import CampaignStatus
from campaigner.simulator import (
    Behaviour,
    Ledger,
    Simulator,
    SimulatorConfig,
    outcome_mix,
    running_simulator,
)
from campaigner.store.campaigns import cancel_campaign, get_campaign_by_id, set_status

ALL_DELIVERED = Behaviour(seed=1, mix=outcome_mix("delivered=1"))


@contextmanager
def simulating(clock: ShiftedClock | None = None, **config: object) -> Iterator[Simulator]:
    setup = SimulatorConfig(behaviour=ALL_DELIVERED, **config)  # type: ignore[arg-type]
    if clock is not None:
        setup = SimulatorConfig(behaviour=ALL_DELIVERED, clock=clock.timestamp, **config)  # type: ignore[arg-type]
    with running_simulator(setup) as simulator:
        yield simulator


@contextmanager
def once(
    ledger: Ledger, condition: Callable[[Ledger], bool], act: Callable[[], None]
) -> Iterator[None]:
    """Do `act` from another thread as soon as the ledger meets `condition`."""
    failures: list[BaseException] = []

    def watch() -> None:
        try:
            ledger.wait_until(condition, timeout=30)
            act()
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    thread = threading.Thread(target=watch)
    thread.start()
    yield
    thread.join()
    assert not failures, failures


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_an_operator_stops_a_run_from_another_connection(database: Database, action: str) -> None:
    campaign = make_campaign(database, calls_per_second=4)
    phones = us_numbers(40)
    add_contacts(database, campaign, phones)

    def operator() -> None:
        with database.write() as connection:
            current = get_campaign_by_id(connection, campaign.id)
            if action == "pause":
                set_status(connection, current, CampaignStatus.PAUSED, "complaints")
            else:
                cancel_campaign(connection, current, "wrong list")

    with (
        simulating() as simulator,
        once(simulator.ledger, lambda ledger: len(ledger.placed()) >= 3, operator),
    ):
        run = run_dialer(database, campaign, simulator)

    expected = Stop.PAUSED if action == "pause" else Stop.CANCELLED
    assert (run.result.stop, run.result.exit_code) == (expected, ExitCode.OPERATOR)
    assert ("complaints" if action == "pause" else "wrong list") in run.result.message
    with database.read() as connection:
        status = get_campaign_by_id(connection, campaign.id).status
    assert status is (CampaignStatus.PAUSED if action == "pause" else CampaignStatus.CANCELLED)
    placed = len(simulator.ledger.placed())
    assert 3 <= placed < len(phones)
    states = {row["state"] for row in contact_rows(database, campaign).values()}
    left = "pending" if action == "pause" else "cancelled"
    assert states == {"delivered", left}
    check_ledger(simulator.ledger, database, campaign)


def test_a_run_stops_at_its_deadline_with_work_left(database: Database) -> None:
    campaign = make_campaign(database, calls_per_second=4)
    add_contacts(database, campaign, us_numbers(40))
    with simulating() as simulator:
        run = run_dialer(database, campaign, simulator, max_duration=1.0)

    assert (run.result.stop, run.result.exit_code) == (Stop.DEADLINE, ExitCode.LATER)
    assert run.result.next_due is not None
    assert 0 < len(simulator.ledger.placed()) < 40
    check_ledger(simulator.ledger, database, campaign)
    assert "next contact due" in run.result.lines()[-1]


def test_nothing_due_before_max_wait_exits_75_saying_when(database: Database) -> None:
    campaign = make_campaign(database)
    later = datetime.now(UTC) + timedelta(hours=2)
    add_contacts(database, campaign, us_numbers(2), next_attempt_at=later)
    with simulating() as simulator:
        run = run_dialer(database, campaign, simulator, max_wait=60)

    assert (run.result.stop, run.result.exit_code) == (Stop.NOTHING_DUE, ExitCode.LATER)
    assert run.result.next_due == later.replace(microsecond=later.microsecond)
    assert simulator.ledger.dials == []


def test_a_number_suppressed_after_the_import_is_never_rung(database: Database) -> None:
    campaign = make_campaign(database)
    listed, other = us_numbers(2)
    add_contacts(database, campaign, [listed, other])
    with database.write() as connection:  # as if added while the contact was waiting
        connection.execute(
            insert(suppressions).values(
                phone=listed, campaign_id=None, source="manual", created_at=datetime.now(UTC)
            )
        )
    with simulating() as simulator:
        run = run_dialer(database, campaign, simulator)

    assert run.result.stop is Stop.FINISHED, run.output
    assert listed not in simulator.ledger.calls_per_number()
    states = {p: c["state"] for p, c in contact_rows(database, campaign).items()}
    assert states == {listed: "suppressed", other: "delivered"}


def zones_of(database: Database, campaign) -> Callable[[str], ZoneInfo]:  # type: ignore[no-untyped-def]
    zones = {p: ZoneInfo(str(c["timezone"])) for p, c in contact_rows(database, campaign).items()}
    return zones.__getitem__


@pytest.mark.parametrize(
    ("start", "window", "days", "zones", "dialled", "next_due"),
    [
        pytest.param(
            # 13:59:58 UTC: 08:59:58 in New York (opens in 2 s), 13:59 in London (open),
            # 07:59 in Chicago (opens 15:00 UTC), 22:59 in Tokyo (tomorrow).
            datetime(2026, 3, 4, 13, 59, 58, tzinfo=UTC),
            "09:00-17:00",
            "daily",
            ["America/New_York", "Europe/London", "America/Chicago", "Asia/Tokyo"],
            {"America/New_York", "Europe/London"},
            datetime(2026, 3, 4, 15, 0, tzinfo=UTC),
            id="zones",
        ),
        pytest.param(
            # Spring forward in New York: 01:59:58 EST, then 03:00 EDT; 02:30 does not exist
            # that night, so the window opens at 03:00 EDT = 07:00 UTC, two seconds later.
            datetime(2026, 3, 8, 6, 59, 58, tzinfo=UTC),
            "02:30-04:00",
            "daily",
            ["America/New_York", "America/Los_Angeles"],
            {"America/New_York"},
            # Los Angeles springs forward three hours later: 02:30 is skipped there too.
            datetime(2026, 3, 8, 10, 0, tzinfo=UTC),
            id="dst",
        ),
        pytest.param(
            # Friday's window runs to 02:00 on Saturday: open in Sydney at 01:59:50 on Saturday,
            # closed in Paris (15:59 on Friday: opens at 22:00 CET = 21:00 UTC).
            datetime(2026, 3, 6, 14, 59, 50, tzinfo=UTC),
            "22:00-02:00",
            "fri",
            ["Australia/Sydney", "Europe/Paris"],
            {"Australia/Sydney"},
            datetime(2026, 3, 6, 21, 0, tzinfo=UTC),
            id="midnight",
        ),
    ],
)
def test_calling_windows_in_each_contacts_zone(
    database: Database,
    start: datetime,
    window: str,
    days: str,
    zones: list[str],
    dialled: set[str],
    next_due: datetime,
) -> None:
    clock = ShiftedClock(start)
    campaign = make_campaign(database, window=window, days=days, max_attempts=1)
    phones = us_numbers(len(zones))
    add_contacts(database, campaign, phones, zones=dict(zip(phones, zones, strict=True)))
    with simulating(clock) as simulator:
        run = run_dialer(database, campaign, simulator, clock=clock, max_wait=10)

    assert (run.result.stop, run.result.exit_code) == (Stop.NOTHING_DUE, ExitCode.LATER)
    assert run.result.next_due == next_due
    called = {
        zone
        for phone, zone in zip(phones, zones, strict=True)
        if phone in simulator.ledger.calls_per_number()
    }
    assert called == dialled
    assert (
        simulator.ledger.calls_outside_window(
            campaign.settings.window, zones_of(database, campaign)
        )
        == []
    )
    rows = contact_rows(database, campaign)
    waiting = {row["timezone"] for row in rows.values() if row["state"] == "pending"}
    assert waiting == set(zones) - dialled


def test_a_window_closing_mid_run_sends_the_rest_to_wait(database: Database) -> None:
    """Contacts claimed as the window closes are given back, not dialled: 16:59:56 in New York.

    Four seconds of window at 2 calls/s: some of the 20 are dialled (a run takes a moment to start,
    more on PostgreSQL, where it registers as a worker first), most are not.
    """
    clock = ShiftedClock(datetime(2026, 3, 4, 21, 59, 56, tzinfo=UTC))
    campaign = make_campaign(database, window="09:00-17:00", calls_per_second=2, max_attempts=1)
    add_contacts(database, campaign, us_numbers(20))
    with simulating(clock) as simulator:
        run = run_dialer(database, campaign, simulator, clock=clock, max_wait=10)

    assert run.result.exit_code is ExitCode.LATER
    assert run.result.next_due == datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
    assert 0 < len(simulator.ledger.placed()) < 20
    assert (
        simulator.ledger.calls_outside_window(
            campaign.settings.window, zones_of(database, campaign)
        )
        == []
    )
    check_ledger(simulator.ledger, database, campaign)
