"""The importer, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, RowMapping, func, insert, select

from campaigner.campaigns import CampaignSettings, Message
from campaigner.db import Database
from campaigner.db.schema import contacts, imports, suppressions
from campaigner.errors import ImportFailed, InvalidTransition, ValidationError
from campaigner.importer import ImportOptions, ImportSummary, import_contacts
from campaigner.model import CampaignStatus, ContactState, MessageKind, Provider
from campaigner.sqlite_driver import driver as sqlite_driver
from campaigner.store.campaigns import create_campaign, get_campaign, set_status
from campaigner.store.contacts import (
    LISTED_SET_ENTRIES,
    Duplicate,
    NewContact,
    contact_loader,
)
from campaigner.store.imports import (
    ImportCounts,
    ImportStatus,
    list_imports,
    list_rejects,
    start_import,
)

SAMPLE_LISTS = Path(__file__).resolve().parent.parent / "sample_lists"
TEMPLATE = Message(MessageKind.TTS, "Hello {first_name}, see you {appointment}.")
HEADER = "phone,first_name,appointment\n"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def campaign(
    database: Database, name: str = "spring", message: Message = TEMPLATE, region: str = "US"
) -> int:
    settings = CampaignSettings(
        name=name,
        provider=Provider.ENABLEX,
        caller_id="+14155552671",
        message=message,
        default_region=region,
        default_timezone="America/New_York",
    ).validate()
    with database.write() as connection:
        return create_campaign(connection, settings).id


def write(tmp_path: Path, text: str | bytes, name: str = "contacts.csv") -> Path:
    """A file in a directory of its own (the SQLite test database lives in tmp_path)."""
    path = tmp_path / "lists" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def run(database: Database, path: Path, name: str = "spring", **options: Any) -> ImportSummary:
    return import_contacts(database, name, path, ImportOptions(**options))


def stored(database: Database, campaign_id: int) -> list[RowMapping]:
    with database.read() as connection:
        return list(
            connection.execute(
                select(contacts)
                .where(contacts.c.campaign_id == campaign_id)
                .order_by(contacts.c.import_id, contacts.c.source_row)
            ).mappings()
        )


def rejects_file(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        sample = file.read(4096)
        file.seek(0)
        return list(csv.DictReader(file, delimiter=";" if ";" in sample.splitlines()[0] else ","))


def counts(summary: ImportSummary) -> tuple[int, int, int, int, int]:
    c = summary.counts
    return c.rows_read, c.imported, c.duplicates, c.suppressed, c.rejected


def test_the_bad_rows_sample_twice(database: Database, tmp_path: Path) -> None:
    """The acceptance test: counts that add up, a reason for every reject, nothing new twice."""
    campaign_id = campaign(database)
    path = tmp_path / "bad_rows.csv"
    shutil.copyfile(SAMPLE_LISTS / "bad_rows.csv", path)

    first = run(database, path, tz_column="timezone")
    assert counts(first) == (27, 9, 3, 0, 15)
    assert not first.nothing_new
    assert first.rejects_file == tmp_path / "bad_rows.rejects.csv"
    written = rejects_file(first.rejects_file)
    assert len(written) == 18
    assert all(row["reason"] for row in written)
    with database.read() as connection:
        recorded = list_rejects(connection, first.import_id)
    assert [r.row_number for r in recorded] == [int(row["row"]) for row in written]
    assert all(r.reason for r in recorded)
    assert sum(r.is_duplicate for r in recorded) == 3
    by_row = {r.row_number: r for r in recorded}
    assert by_row[10].reason == "duplicate: same number as row 1 of this file"
    assert by_row[10].line_number == 11
    assert by_row[20].line_number == 22  # row 19 spans two lines
    assert by_row[16].reason == "too few fields: 3 where the header has 6"

    second = run(database, path, tz_column="timezone")
    assert counts(second) == (27, 0, 12, 0, 15)
    assert second.nothing_new
    assert second.same_file_as == first.import_id
    written = rejects_file(tmp_path / "bad_rows.rejects.csv")
    assert len(written) == 27
    assert all(row["reason"] for row in written)
    assert written[0]["reason"] == (
        f"duplicate: already in the campaign (row 1 of import #{first.import_id})"
    )
    assert len(stored(database, campaign_id)) == 9


def test_numbers_are_stored_in_e164_with_their_fields_and_timezones(
    database: Database, tmp_path: Path
) -> None:
    campaign_id = campaign(database)
    path = write(
        tmp_path,
        "phone,first_name,appointment,tz\n"
        " (212) 555-0101 , Maria ,Monday,\n"  # New York, from the number
        "+61 491 570 156,Jack,Tuesday,\n"  # an Australian mobile: no single zone
        "(907) 555-0121,Anna,Wednesday,America/Anchorage\n",
    )
    summary = run(database, path, tz_column="tz")
    assert counts(summary) == (3, 3, 0, 0, 0)
    assert summary.rejects_file is None
    assert not (path.parent / "contacts.rejects.csv").exists()
    rows = stored(database, campaign_id)
    assert [
        (r["phone"], r["phone_raw"], r["timezone"], r["timezone_source"], r["fields"]) for r in rows
    ] == [
        (
            "+12125550101",
            "(212) 555-0101",
            "America/New_York",
            "number",
            {"first_name": "Maria", "appointment": "Monday", "tz": ""},
        ),
        (
            "+61491570156",
            "+61 491 570 156",
            "America/New_York",
            "default",
            {"first_name": "Jack", "appointment": "Tuesday", "tz": ""},
        ),
        (
            "+19075550121",
            "(907) 555-0121",
            "America/Anchorage",
            "column",
            {"first_name": "Anna", "appointment": "Wednesday", "tz": "America/Anchorage"},
        ),
    ]
    assert all(r["state"] == ContactState.PENDING for r in rows)
    assert all(r["attempts"] == 0 and r["next_attempt_at"] is not None for r in rows)
    assert [r["source_row"] for r in rows] == [1, 2, 3]
    assert {r["import_id"] for r in rows} == {summary.import_id}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("n/a,Ann,Monday", "phone: not a phone number"),
        (",Ann,Monday", "phone: missing phone number"),
        ("(212) 555-0102,,Monday", "first_name: missing, and the message needs it"),
        ("(212) 555-0102,Ann,  ", "appointment: missing, and the message needs it"),
        ("(212) 555-0102,Ann", "too few fields: 2 where the header has 3"),
        (
            "(212) 555-0102,Ann,Monday,9am",
            "too many fields: 4 where the header has 3 (a value holding the delimiter needs "
            "quotes)",
        ),
    ],
)
def test_row_problems_are_rejects(
    database: Database, tmp_path: Path, line: str, reason: str
) -> None:
    campaign(database)
    path = write(tmp_path, HEADER + "(212) 555-0101,Maria,Monday\n" + line + "\n")
    summary = run(database, path)
    assert counts(summary) == (2, 1, 0, 0, 1)
    assert summary.rejects_file is not None
    (written,) = rejects_file(summary.rejects_file)
    assert (written["row"], written["reason"]) == ("2", reason)
    with database.read() as connection:
        (recorded,) = list_rejects(connection, summary.import_id)
    assert (recorded.row_number, recorded.line_number, recorded.reason) == (2, 3, reason)
    assert not recorded.is_duplicate


def test_a_rejected_row_keeps_every_field_as_read(database: Database, tmp_path: Path) -> None:
    campaign(database)
    path = write(tmp_path, HEADER + " n/a ,Ann,Monday\n(212) 555-0102,Ann,Monday,9am\n")
    summary = run(database, path)
    with database.read() as connection:
        short, long = list_rejects(connection, summary.import_id)
    assert short.phone_raw == " n/a "
    assert short.fields == {"phone": " n/a ", "first_name": "Ann", "appointment": "Monday"}
    assert long.fields == {
        "phone": "(212) 555-0102",
        "first_name": "Ann",
        "appointment": "Monday",
        "_extra": ["9am"],
    }
    assert summary.rejects_file is not None
    with summary.rejects_file.open(newline="") as file:
        assert list(csv.reader(file))[2] == [
            "2",
            "too many fields: 4 where the header has 3 (a value holding the delimiter needs "
            "quotes)",
            "(212) 555-0102",
            "Ann",
            "Monday",
            "9am",
        ]


def test_an_unknown_time_zone_is_a_reject(database: Database, tmp_path: Path) -> None:
    campaign(database)
    path = write(tmp_path, HEADER.replace("\n", ",zone\n") + "(212) 555-0101,A,B,Mars/Olympus\n")
    summary = run(database, path, tz_column="zone")
    with database.read() as connection:
        (recorded,) = list_rejects(connection, summary.import_id)
    assert recorded.reason == "zone: 'Mars/Olympus' is not a known IANA time zone"


def test_duplicates_say_which_row_came_first(database: Database, tmp_path: Path) -> None:
    campaign_id = campaign(database)
    first = run(database, write(tmp_path, HEADER + "(212) 555-0101,A,B\n212-555-0101,C,D\n"))
    assert counts(first) == (2, 1, 1, 0, 0)
    second = run(
        database,
        write(tmp_path, HEADER + "(415) 555-0102,E,F\n+1 212 555 0101,G,H\n", "more.csv"),
    )
    assert counts(second) == (2, 1, 1, 0, 0)
    assert second.same_file_as is None
    with database.read() as connection:
        assert [r.reason for r in list_rejects(connection, first.import_id)] == [
            "duplicate: same number as row 1 of this file"
        ]
        (again,) = list_rejects(connection, second.import_id)
    assert (
        again.reason == f"duplicate: already in the campaign (row 1 of import #{first.import_id})"
    )
    assert again.is_duplicate
    assert [r["phone"] for r in stored(database, campaign_id)] == ["+12125550101", "+14155550102"]


def test_repeats_within_a_batch_across_batches_and_across_imports(
    database: Database, tmp_path: Path
) -> None:
    """Each batch is looked up on its own: a repeat is found in the batch, in an earlier batch of
    the same file or in an earlier import, and its reason says which row came first."""
    campaign_id = campaign(database)
    first = run(
        database,
        write(
            tmp_path,
            HEADER
            + "(212) 555-0101,A,B\n"  # batch 1
            + "212.555.0101,C,D\n"  # batch 1: repeats row 1
            + "(415) 555-0102,E,F\n"  # batch 2
            + "+1 212 555 0101,G,H\n",  # batch 2: repeats row 1, loaded with batch 1
        ),
        batch_rows=2,
        workers=1,
    )
    assert counts(first) == (4, 2, 2, 0, 0)
    second = run(
        database,
        write(tmp_path, HEADER + "(312) 555-0103,I,J\n415-555-0102,K,L\n", "more.csv"),
        batch_rows=1,
        workers=1,
    )
    assert counts(second) == (2, 1, 1, 0, 0)
    with database.read() as connection:
        assert [(r.row_number, r.reason) for r in list_rejects(connection, first.import_id)] == [
            (2, "duplicate: same number as row 1 of this file"),
            (4, "duplicate: same number as row 1 of this file"),
        ]
        (again,) = list_rejects(connection, second.import_id)
    assert (again.row_number, again.reason) == (
        2,
        f"duplicate: already in the campaign (row 3 of import #{first.import_id})",
    )
    assert [
        (r["phone"], r["import_id"], r["source_row"]) for r in stored(database, campaign_id)
    ] == [
        ("+12125550101", first.import_id, 1),
        ("+14155550102", first.import_id, 3),
        ("+13125550103", second.import_id, 1),
    ]


def test_the_same_number_in_another_campaign_is_not_a_duplicate(
    database: Database, tmp_path: Path
) -> None:
    campaign(database)
    campaign(database, "autumn")
    path = write(tmp_path, HEADER + "(212) 555-0101,A,B\n")
    run(database, path)
    assert counts(run(database, path, "autumn")) == (1, 1, 0, 0, 0)


def test_suppressed_numbers_are_imported_as_suppressed_and_never_due(
    database: Database, tmp_path: Path
) -> None:
    campaign_id = campaign(database)
    other_id = campaign(database, "autumn")
    with database.write() as connection:
        connection.execute(
            insert(suppressions),
            [
                {"phone": phone, "campaign_id": scope, "source": "test", "created_at": NOW}
                for phone, scope in [
                    ("+12125550101", None),  # everywhere
                    ("+14155550102", campaign_id),  # this campaign
                    ("+13125550103", other_id),  # another campaign only
                ]
            ],
        )
    path = write(
        tmp_path,
        HEADER + "(212) 555-0101,A,B\n(415) 555-0102,C,D\n(312) 555-0103,E,F\n415-555-0102,G,H\n",
    )
    summary = run(database, path)
    assert counts(summary) == (4, 1, 1, 2, 0)
    rows = {r["phone"]: r for r in stored(database, campaign_id)}
    assert rows["+12125550101"]["state"] == ContactState.SUPPRESSED
    assert rows["+14155550102"]["state"] == ContactState.SUPPRESSED
    assert rows["+13125550103"]["state"] == ContactState.PENDING
    assert rows["+12125550101"]["next_attempt_at"] is None
    assert rows["+14155550102"]["next_attempt_at"] is None
    assert rows["+13125550103"]["next_attempt_at"] is not None


def test_a_suppressed_number_in_a_later_batch_and_its_repeat(
    database: Database, tmp_path: Path
) -> None:
    campaign_id = campaign(database)
    with database.write() as connection:
        connection.execute(
            insert(suppressions).values(
                phone="+13125550103", campaign_id=None, source="test", created_at=NOW
            )
        )
    path = write(
        tmp_path,
        HEADER
        + "(212) 555-0101,A,B\n(415) 555-0102,C,D\n"  # batch 1
        + "(312) 555-0103,E,F\n(646) 555-0104,G,H\n"  # batch 2: row 3 is on the list
        + "312-555-0103,I,J\n",  # batch 3: repeats row 3
    )
    summary = run(database, path, batch_rows=2, workers=1)
    assert counts(summary) == (5, 3, 1, 1, 0)
    rows = {r["phone"]: r for r in stored(database, campaign_id)}
    assert rows["+13125550103"]["state"] == ContactState.SUPPRESSED
    assert rows["+13125550103"]["next_attempt_at"] is None
    assert rows["+13125550103"]["source_row"] == 3
    assert [r["state"] for p, r in rows.items() if p != "+13125550103"] == [
        ContactState.PENDING
    ] * 3
    with database.read() as connection:
        (repeat,) = list_rejects(connection, summary.import_id)
    assert (repeat.row_number, repeat.reason) == (5, "duplicate: same number as row 3 of this file")


def test_a_number_already_in_the_campaign_repeated_in_one_batch(
    database: Database, tmp_path: Path
) -> None:
    """The first of the repeats is a duplicate of the earlier import, the others of that first
    row; a suppressed number and its repeat in the same batch are one suppressed contact."""
    campaign_id = campaign(database)
    first = run(database, write(tmp_path, HEADER + "(212) 555-0101,A,B\n"))
    with database.write() as connection:
        connection.execute(
            insert(suppressions).values(
                phone="+14155550102", campaign_id=None, source="test", created_at=NOW
            )
        )
    second = run(
        database,
        write(
            tmp_path,
            HEADER
            + "(646) 555-0104,C,D\n212-555-0101,E,F\n+1 212 555 0101,G,H\n"
            + "(415) 555-0102,I,J\n415.555.0102,K,L\n(646) 555-0104,M,N\n",
            "more.csv",
        ),
    )
    assert counts(second) == (6, 1, 4, 1, 0)
    with database.read() as connection:
        assert [(r.row_number, r.reason) for r in list_rejects(connection, second.import_id)] == [
            (2, f"duplicate: already in the campaign (row 1 of import #{first.import_id})"),
            (3, "duplicate: same number as row 2 of this file"),
            (5, "duplicate: same number as row 4 of this file"),
            (6, "duplicate: same number as row 1 of this file"),
        ]
    assert [(r["phone"], r["state"], r["source_row"]) for r in stored(database, campaign_id)] == [
        ("+12125550101", ContactState.PENDING, 1),
        ("+16465550104", ContactState.PENDING, 1),
        ("+14155550102", ContactState.SUPPRESSED, 4),
    ]


def test_contacts_times_are_stored_as_every_other_time(database: Database, tmp_path: Path) -> None:
    """The loader hands times to the driver itself: in the database they must compare equal to the
    import's start, which SQLAlchemy wrote (on SQLite, times are text compared as text)."""
    campaign_id = campaign(database)
    summary = run(database, write(tmp_path, HEADER + "(212) 555-0101,A,B\n"))
    with database.read() as connection:
        same = connection.execute(
            select(
                contacts.c.created_at == imports.c.started_at,
                contacts.c.updated_at == imports.c.started_at,
                contacts.c.next_attempt_at == imports.c.started_at,
            )
            .join_from(contacts, imports, contacts.c.import_id == imports.c.id)
            .where(contacts.c.campaign_id == campaign_id, imports.c.id == summary.import_id)
        ).one()
    assert tuple(same) == (True, True, True)


