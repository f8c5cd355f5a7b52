"""A campaign imported from the sample lists and run by the simulator: `status` and every report
format agree to the unit, every contact and every call is accounted for, rejects and suppressed
numbers appear with their reasons, and hostile cells are neutralised in CSV only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from attempts_helpers import assert_summaries_match
from reports_helpers import (
    HOSTILE_ROWS,
    NAME,
    SCRIPTS,
    SUPPRESSED,
    SUPPRESSION_REASON,
    cli,
    import_samples,
    make_campaign,
    read_csv,
    read_jsonl,
    read_page,
    run_to_the_end,
)
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from campaigner.db import Database
from campaigner.db.schema import attempts
from campaigner.dialer.stopping import ExitCode
from campaigner.simulator import (
    Behaviour,
    Simulator,
    SimulatorConfig,
    outcome_mix,
    running_simulator,
)

NOT_CONTACTS = {"rejected", "duplicate"}


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    behaviour = Behaviour(
        seed=11, scripts=SCRIPTS, mix=outcome_mix("delivered=3,busy=1,no_answer=1,failed=1")
    )
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as running:
        yield running


def _rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 3)


def test_status_and_every_report_format_agree_on_a_simulated_campaign(
    database: Database, database_url: URL, simulator: Simulator, tmp_path: Path
) -> None:
    make_campaign(database)
    import_samples(database, tmp_path)
    result = run_to_the_end(database, simulator)
    assert result.exit_code is ExitCode.DONE

    status = json.loads(cli(database_url, "status", NAME, "--json").output)
    csv_text = cli(database_url, "report", NAME).output
    jsonl_text = cli(database_url, "report", NAME, "--format", "jsonl").output
    document = json.loads(cli(database_url, "report", NAME, "--format", "json").output)
    html = read_page(cli(database_url, "report", NAME, "--format", "html").output)
    calls_csv = read_csv(cli(database_url, "report", NAME, "--attempts").output)

    # The CSV, counted here by hand, against the definitions.
    table = read_csv(csv_text)
    contacts = [row for row in table.rows if row["state"] not in NOT_CONTACTS]
    by_state = Counter(row["state"] for row in contacts)
    dialled = sum(1 for row in contacts if int(row["attempts"]) > 0)
    calls = sum(int(row["attempts"]) for row in contacts)
    delivered = by_state["delivered"]
    assert len(contacts) == 9 + len(HOSTILE_ROWS)  # the suppressed number is a contact
    assert by_state["suppressed"] == 1
    assert not by_state["pending"]
    assert not by_state["in_progress"]
    expected = {
        "contacts": len(contacts),
        "attempts": calls,
        "dialled": dialled,
        "delivered": delivered,
        "in_flight": 0,
        "delivery_rate": _rate(delivered, dialled),
        "reach_rate": _rate(delivered, len(contacts)),
        "attempts_per_delivered": round(calls / delivered, 2),
        "rejected_rows": 15,
        "duplicate_rows": 3,
    }
    # status
    assert {key: status[key] for key in expected} == expected
    assert sum(status["contacts_by_state"].values()) == status["contacts"] == len(contacts)
    assert {s: n for s, n in status["contacts_by_state"].items() if n} == dict(by_state)
    # JSON: the same summary, and the same rows as JSON Lines
    assert document["summary"] == {key: status[key] for key in document["summary"]}
    lines = read_jsonl(jsonl_text)
    assert document["contacts"] == lines
    assert len(lines) == len(table.rows)
    assert Counter(line["state"] for line in lines) == Counter(row["state"] for row in table.rows)
    assert sum(line["attempts"] for line in lines) == calls
    # HTML: the tiles and the outcome table
    assert html.tiles["contacts"] == f"{len(contacts):,}"
    assert html.tiles["dialled"] == f"{dialled:,}"
    assert html.tiles["delivered"] == f"{delivered:,}"
    assert html.tiles["attempts"] == f"{calls:,}"
    assert html.tiles["delivery_rate"] == f"{_rate(delivered, dialled) * 100:.1f}%"
    assert html.tiles["attempts_per_delivered"] == f"{calls / delivered:.2f}"
    outcomes = {state: int(count.replace(",", "")) for state, count in html.tables["outcomes"]}
    assert outcomes.pop("total") == len(contacts)
    assert outcomes == dict(by_state)

    # One row per call placed, and every call placed has its row.
    with database.read() as connection:
        placed = connection.execute(select(func.count()).select_from(attempts)).scalar_one()
    assert len(calls_csv.rows) == placed == calls
    assert len({(row["phone"], row["attempt"]) for row in calls_csv.rows}) == placed
    per_phone = Counter(row["phone"] for row in calls_csv.rows)
    assert per_phone == {
        row["phone"]: int(row["attempts"]) for row in contacts if row["attempts"] != "0"
    }
    assert {row["outcome"] for row in calls_csv.rows} <= {
        "delivered",
        "busy",
        "no_answer",
        "failed",
    }
    # The scripted numbers: what the simulator was told to do, call by call.
    scripted = {row["phone"]: row for row in contacts if row["phone"] in SCRIPTS}
    assert scripted["+12125550150"]["state"] == "delivered"
    assert scripted["+12125550150"]["attempts"] == "2"
    assert scripted["+12125550151"]["state"] == "no_answer"
    assert scripted["+12125550151"]["attempts"] == "3"
    twice = scripted["+12125550150"]
    calls_of = {
        (row["attempt"], row["provider_call_id"])
        for row in calls_csv.rows
        if row["phone"] == "+12125550150"
    }
    assert calls_of == {
        ("1", twice["first_provider_call_id"]),
        ("2", twice["last_provider_call_id"]),
    }
    assert scripted["+12125550150"]["answered_utc"] <= scripted["+12125550150"]["ended_utc"]
    # What the dialer and the receiver wrote left each contact's first and last call right.
    assert_summaries_match(database)


def test_rejects_suppressed_and_hostile_cells_in_the_exports(
    database: Database, database_url: URL, simulator: Simulator, tmp_path: Path
) -> None:
    make_campaign(database)
    import_samples(database, tmp_path)
    run_to_the_end(database, simulator)

    table = read_csv(cli(database_url, "report", NAME).output)
    by_phone = {row["phone"]: row for row in table.rows if row["phone"]}
    suppressed = by_phone[SUPPRESSED]
    assert (suppressed["state"], suppressed["reason"], suppressed["attempts"]) == (
        "suppressed",
        SUPPRESSION_REASON,
        "0",
    )
    assert suppressed["first_name"] == "Maria"
    rejects = [row for row in table.rows if row["state"] == "rejected"]
    duplicates = [row for row in table.rows if row["state"] == "duplicate"]
    assert (len(rejects), len(duplicates)) == (15, 3)
    by_row = {int(row["source_row"]): row for row in rejects + duplicates}
    assert by_row[4]["phone_raw"] == "555-012"
    assert "too short" in by_row[4]["reason"]
    assert "extension" in by_row[9]["reason"]
    assert "duplicate" in by_row[10]["reason"] or "row 1" in by_row[10]["reason"]
    assert by_row[20]["timezone"] == ""  # a reject has no zone of ours ...
    assert by_row[20]["csv:timezone"] == "Mars/Olympus"  # ... and keeps the CSV's own column
    assert all(row["import_file"].endswith("bad_rows.csv") for row in rejects + duplicates)

    # CSV: formula-looking cells are text; E.164 numbers are left readable.
    for first_name, phone, appointment in HOSTILE_ROWS:
        row = by_phone[phone]
        if first_name.startswith(("=", "@")):
            assert row["first_name"] == "'" + first_name
        else:
            assert row["first_name"] == first_name
        assert row["appointment"] == "'" + appointment
    assert by_phone["+12125550150"]["phone"] == "+12125550150"
    assert by_phone["+16175550123"]["phone_raw"] == "'+1 (617) 555-0123"  # as written
    # JSON Lines carries the values as they are: only CSV is opened by spreadsheets.
    lines = {
        line["phone"]: line
        for line in read_jsonl(cli(database_url, "report", NAME, "--format", "jsonl").output)
    }
    assert lines["+12125550150"]["fields"]["first_name"] == HOSTILE_ROWS[0][0]
