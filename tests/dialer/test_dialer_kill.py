"""SIGKILL of `campaigner run` mid-campaign, then a second run that finishes the job.

The first run dies with calls in every state: claimed and committed but never sent, sent with no
answer yet, answered and ringing, ended with webhooks still on their way. The second run must
finish the campaign with no correlation key placed twice (the EnableX requests it sends again
carry the key they were committed with) and no contact lost. On PostgreSQL the second run finds
the first dead (its process is gone) and puts back in the queue the claims it had not marked as
sent; on SQLite every claim counts as possibly sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from db_helpers import db_option
from dialer_helpers import (
    WEBHOOK_TOKEN,
    add_contacts,
    attempt_rows,
    check_ledger,
    contact_rows,
    free_port,
    make_campaign,
    us_numbers,
)
from sqlalchemy.engine import URL

from campaigner.db import Database
from campaigner.simulator import (
    Behaviour,
    SimulatorConfig,
    Span,
    Timing,
    WebhookPolicy,
    outcome_mix,
    running_simulator,
)

CONTACTS = 30


def campaigner(url: URL, environment: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from campaigner.cli import main; main()", *args]
    return subprocess.Popen(
        [*command, "--db", db_option(url)],
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_a_killed_run_is_finished_by_the_next_with_nobody_rung_twice(
    database: Database, database_url: URL
) -> None:
    campaign = make_campaign(database, calls_per_second=10, max_in_flight=8, max_attempts=2)
    add_contacts(database, campaign, us_numbers(CONTACTS))
    config = SimulatorConfig(
        behaviour=Behaviour(seed=3, mix=outcome_mix("delivered=70,busy=30")),
        timing=Timing(
            answer_latency=Span(0.3, 0.6),  # requests are always waiting for answers
            ring_delay=Span(0.2, 1.0),
            play_duration=Span(0.2, 0.5),
            hangup_timeout=2.0,
        ),
        # Webhooks sent while no receiver listens are tried again until the next run's does.
        webhooks=WebhookPolicy(retries=40, retry_gap=0.25, timeout=2.0),
    )
    port = free_port()
    run_args = ("run", campaign.name, "--listen", f"127.0.0.1:{port}", "--call-timeout", "8s")
    with running_simulator(config) as simulator:
        environment = {**simulator.environment(), "CAMPAIGNER_WEBHOOK_TOKEN": WEBHOOK_TOKEN}
        first = campaigner(database_url, environment, *run_args)
        try:
            simulator.ledger.wait_until(lambda ledger: len(ledger.placed()) >= 10, timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        assert len(simulator.ledger.placed()) < CONTACTS
        unanswered = {
            row["correlation_key"]
            for row in attempt_rows(database, campaign)
            if row["outcome"] is None and row["provider_call_id"] is None
        }
        assert unanswered  # committed, then sent or not: the next run cannot know which

        second = campaigner(database_url, environment, *run_args, "--log-format", "json")
        output, _ = second.communicate(timeout=120)

        assert second.returncode == 0, output.decode()
        rows = contact_rows(database, campaign)
        assert {row["state"] for row in rows.values()} <= {"delivered", "busy"}
        check_ledger(simulator.ledger, database, campaign, cap=10)
        settled = {row["correlation_key"]: row for row in attempt_rows(database, campaign)}
        # Claims the first run had not marked as sent (PostgreSQL) went back to the queue: their
        # keys were never placed. The others were settled.
        released = unanswered - set(settled)
        assert not released & set(simulator.ledger.calls_per_correlation())
        assert not released or not database.is_sqlite  # SQLite's claims all count as sent
        kept = unanswered - released
        assert all(settled[key]["outcome"] in ("delivered", "busy") for key in kept)
        assert all(settled[key]["provider_call_id"] for key in kept)


def test_ctrl_c_stops_dialing_and_leaves_nothing_half_done(
    database: Database, database_url: URL
) -> None:
    campaign = make_campaign(database, calls_per_second=5, max_in_flight=4)
    add_contacts(database, campaign, us_numbers(CONTACTS))
    config = SimulatorConfig(
        behaviour=Behaviour(seed=3, mix=outcome_mix("delivered=1")),
        timing=Timing(answer_latency=Span(0.1, 0.3), ring_delay=Span(0.2, 0.5)),
    )
    with running_simulator(config) as simulator:
        environment = {**simulator.environment(), "CAMPAIGNER_WEBHOOK_TOKEN": WEBHOOK_TOKEN}
        run = campaigner(database_url, environment, "run", campaign.name, "--log-format", "json")
        try:
            simulator.ledger.wait_until(lambda ledger: len(ledger.placed()) >= 3, timeout=60)
        finally:
            run.send_signal(signal.SIGINT)
            output, _ = run.communicate(timeout=60)

    assert run.returncode == 130, output.decode()
    assert b'"action": "stop.interrupted"' in output
    assert len(simulator.ledger.placed()) < CONTACTS
    check_ledger(simulator.ledger, database, campaign)
    # Every attempt left is a call the provider has: none was claimed and left unsent.
    assert all(row["provider_call_id"] for row in attempt_rows(database, campaign))
    states = {row["state"] for row in contact_rows(database, campaign).values()}
    assert states <= {"pending", "delivered"}