def test_an_overlapping_file_adds_only_the_new_numbers(database: Database, tmp_path: Path) -> None:
    campaign_id = campaign(database)
    run(database, write(tmp_path, HEADER + "(212) 555-0101,A,B\n(415) 555-0102,C,D\n"))
    summary = run(
        database,
        write(tmp_path, HEADER + "(415) 555-0102,C,D\n(312) 555-0103,E,F\n", "next.csv"),
    )
    assert counts(summary) == (2, 1, 1, 0, 0)
    assert len(stored(database, campaign_id)) == 3


def test_options_choose_the_columns_and_the_region(database: Database, tmp_path: Path) -> None:
    campaign_id = campaign(database)
    path = write(
        tmp_path,
        "Home Phone,Mobile Number,first_name,appointment\n(212) 555-0101,020 7946 0111,A,B\n",
    )
    summary = run(database, path, phone_column="mobile_number", region="gb")
    assert counts(summary) == (1, 1, 0, 0, 0)
    (row,) = stored(database, campaign_id)
    assert row["phone"] == "+442079460111"
    assert row["fields"] == {"Home Phone": "(212) 555-0101", "first_name": "A", "appointment": "B"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("tel,first_name,appointment", "+12125550101"),
        ("Phone Number,first_name,appointment", "+12125550101"),
        ("to,mobile,first_name,appointment", "+14155550102"),  # mobile comes before to
    ],
)
def test_the_phone_column_is_found_by_name(
    database: Database, tmp_path: Path, header: str, expected: str
) -> None:
    campaign_id = campaign(database)
    row = "(212) 555-0101,A,B" if header.count(",") == 2 else "(212) 555-0101,(415) 555-0102,A,B"
    run(database, write(tmp_path, f"{header}\n{row}\n"))
    assert [r["phone"] for r in stored(database, campaign_id)] == [expected]


