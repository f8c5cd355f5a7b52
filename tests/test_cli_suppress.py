"""`campaigner suppress ...` on SQLite and PostgreSQL: numbers on the list are never dialled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import add_contact, run, states
from sqlalchemy.engine import URL

from campaigner.db import Database
from campaigner.model import ContactState
from campaigner.store.suppressions import add_suppressions, list_suppressions

SAMPLE_DNC = Path(__file__).parent.parent / "sample_lists" / "dnc.csv"
ANN, BOB, CAT = "+12125550101", "+12125550102", "+12125550103"


def create(url: URL, name: str, *options: str) -> None:
    result = run(
        url,
        *("campaign", "create", name, "--provider", "enablex", "--caller-id", "+14155552671"),
        *("--tts", "Hello", *options),
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def two_campaigns(database_url: URL, database: Database) -> Database:
    """Ann pending in both campaigns, Bob pending in spring, Cat delivered in spring."""
    create(database_url, "spring", "--region", "US")
    create(database_url, "autumn")
    add_contact(database, "spring", ANN)
    add_contact(database, "spring", BOB)
    add_contact(database, "spring", CAT, state=ContactState.DELIVERED)
    add_contact(database, "autumn", ANN)
    return database


def listed(url: URL, *options: str) -> list[dict[str, str | None]]:
    result = run(url, "suppress", "list", "--json", *options)
    assert result.exit_code == 0, result.output
    entries: list[dict[str, str | None]] = json.loads(result.output)
    return entries


def test_global_add_suppresses_pending_contacts_in_every_campaign(
    database_url: URL, two_campaigns: Database
) -> None:
    result = run(database_url, "suppress", "add", ANN, "+1 (212) 555-0103", "--reason", "asked")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"added to the global do-not-call list: {ANN}, {CAT}",
        "2 pending contacts marked suppressed: they will not be called",
    ]
    assert states(two_campaigns, "spring") == {ANN: "suppressed", BOB: "pending", CAT: "delivered"}
    assert states(two_campaigns, "autumn") == {ANN: "suppressed"}
    assert [
        (e["phone"], e["campaign"], e["source"], e["reason"]) for e in listed(database_url)
    ] == [
        (ANN, None, "manual", "asked"),
        (CAT, None, "manual", "asked"),
    ]
    again = run(database_url, "suppress", "add", ANN)
    assert again.exit_code == 0
    assert again.output == f"already on the global do-not-call list: {ANN}\n"
    assert listed(database_url)[0]["reason"] == "asked"  # the first entry is kept as it was


def test_campaign_add_suppresses_only_that_campaign(
    database_url: URL, two_campaigns: Database
) -> None:
    # spring's region is US: a number without its country code is read as a US number
    result = run(database_url, "suppress", "add", "212 555 0101", "--campaign", "spring")
    assert result.exit_code == 0, result.output
    assert f"added to the do-not-call list of campaign 'spring': {ANN}" in result.output
    assert states(two_campaigns, "spring")[ANN] == "suppressed"
    assert states(two_campaigns, "autumn")[ANN] == "pending"
    assert listed(database_url, "--campaign", "autumn") == []
    assert [e["campaign"] for e in listed(database_url, "--campaign", "spring")] == ["spring"]


def test_add_refuses_every_number_if_one_is_bad(database_url: URL, two_campaigns: Database) -> None:
    result = run(database_url, "suppress", "add", ANN, "12", "--region", "US")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: not a number that can be suppressed: '12': too short for region US "
        "(nothing was changed)\n"
    )
    assert listed(database_url) == []
    assert states(two_campaigns, "spring")[ANN] == "pending"


def test_add_needs_a_known_campaign(database_url: URL) -> None:
    result = run(database_url, "suppress", "add", ANN, "--campaign", "nope")
    assert result.exit_code == 1
    assert "no campaign named 'nope'" in result.stderr


def test_remove_leaves_contacts_suppressed(database_url: URL, two_campaigns: Database) -> None:
    assert run(database_url, "suppress", "add", ANN).exit_code == 0
    assert run(database_url, "suppress", "add", ANN, "--campaign", "spring").exit_code == 0
    result = run(database_url, "suppress", "remove", ANN, BOB)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"removed from the global do-not-call list: {ANN}",
        f"not on the global do-not-call list: {BOB}",
        "Removing a number does not bring back its contacts already marked suppressed: they stay "
        "uncalled.",
    ]
    assert states(two_campaigns, "spring")[ANN] == "suppressed"
    assert states(two_campaigns, "autumn")[ANN] == "suppressed"
    # the campaign's own entry is separate from the global one, and still there
    assert [(e["phone"], e["campaign"]) for e in listed(database_url)] == [(ANN, "spring")]


def test_list_for_a_campaign_shows_global_and_own_entries(
    database_url: URL, two_campaigns: Database
) -> None:
    assert "the do-not-call list is empty" in run(database_url, "suppress", "list").output
    assert run(database_url, "suppress", "add", ANN).exit_code == 0
    assert run(database_url, "suppress", "add", BOB, "--campaign", "spring").exit_code == 0
    assert run(database_url, "suppress", "add", CAT, "--campaign", "autumn").exit_code == 0
    spring = [(e["phone"], e["campaign"]) for e in listed(database_url, "--campaign", "spring")]
    assert spring == [(ANN, None), (BOB, "spring")]
    lines = run(database_url, "suppress", "list").output.splitlines()
    assert lines[0].split() == ["PHONE", "CAMPAIGN", "SOURCE", "REASON", "ADDED"]
    assert [line.split()[:4] for line in lines[1:]] == [
        [ANN, "(global)", "manual", "-"],
        [BOB, "spring", "manual", "-"],
        [CAT, "autumn", "manual", "-"],
    ]


def test_import_adds_valid_numbers_and_lists_rejected_rows(
    database_url: URL, database: Database, tmp_path: Path
) -> None:
    create(database_url, "spring")
    add_contact(database, "spring", "+13125550123")
    add_contact(database, "spring", "+18085550186")
    result = run(database_url, "suppress", "import", str(SAMPLE_DNC))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "dnc.csv: 5 rows: 4 numbers added to the global do-not-call list, 0 already on it, "
        "1 rejected",
        "1 pending contacts marked suppressed: they will not be called",
        "rejected row 3 (line 4) '(808) 555-0186': no country code and no default region "
        "(use --region)",
    ]
    assert states(database, "spring") == {"+13125550123": "suppressed", "+18085550186": "pending"}
    entries = listed(database_url)
    assert {e["source"] for e in entries} == {"file:dnc.csv"}
    assert entries[0] == entries[0] | {
        "phone": "+13125550123",
        "reason": "asked not to be called again (phone call to the front desk)",
    }
    again = run(database_url, "suppress", "import", str(SAMPLE_DNC), "--region", "US")
    assert again.output.splitlines()[:2] == [
        "dnc.csv: 5 rows: 1 numbers added to the global do-not-call list, 4 already on it, "
        "0 rejected",
        "1 pending contacts marked suppressed: they will not be called",
    ]
    assert states(database, "spring")["+18085550186"] == "suppressed"


def test_import_with_named_columns_into_a_campaign(
    database_url: URL, database: Database, tmp_path: Path
) -> None:
    create(database_url, "spring", "--region", "US")
    add_contact(database, "spring", ANN)
    listing = tmp_path / "opt-outs.csv"
    listing.write_text("who;cell;why\nAnn;212-555-0101;keypress 9\nBob\nCat;212 555 0103;\n")
    result = run(
        database_url,
        *("suppress", "import", str(listing), "--campaign", "spring"),
        *("--phone-column", "cell", "--reason-column", "why"),
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "opt-outs.csv: 3 rows: 2 numbers added to the do-not-call list of campaign 'spring', "
        "0 already on it, 1 rejected",
        "1 pending contacts marked suppressed: they will not be called",
        "rejected row 2 (line 3) '': missing phone number",
    ]
    entries = listed(database_url, "--campaign", "spring")
    assert [(e["phone"], e["campaign"], e["source"], e["reason"]) for e in entries] == [
        (ANN, "spring", "file:opt-outs.csv", "keypress 9"),
        (CAT, "spring", "file:opt-outs.csv", None),
    ]


@pytest.mark.parametrize(
    ("content", "options", "error"),
    [
        ("phone,reason\n+12125550101,x\n", ["--phone-column", "mobile"], "no column 'mobile'"),
        ("phone,reason\n+12125550101,x\n", ["--reason-column", "why"], "no column 'why'"),
        ("name,city\nAnn,Paris\n", [], "no phone column"),
        ('phone\n+12125550101\n"+12125550102\n', [], "line 3"),
    ],
)
def test_import_of_an_unreadable_file_adds_nothing(
    database_url: URL, tmp_path: Path, content: str, options: list[str], error: str
) -> None:
    listing = tmp_path / "bad.csv"
    listing.write_text(content)
    result = run(database_url, "suppress", "import", str(listing), *options)
    assert result.exit_code == 65
    assert error in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert listed(database_url) == []


def test_store_adds_and_lists_many_numbers(database: Database) -> None:
    """More numbers than one statement takes."""
    phones = [f"+1212555{n:04d}" for n in range(1200)]
    with database.write() as connection:
        added = add_suppressions(connection, dict.fromkeys(phones, "bulk"), None, "file:big.csv")
    assert len(added.added) == 1200
    more = [*phones[-3:], "+12125559999"]
    with database.write() as connection:
        again = add_suppressions(connection, dict.fromkeys(more), None, "manual")
    assert again.added == ["+12125559999"]
    assert again.already == phones[-3:]
    with database.read() as connection:
        assert len(list_suppressions(connection)) == 1201
