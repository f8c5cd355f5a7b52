"""A contact's CSV fields: recorded by its import in file order, stored as CSV cells on SQLite
(`rowcheck.csv_cells`), written as they are by its export when the import's columns begin the
report's, and worked out from the JSON otherwise (other headers, no import, PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from reports_helpers import NAME, cli, make_campaign, read_csv
from sqlalchemy import insert, select, update
from sqlalchemy.engine import URL

from campaigner.db import Database, downgrade, upgrade
from campaigner.db.migrate import alembic_config
from campaigner.db.schema import campaigns, contacts, imports
from campaigner.importer import ImportOptions, import_contacts
from campaigner.reports.exports import contact_rows, sqlite_export, write_csv
from campaigner.reports.queries import Filters, field_names
from campaigner.rowcheck import csv_cells
from campaigner.store.campaigns import get_campaign

# Values a CSV writer must quote, and some a spreadsheet would run as formulas.
AWKWARD = ["=1+2", 'say "hi"', "a,b", "two\nlines", "-x", "@y", "+1", "plain", "'=z"]
MONDAY = "Monday at 9"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _imported(database: Database, tmp_path: Path) -> None:
    """Three files: `first_name,phone,appointment,a` (which jsonb would order `a,first_name,
    appointment`) with a row too long (`_extra`), one whose columns begin it, one with them in
    another order and one more; then a contact with no import."""
    options = ImportOptions(region="US", workers=1)
    header = ["first_name", "phone", "appointment", "a"]
    rows = [[v, f"+1212555{n:04d}", MONDAY, AWKWARD[-1 - n]] for n, v in enumerate(AWKWARD)]
    rows += [["Al", "+12125559998", MONDAY, ""], ["Bo", "+12125559999", MONDAY, "x", "beyond"]]
    import_contacts(database, NAME, _write(tmp_path / "one.csv", header, rows), options)
    header = ["phone", "first_name", "appointment"]
    rows = [[f"+1312555{n:04d}", v, AWKWARD[n - 1]] for n, v in enumerate(AWKWARD)]
    import_contacts(database, NAME, _write(tmp_path / "two.csv", header, rows), options)
    header = ["appointment", "first_name", "phone", "other"]
    rows = [[v, f"m{n}", f"+1415555{n:04d}", v] for n, v in enumerate(AWKWARD)]
    import_contacts(database, NAME, _write(tmp_path / "three.csv", header, rows), options)
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with database.write() as connection:
        connection.execute(
            insert(contacts).values(
                campaign_id=get_campaign(connection, NAME).id,
                phone="+12125550199",
                phone_raw="212 555 0199",
                fields={"a": "=by hand", "made_by_hand": 'yes, "really"'},
                timezone="America/New_York",
                timezone_source="default",
                state="pending",
                created_at=at,
                updated_at=at,
            )
        )


def _python_csv(database: Database) -> str:
    written = io.StringIO()
    with database.read() as connection:
        campaign = get_campaign(connection, NAME)
        write_csv(contact_rows(connection, campaign, Filters(), neutralise=True), written)
    return written.getvalue()


def test_the_fields_are_in_file_order_and_written_as_the_python_path_writes_them(
    database: Database, database_url: URL, tmp_path: Path
) -> None:
    make_campaign(database)
    _imported(database, tmp_path)
    with database.read() as connection:
        names = field_names(connection, get_campaign(connection, NAME).id)
    assert names == [
        "first_name", "appointment", "a", "other", "made_by_hand", "phone", "_extra"
    ]  # fmt: skip
    text = cli(database_url, "report", NAME, "--format", "csv").output
    written = read_csv(text)
    assert written == read_csv(_python_csv(database))
    by_phone = {row["phone"]: row for row in written.rows}
    assert [by_phone[f"+1212555{n:04d}"]["first_name"] for n in range(4)] == [
        "'=1+2",
        'say "hi"',
        "a,b",
        "two\nlines",
    ]
    assert [by_phone["+12125550000"][name] for name in ("a", "other", "made_by_hand")] == [
        "'=z",
        "",
        "",
    ]
    assert (by_phone["+13125550001"]["appointment"], by_phone["+13125550001"]["a"]) == (
        "'=1+2",
        "",
    )
    assert by_phone["+14155550003"]["appointment"] == "two\nlines"
    assert by_phone["+12125550199"]["made_by_hand"] == 'yes, "really"'
    if database.is_sqlite:
        for split_from in (1, 1_000_000):
            out = io.StringIO()
            with database.read() as connection:
                campaign = get_campaign(connection, NAME)
                sqlite_export(connection, campaign, names, out, Filters(), split_from)
            assert out.getvalue() == text


def test_the_migration_fills_in_the_columns_and_cells_of_earlier_imports(
    database: Database, database_url: URL, tmp_path: Path
) -> None:
    """Imported before 0014, then upgraded: the imports' columns come from a contact's keys (on
    PostgreSQL in jsonb's order, the file's being lost), the cells in that order."""
    make_campaign(database)
    _imported(database, tmp_path)
    with database.read() as connection:
        recorded = dict(connection.execute(select(imports.c.id, imports.c.fields)).all())
        stored = connection.execute(
            select(contacts.c.id, contacts.c.fields_csv).order_by(contacts.c.id)
        ).all()
    before = cli(database_url, "report", NAME, "--format", "csv").output
    previous = ScriptDirectory.from_config(alembic_config()).get_revision("0014").down_revision
    assert isinstance(previous, str)
    downgrade(database, previous)
    upgrade(database)
    with database.read() as connection:
        filled = dict(connection.execute(select(imports.c.id, imports.c.fields)).all())
        rows = connection.execute(
            select(
                contacts.c.id, contacts.c.import_id, contacts.c.fields, contacts.c.fields_csv
            ).order_by(contacts.c.id)
        ).all()
    assert {key: sorted(value) for key, value in filled.items()} == {
        key: sorted(value) for key, value in recorded.items()
    }
    for _, import_id, fields, cells in rows:
        if import_id is None or not database.is_sqlite:
            assert cells is None  # PostgreSQL's COPY quotes each field itself
        else:
            assert cells == csv_cells([fields[name] for name in filled[import_id]])
    assert [(id_, cells) for id_, _, _, cells in rows] == stored
    after = cli(database_url, "report", NAME, "--format", "csv").output
    if database.is_sqlite:
        assert filled == recorded
        assert after == before
    else:
        assert read_csv(after).rows == read_csv(before).rows


@pytest.mark.parametrize(
    ("first", "second"),
    [(["phone"], ["phone", "first_name", "appointment"]), (["phone", "a"], ["phone", "a", "b"])],
)
def test_an_import_with_no_field_or_all_of_them(
    database: Database, database_url: URL, tmp_path: Path, first: list[str], second: list[str]
) -> None:
    """Stored cells of no field at all are padded to the report's columns as any others."""
    make_campaign(database)
    with database.write() as connection:
        connection.execute(update(campaigns).values(message="Hello."))
    options = ImportOptions(region="US", workers=1)
    rows = [["+12125550120", *(["=x"] * (len(first) - 1))]]
    import_contacts(database, NAME, _write(tmp_path / "a.csv", first, rows), options)
    rows = [["+12125550121", "=b", "c"]]
    import_contacts(database, NAME, _write(tmp_path / "b.csv", second, rows), options)
    text = cli(database_url, "report", NAME, "--format", "csv").output
    assert read_csv(text).header[-2:] == second[1:]
    assert read_csv(text) == read_csv(_python_csv(database))