def failed(database: Database, path: Path, **options: Any) -> str:
    """Import a file that cannot be imported; checks that nothing is left and returns the error."""
    campaign_id = campaign(database)
    with pytest.raises(ImportFailed) as raised:
        run(database, path, **options)
    assert stored(database, campaign_id) == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no rejects file
    with database.read() as connection:
        (recorded,) = list_imports(connection, campaign_id)
        assert list_rejects(connection, recorded.id) == []
    assert recorded.status is ImportStatus.FAILED
    assert recorded.error == str(raised.value)
    assert recorded.counts == ImportCounts()
    assert recorded.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        (
            "mobile phone,first_name,appointment\n(212) 555-0101,A,B\n",
            {},
            "line 1: no phone column: the header has mobile phone, first_name, appointment; "
            "name the column with --phone-column (or call it phone, phone_number, mobile, msisdn)",
        ),
        (
            "phone,first_name\n(212) 555-0101,A\n",
            {},
            "line 1: the campaign's message needs the column 'appointment', and the header has "
            "phone, first_name",
        ),
        (
            HEADER + "(212) 555-0101,A,B\n",
            {"tz_column": "zone"},
            "line 1: there is no column 'zone'; the header has phone, first_name, appointment",
        ),
        (
            HEADER + "(212) 555-0101,A,B\n",
            {"phone_column": "cell"},
            "line 1: there is no column 'cell'; the header has phone, first_name, appointment",
        ),
    ],
)
def test_header_problems_fail_the_import(
    database: Database, tmp_path: Path, text: str, options: dict[str, str], expected: str
) -> None:
    path = write(tmp_path, text)
    assert failed(database, path, **options) == f"{path} {expected}"


