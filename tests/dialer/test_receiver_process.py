"""`campaigner run`'s receiver in a process of its own (`ReceiverOptions(process=True)`): the same
campaign as in-process, its lifetime tied to the run's, its death stopping the run."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from dialer_helpers import (
    add_contacts,
    check_ledger,
    contact_rows,
    free_port,
    make_campaign,
    run_dialer,
    us_numbers,
)

from campaigner.config import Settings, parse_database_url
from campaigner.db import Database
from campaigner.db.engine import create_database_engine
from campaigner.dialer import ExitCode, ReceiverOptions, Stop
from campaigner.model import Outcome, Provider
from campaigner.receiver import ReceiverFailed, WebhookAuth, serving_in_child
from campaigner.simulator import (
    Behaviour,
    Simulator,
    SimulatorConfig,
    Timing,
    outcome_mix,
    running_simulator,
)
from campaigner.simulator.spans import Span

PHONES = us_numbers(10)
SCRIPTS = {PHONES[0]: (Outcome.BUSY, Outcome.DELIVERED), PHONES[1]: (Outcome.NO_ANSWER,)}


def receiver_processes() -> list[int]:
    """The pids of this process's children that run a receiver."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"campaigner.receiver._child" in command:
            found.append(int(entry.name))
    return found


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    behaviour = Behaviour(seed=3, scripts=SCRIPTS, mix=outcome_mix("delivered=1"))
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as running:
        yield running


@pytest.mark.parametrize("provider", list(Provider))
def test_a_campaign_runs_to_the_end_with_its_receiver_in_a_process_of_its_own(
    database: Database, simulator: Simulator, provider: Provider
) -> None:
    campaign = make_campaign(database, provider=provider, calls_per_second=20, max_in_flight=3)
    add_contacts(database, campaign, PHONES)

    run = run_dialer(
        database, campaign, simulator, receiver=ReceiverOptions(port=free_port(), process=True)
    )

    assert (run.result.stop, run.result.exit_code) == (Stop.FINISHED, ExitCode.DONE), run.output
    assert "(its own process)" in run.output
    states = {p: (c["state"], c["attempts"]) for p, c in contact_rows(database, campaign).items()}
    assert states == {
        PHONES[0]: ("delivered", 2),
        PHONES[1]: ("no_answer", 3),
        **dict.fromkeys(PHONES[2:], ("delivered", 1)),
    }
    check_ledger(simulator.ledger, database, campaign, cap=20)
    assert receiver_processes() == []  # stopped with the run


def test_the_run_stops_when_its_receiver_process_dies(database: Database) -> None:
    # Calls that stay up for a minute: the run is still dialing when the receiver is killed.
    timing = Timing(play_duration=Span(60.0, 60.0))
    config = SimulatorConfig(timing=timing, behaviour=Behaviour(mix=outcome_mix("delivered=1")))
    campaign = make_campaign(database, calls_per_second=5, max_in_flight=2)
    add_contacts(database, campaign, us_numbers(20))
    port = free_port()
    killed: list[int] = []

    def kill_the_receiver() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            for pid in receiver_processes():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    killer = threading.Thread(target=kill_the_receiver)
    with running_simulator(config) as simulator:
        killer.start()
        run = run_dialer(
            database,
            campaign,
            simulator,
            receiver=ReceiverOptions(port=port, process=True),
            drain_timeout=1.0,
        )
        killer.join()

    assert killed
    assert (run.result.stop, run.result.exit_code) == (Stop.RECEIVER_LOST, ExitCode.LATER)
    assert "webhook receiver's process exited" in run.result.message


def test_a_receiver_that_cannot_open_its_database_says_why(tmp_path: Path) -> None:
    # Never connected here: the child is the first to try.
    url = parse_database_url(str(tmp_path / "no such directory" / "campaigner.db"))
    database = Database(create_database_engine(url))
    auth = WebhookAuth(token="a-token-long-enough-for-the-check")

    async def start() -> None:
        async with serving_in_child(
            database,
            Settings(),
            auth,
            "127.0.0.1",
            0,
            on_applied=lambda _: None,
            on_lost=lambda _: None,
        ):
            raise AssertionError("the receiver started")

    with pytest.raises(ReceiverFailed, match="cannot open database"):
        anyio.run(start)
    assert receiver_processes() == []
