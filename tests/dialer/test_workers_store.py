"""store.workers: leases, dead workers' claims, fencing of a stale worker, the shared pace."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from cli_helpers import run
from click.testing import CliRunner
from db_helpers import db_option
from dialer_helpers import add_contacts, attempt_rows, contact_rows, make_campaign, us_numbers
from sqlalchemy.engine import URL

from campaigner.cli import main
from campaigner.db import Database
from campaigner.providers import Accepted
from campaigner.store.attempts import record_ambiguous, record_dial_answers
from campaigner.store.campaigns import get_campaign_by_id
from campaigner.store.queue import DueContact, claim_due, live_attempts, release_unsent
from campaigner.store.workers import (
    Identity,
    forget_slots,
    heartbeat,
    list_workers,
    mark_sent,
    owned,
    process_exists,
    register,
    reserve_slots,
    stop,
)

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
HERE = Identity.of_this_process()
ELSEWHERE = Identity("other-host", 4242, "another-boot/pid:[1]")


def phone_of(contact: DueContact, key: str) -> str:
    return contact.phone


def start(database: Database, campaign_id: int, identity: Identity, now: datetime = NOW) -> int:
    with database.write() as connection:
        return register(connection, campaign_id, identity, now, LEASE)


def claim(database: Database, campaign_id: int, worker: int, limit: int, now: datetime = NOW):  # type: ignore[no-untyped-def]
    with database.write() as connection:
        campaign = get_campaign_by_id(connection, campaign_id)
        return claim_due(connection, campaign, now, limit, phone_of, worker_id=worker, sent=False)


def beat(database: Database, worker: int, campaign_id: int, now: datetime):  # type: ignore[no-untyped-def]
    with database.write() as connection:
        return heartbeat(connection, worker, campaign_id, HERE, now, LEASE)


def test_a_stale_worker_cannot_send_or_undo_what_its_successor_took_over(
    database: Database,
) -> None:
    """Worker A claims 4 contacts and marks 2 as sent, then stalls past its lease. Worker B finds
    it dead: A's 2 unsent claims go back to the queue (B claims them anew), A's 2 sent calls are
    B's now. A wakes: it cannot mark its old claims as sent, cannot give back the calls B holds,
    does not hold them any more, and its heartbeat says the lease is lost."""
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(4))
    stale = start(database, campaign.id, ELSEWHERE)
    claimed = claim(database, campaign.id, stale, 4).claimed
    ids = [c.attempt_id for c in claimed]
    with database.write() as connection:
        assert mark_sent(connection, stale, ids[:2], NOW) == set(ids[:2])

    later = NOW + LEASE + timedelta(seconds=1)
    successor = start(database, campaign.id, HERE, later)
    beaten = beat(database, successor, campaign.id, later)

    assert beaten.alive
    assert beaten.live_workers == 1
    assert [worker for worker, _ in beaten.reaped.stopped] == [stale]
    assert (beaten.reaped.released, beaten.reaped.adopted) == (2, 2)
    retaken = claim(database, campaign.id, successor, 10, later).claimed
    assert {c.contact.phone for c in retaken} == {c.contact.phone for c in claimed[2:]}

    with database.write() as connection:
        assert mark_sent(connection, stale, ids, later) == set()  # fenced: nothing to send
        assert release_unsent(connection, campaign.id, dict.fromkeys(ids), later, owner=stale) == []
        assert owned(connection, stale, ids) == set()
        # What A heard about its old calls is not its to write any more.
        late = [(attempt_id, Accepted(f"late-{attempt_id}")) for attempt_id in ids[:2]]
        assert record_dial_answers(connection, late, later, owner=stale).finished == []
        record_ambiguous(connection, ids[:2], "ambiguous: late", later, owner=stale)
        assert heartbeat(connection, stale, campaign.id, ELSEWHERE, later, LEASE).alive is False
        mine = [c.attempt_id for c in retaken]
        assert mark_sent(connection, successor, mine, later) == set(mine)
    rows = attempt_rows(database, campaign)
    assert sorted(row["worker_id"] for row in rows) == [successor] * 4
    assert all(row["sent_at"] is not None for row in rows)
    assert all(row["provider_call_id"] is None and row["error"] is None for row in rows)
    states = {row["state"] for row in contact_rows(database, campaign).values()}
    assert states == {"in_progress"}
    assert all(row["attempts"] == 1 for row in contact_rows(database, campaign).values())


def test_a_live_lease_is_left_alone_and_a_stopped_worker_s_calls_are_taken_over(
    database: Database,
) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(2))
    first = start(database, campaign.id, ELSEWHERE)
    claimed = claim(database, campaign.id, first, 2).claimed
    second = start(database, campaign.id, HERE)

    assert beat(database, second, campaign.id, NOW + timedelta(seconds=5)).reaped.stopped == []
    with database.write() as connection:
        mark_sent(connection, first, [c.attempt_id for c in claimed], NOW)
        stop(connection, first, NOW, "finished")
    beaten = beat(database, second, campaign.id, NOW + timedelta(seconds=6))

    assert (beaten.reaped.stopped, beaten.reaped.released, beaten.reaped.adopted) == ([], 0, 2)
    with database.read() as connection:
        quiet = live_attempts(connection, campaign.id, NOW + timedelta(seconds=1), owner=second)
        assert {a.attempt_id for a in quiet} == {c.attempt_id for c in claimed}
        assert live_attempts(connection, campaign.id, NOW + timedelta(seconds=1), owner=first) == []


def test_a_worker_on_this_host_whose_process_is_gone_is_dead_at_once(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(3))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = Identity(HERE.host, int(ended.stdout), HERE.pid_space)
    assert not process_exists(gone.pid)
    dead = start(database, campaign.id, gone)
    claim(database, campaign.id, dead, 3)
    survivor = start(database, campaign.id, HERE)

    beaten = beat(database, survivor, campaign.id, NOW + timedelta(seconds=1))

    assert beaten.reaped.stopped == [(dead, "its process is gone")]
    assert beaten.reaped.released == 3
    assert {row["state"] for row in contact_rows(database, campaign).values()} == {"pending"}
    assert attempt_rows(database, campaign) == []
    with database.read() as connection:
        shown = {w.id: w for w in list_workers(connection, NOW, HERE)}
    assert shown[dead].state == "stopped"
    assert "process is gone" in (shown[dead].reason or "")
    assert shown[survivor].state == "live"


def test_claims_stop_at_the_campaign_s_calls_in_flight_across_workers(database: Database) -> None:
    campaign = make_campaign(database, max_in_flight=5)
    add_contacts(database, campaign, us_numbers(12))
    one, two = start(database, campaign.id, HERE), start(database, campaign.id, HERE)
    with database.write() as connection:
        fresh = get_campaign_by_id(connection, campaign.id)
        first = claim_due(connection, fresh, NOW, 3, phone_of, worker_id=one, max_in_flight=5)
        second = claim_due(connection, fresh, NOW, 10, phone_of, worker_id=two, max_in_flight=5)
    assert (len(first.claimed), len(second.claimed)) == (3, 2)


def test_workers_list_what_they_hold(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(5))
    worker = start(database, campaign.id, HERE)
    claimed = claim(database, campaign.id, worker, 5).claimed
    with database.write() as connection:
        mark_sent(connection, worker, [c.attempt_id for c in claimed[:2]], NOW)
    expired = start(database, campaign.id, ELSEWHERE, NOW - LEASE - timedelta(seconds=1))

    with database.read() as connection:
        shown = list_workers(connection, NOW, HERE)

    assert [(w.id, w.state, w.claimed, w.calls) for w in shown] == [
        (expired, "dead", 0, 0),
        (worker, "live", 3, 2),
    ]
    assert shown[1].campaign == campaign.name
    assert shown[1].pid == HERE.pid


def test_slots_of_a_second_are_reserved_in_batches_up_to_its_size(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("the shared pace is PostgreSQL's: SQLite has one dialer")
    campaign = make_campaign(database)
    with database.write() as connection:
        assert reserve_slots(connection, campaign.id, 100, 40, 96) == (0, 40)
        assert reserve_slots(connection, campaign.id, 100, 40, 96) == (40, 40)
        assert reserve_slots(connection, campaign.id, 100, 40, 96) == (80, 16)
        assert reserve_slots(connection, campaign.id, 100, 40, 96) == (96, 0)
        assert reserve_slots(connection, campaign.id, 101, 10, 96) == (0, 10)
        forget_slots(connection, campaign.id, 101)
        assert reserve_slots(connection, campaign.id, 100, 5, 96) == (0, 5)  # a fresh row


def test_campaigner_workers_shows_them_as_a_table_and_as_json(
    database: Database, database_url: URL
) -> None:
    campaign = make_campaign(database, name="reminders")
    add_contacts(database, campaign, us_numbers(3))
    now = datetime.now(UTC)
    gone = start(database, campaign.id, ELSEWHERE, now - timedelta(days=3))
    with database.write() as connection:
        stop(connection, gone, now - timedelta(days=3), "finished: completed")
    worker = start(database, campaign.id, HERE, now)
    claim(database, campaign.id, worker, 3, now)

    table = run(database_url, "workers")
    shown = run(database_url, "workers", "--all", "--json", "--campaign", "reminders")

    assert table.exit_code == 0, table.output
    header, line = table.output.splitlines()
    assert header.split()[:5] == ["ID", "CAMPAIGN", "HOST", "PID", "STATE"]
    assert line.split()[:5] == [str(worker), "reminders", HERE.host, str(HERE.pid), "live"]
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)
    assert [(w["id"], w["state"], w["claimed"], w["calls"]) for w in listed] == [
        (worker, "live", 3, 0),
        (gone, "stopped", 0, 0),
    ]
    assert listed[1]["reason"] == "finished: completed"
    missing = CliRunner().invoke(
        main, ["workers", "--campaign", "nope", "--db", db_option(database_url)]
    )
    assert missing.exit_code == 1
    assert "nope" in missing.output