def test_a_bad_line_late_in_the_file_undoes_every_batch_before_it(
    database: Database, tmp_path: Path
) -> None:
    """Several batches are loaded (and a rejects file begun) before the error is found."""
    good = "".join(f"(212) 555-01{n:02d},A,B\n" for n in range(10))
    path = write(tmp_path, (HEADER + "n/a,A,B\n" + good).encode() + b"(212) 555-0199,Jos\xe9,B\n")
    offset = path.read_bytes().index(b"\xe9")
    message = failed(database, path, batch_rows=2, workers=1)
    assert message == (
        f"{path} line 13: bytes are not valid UTF-8 (byte 0xe9 at offset {offset}); "
        "try --encoding cp1252 or --encoding latin-1"
    )


def test_an_unterminated_quote_fails_the_import(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '(212) 555-0101,"A,B\n(212) 555-0102,C,D\n')
    assert failed(database, path).endswith(
        'line 2: a quoted field starting in this row is never closed (its closing " is missing)'
    )


def test_many_batches_in_worker_processes(database: Database, tmp_path: Path) -> None:
    """Batches cross the worker pool and the writer thread in order; duplicates span batches."""
    campaign_id = campaign(database)
    numbers = [f"(212) 555-01{n:02d}" for n in range(30)]
    lines = [f"{number},A,B" for number in numbers] + ["212.555.0100,again,B", "n/a,A,B"]
    progress: list[tuple[int, int]] = []
    path = write(tmp_path, HEADER + "\n".join(lines) + "\n")
    summary = import_contacts(
        database,
        "spring",
        path,
        ImportOptions(batch_rows=4, workers=2),
        lambda rows, read: progress.append((rows, read)),
    )
    assert counts(summary) == (32, 30, 1, 0, 1)
    assert [r["source_row"] for r in stored(database, campaign_id)] == list(range(1, 31))
    with database.read() as connection:
        duplicate, rejected = list_rejects(connection, summary.import_id)
    assert duplicate.reason == "duplicate: same number as row 1 of this file"
    assert rejected.reason == "phone: not a phone number"
    assert [rows for rows, _ in progress] == [4, 8, 12, 16, 20, 24, 28, 32]
    assert progress[-1][1] == path.stat().st_size


def test_contacts_are_numbered_in_file_order(database: Database, tmp_path: Path) -> None:
    """PostgreSQL copies each batch in phone order; the ids still follow the file, within a batch
    and across batches and imports, so the first contacts by id are the file's first rows."""
    campaign_id = campaign(database)
    numbers = [f"(212) 555-{n:04d}" for n in (9, 3, 7, 1, 8, 2, 6, 4, 5)]
    first = write(tmp_path, HEADER + "".join(f"{n},A,B\n" for n in numbers[:6]))
    assert counts(run(database, first, batch_rows=4, workers=1)) == (6, 6, 0, 0, 0)
    more = write(tmp_path, HEADER + "".join(f"{n},A,B\n" for n in numbers[6:]), "more.csv")
    assert counts(run(database, more, workers=1)) == (3, 3, 0, 0, 0)
    with database.read() as connection:
        by_id = connection.execute(
            select(contacts.c.phone)
            .where(contacts.c.campaign_id == campaign_id)
            .order_by(contacts.c.id)
        ).scalars()
        assert list(by_id) == [f"+1212555{n[-4:]}" for n in numbers]


def test_a_file_with_only_a_header_imports_nothing(database: Database, tmp_path: Path) -> None:
    campaign(database)
    summary = run(database, write(tmp_path, HEADER))
    assert counts(summary) == (0, 0, 0, 0, 0)
    assert summary.nothing_new
    assert summary.rejects_file is None


def test_a_cancelled_campaign_takes_no_contacts(database: Database, tmp_path: Path) -> None:
    campaign(database)
    with database.write() as connection:
        set_status(connection, get_campaign(connection, "spring"), CampaignStatus.CANCELLED)
    with pytest.raises(InvalidTransition, match="campaign 'spring' is cancelled"):
        run(database, write(tmp_path, HEADER + "(212) 555-0101,A,B\n"))


def test_the_rejects_file_can_go_elsewhere_but_not_over_the_input(
    database: Database, tmp_path: Path
) -> None:
    campaign(database)
    path = write(tmp_path, HEADER + "n/a,A,B\n")
    elsewhere = tmp_path / "out" / "left-out.csv"
    elsewhere.parent.mkdir()
    assert run(database, path, rejects_path=elsewhere).rejects_file == elsewhere
    assert rejects_file(elsewhere)[0]["reason"] == "phone: not a phone number"
    with pytest.raises(ValidationError, match="would overwrite the input file"):
        run(database, path, rejects_path=path)


def test_an_unwritable_rejects_file_fails_the_import(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "(212) 555-0101,A,B\nn/a,A,B\n")
    nowhere = tmp_path / "missing" / "x.csv"
    message = failed(database, path, rejects_path=nowhere)
    assert message.startswith(f"cannot write the rejects file {nowhere}: No such file")


def test_audio_url_column_values_must_be_urls(database: Database, tmp_path: Path) -> None:
    campaign_id = campaign(database, message=Message(MessageKind.AUDIO_URL_COLUMN, "audio"))
    path = write(
        tmp_path,
        "phone,audio\n"
        "(212) 555-0101,https://example.com/a.mp3\n"
        "(212) 555-0102,ftp://example.com/b.mp3\n"
        "(212) 555-0103,\n",
    )
    summary = run(database, path)
    assert counts(summary) == (3, 1, 0, 0, 2)
    assert [r["phone"] for r in stored(database, campaign_id)] == ["+12125550101"]
    with database.read() as connection:
        reasons: Sequence[str] = [r.reason for r in list_rejects(connection, summary.import_id)]
    assert reasons == [
        "audio: the audio URL 'ftp://example.com/b.mp3' is not an http(s) URL with a host",
        "audio: missing, and the message needs it",
    ]


def test_ids_follow_the_file_when_the_sequence_skips(database: Database, tmp_path: Path) -> None:
    """PostgreSQL: a sequence whose values are not consecutive (here, a step of 3) still numbers
    the contacts in file order."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL numbers contacts from a sequence; SQLite in insertion order")
    campaign_id = campaign(database)
    with database.write() as connection:
        connection.exec_driver_sql("ALTER SEQUENCE contacts_id_seq INCREMENT BY 3")
    numbers = [f"(212) 555-{n:04d}" for n in (5, 1, 4, 2, 3)]
    path = write(tmp_path, HEADER + "".join(f"{n},A,B\n" for n in numbers))
    assert counts(run(database, path, workers=1)) == (5, 5, 0, 0, 0)
    with database.read() as connection:
        rows = connection.execute(
            select(contacts.c.id, contacts.c.phone)
            .where(contacts.c.campaign_id == campaign_id)
            .order_by(contacts.c.id)
        ).all()
    assert [phone for _, phone in rows] == [f"+1212555{n[-4:]}" for n in numbers]
    assert [b.id - a.id for a, b in pairwise(rows)] == [3, 3, 3, 3]


@pytest.mark.parametrize("set_entries", [LISTED_SET_ENTRIES, 0])
def test_numbers_listed_while_the_import_runs_are_suppressed_in_later_batches(
    database: Database, set_entries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader reads the do-not-call list into a set once; an entry added after that (here in
    the same transaction, as another session's would be seen) counts from the next batch on.
    With more entries than the set takes (limit 0 here), every number is looked up."""
    monkeypatch.setattr("campaigner.store.contacts.LISTED_SET_ENTRIES", set_entries)
    campaign_id = campaign(database)

    def row(source_row: int, phone: str) -> NewContact:
        return (source_row, phone, phone, "{}", "", "America/New_York", "number")

    def listed(connection: Connection, phone: str) -> None:
        connection.execute(
            insert(suppressions).values(phone=phone, campaign_id=None, source="t", created_at=NOW)
        )

    with database.write() as connection:
        listed(connection, "+12125550101")
        import_id = start_import(connection, campaign_id, "x.csv", [], NOW)
        with contact_loader(connection, campaign_id, import_id, NOW) as loader:
            loader.load([row(1, "+12125550101"), row(2, "+12125550102")])
            loader.settle()
            listed(connection, "+12125550103")
            loader.load([row(3, "+12125550103"), row(4, "+12125550104")])
        assert (loader.imported, loader.suppressed) == (2, 2)
        states = dict(
            connection.execute(
                select(contacts.c.phone, contacts.c.state).where(
                    contacts.c.campaign_id == campaign_id
                )
            ).all()
        )
    assert states == {
        "+12125550101": ContactState.SUPPRESSED,
        "+12125550102": ContactState.PENDING,
        "+12125550103": ContactState.SUPPRESSED,
        "+12125550104": ContactState.PENDING,
    }


@pytest.mark.parametrize("campaign_had_contacts", [False, True])
def test_a_batch_finds_the_numbers_of_every_batch_before_it(
    database: Database, campaign_had_contacts: bool
) -> None:
    """Batches loaded one after another, never waiting for the writes: a number of the batch just
    before (on PostgreSQL its write waits until this batch's look-ups have run) or of one before
    that is a duplicate, of this import's row. What the caller hands over with `then` after a
    batch runs once that batch is in the table. With contacts in the campaign already, every
    number is looked up; without, only those this import may have loaded."""
    campaign_id = campaign(database)

    def row(source_row: int, phone: str) -> NewContact:
        return (source_row, phone, phone, "{}", "", "America/New_York", "number")

    with database.write() as connection:
        if campaign_had_contacts:
            earlier = start_import(connection, campaign_id, "earlier.csv", [], NOW)
            with contact_loader(connection, campaign_id, earlier, NOW) as loader:
                loader.load([row(1, "+12125550100")])
        import_id = start_import(connection, campaign_id, "x.csv", [], NOW)
        seen: list[int] = []

        def count() -> None:
            seen.append(
                connection.execute(
                    select(func.count()).where(contacts.c.import_id == import_id)
                ).scalar_one()
            )

        with contact_loader(connection, campaign_id, import_id, NOW) as loader:
            found = [
                loader.load([row(1, "+12125550101"), row(2, "+12125550102")]),
                loader.then(count),
                loader.load([row(3, "+12125550102"), row(4, "+12125550103")]),
                loader.then(count),
                loader.load(
                    [row(5, "+12125550101"), row(6, "+12125550103"), row(7, "+12125550100")]
                ),
                loader.then(count),
            ][::2]
    assert seen == [2, 3, 3 if campaign_had_contacts else 4]
    assert found == [
        [],
        [Duplicate(3, import_id, 2)],
        [Duplicate(5, import_id, 1), Duplicate(6, import_id, 4)]
        + ([Duplicate(7, earlier, 1)] if campaign_had_contacts else []),
    ]
    phones = ["+12125550101", "+12125550102", "+12125550103"]
    stored_phones = (
        ["+12125550100", *phones] if campaign_had_contacts else [*phones, "+12125550100"]
    )
    assert [r.phone for r in stored(database, campaign_id)] == stored_phones


def test_a_number_added_behind_the_loaders_back_fails_the_load(database: Database) -> None:
    """The unique (campaign, phone) constraint is the last word. A contact added after the
    loader's look-ups were set up (here in the same transaction, as another session's could be)
    makes the batch that repeats it fail, the rows before it in the same statement included, and
    the transaction rolled back leaves nothing of the import."""
    campaign_id = campaign(database)

    def row(source_row: int, phone: str) -> NewContact:
        return (source_row, phone, phone, "{}", "", "America/New_York", "number")

    def load() -> None:
        with database.write() as connection:
            import_id = start_import(connection, campaign_id, "x.csv", [], NOW)
            with contact_loader(connection, campaign_id, import_id, NOW) as loader:
                loader.load([row(1, "+12125550101"), row(2, "+12125550102")])
                loader.settle()
                connection.execute(
                    insert(contacts).values(
                        campaign_id=campaign_id,
                        phone="+12125550104",
                        phone_raw="+12125550104",
                        fields={},
                        timezone="America/New_York",
                        timezone_source="number",
                        state=ContactState.PENDING.value,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
                loader.load([row(3, "+12125550103"), row(4, "+12125550104")])

    with pytest.raises((sqlite_driver.IntegrityError, psycopg.IntegrityError)):
        load()
    with database.read() as connection:
        assert connection.execute(select(func.count()).select_from(contacts)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(imports)).scalar() == 0


def test_every_contact_gets_its_own_values_and_those_of_the_import(database: Database) -> None:
    """1,500 rows: several INSERT statements on SQLite (the import's values are bound once per
    statement), one COPY on PostgreSQL; one number is on the do-not-call list."""
    campaign_id = campaign(database)
    phones = [f"+1212555{n:04d}" for n in range(1500)]
    with database.write() as connection:
        connection.execute(
            insert(suppressions).values(
                phone=phones[1234], campaign_id=None, source="t", created_at=NOW
            )
        )
        import_id = start_import(connection, campaign_id, "x.csv", ["n"], NOW)
        with contact_loader(connection, campaign_id, import_id, NOW) as loader:
            loader.load(
                [
                    (
                        n + 1,
                        phone,
                        f"raw {n}",
                        f'{{"n":"{n}"}}',
                        f'"{n}"',
                        "America/Chicago",
                        "column",
                    )
                    for n, phone in enumerate(phones)
                ]
            )
    rows = stored(database, campaign_id)
    assert [
        (r.source_row, r.phone, r.phone_raw, r.fields, r.fields_csv, r.timezone, r.timezone_source)
        for r in rows
    ] == [
        (n + 1, phone, f"raw {n}", {"n": str(n)}, f'"{n}"', "America/Chicago", "column")
        for n, phone in enumerate(phones)
    ]
    assert {(r.campaign_id, r.import_id, r.attempts, r.created_at, r.updated_at) for r in rows} == {
        (campaign_id, import_id, 0, NOW, NOW)
    }
    assert [(r.state, r.next_attempt_at) for r in rows] == [
        (ContactState.SUPPRESSED, None) if n == 1234 else (ContactState.PENDING, NOW)
        for n in range(1500)
    ]
