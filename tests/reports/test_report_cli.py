"""`campaigner report` and `campaigner status` as a user types them: options, errors, output
files, filters, escaping in HTML, the response breakdown, and `status --watch`."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from attempts_helpers import local_time
from db_helpers import db_option
from reports_helpers import (
    NAME,
    SUPPRESSED,
    cli,
    import_samples,
    make_campaign,
    read_csv,
    read_jsonl,
    read_page,
)
from sqlalchemy import Connection, DateTime, insert, literal, select, update
from sqlalchemy.engine import URL

from campaigner.db import Database
from campaigner.db.schema import attempts, campaigns, contacts
from campaigner.importer import ImportOptions, import_contacts
from campaigner.reports import copy
from campaigner.reports.cells import utc_text
from campaigner.reports.exports import (
    Format,
    attempt_rows,
    contact_rows,
    copy_export,
    export,
    neutralise,
    sqlite_export,
    write_csv,
)
from campaigner.reports.queries import Filters, field_names, seconds_text, text_cell, timeline
from campaigner.store.campaigns import get_campaign
from campaigner.store.suppressions import add_suppressions

CALLED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 10:00 in New York
HOSTILE_REASON = '<script>alert("x")</script> & =cmd'


def _called(database: Database, phone: str, outcome: str, reason: str, dtmf: str | None) -> None:
    """One finished call to `phone`, recorded as the dialer and the receiver would."""
    with database.write() as connection:
        contact_id, campaign_id, zone = connection.execute(
            select(contacts.c.id, contacts.c.campaign_id, contacts.c.timezone).where(
                contacts.c.phone == phone
            )
        ).one()
        connection.execute(
            insert(attempts).values(
                contact_id=contact_id,
                campaign_id=campaign_id,
                attempt_number=1,
                provider="enablex",
                correlation_key=f"key-{contact_id}",
                provider_call_id=f"call-{contact_id}",
                progress="ended",
                requested_at=CALLED,
                requested_local=local_time(zone, CALLED),
                answered_at=CALLED + timedelta(seconds=5) if outcome == "delivered" else None,
                ended_at=CALLED + timedelta(seconds=35),
                outcome=outcome,
                provider_reason=reason,
                dtmf=dtmf,
            )
        )
        connection.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(
                state=outcome,
                attempts=1,
                last_outcome=outcome,
                response="confirmed" if dtmf == "1" else None,
                responded_at=CALLED + timedelta(seconds=30) if dtmf == "1" else None,
            )
        )


@pytest.fixture
def called(database: Database, database_url: URL, tmp_path: Path) -> URL:
    """The sample campaign with two calls made: one delivered (key 1 pressed), one failed."""
    make_campaign(database)
    import_samples(database, tmp_path)
    with database.write() as connection:
        connection.execute(
            update(campaigns).values(response_keys={"1": "confirmed", "2": "cancelled"})
        )
    _called(database, "+12125550150", "delivered", "playfinished", "1")
    _called(database, "+12125550151", "failed", HOSTILE_REASON, None)
    return database_url


def test_neutralise_follows_owasp() -> None:
    for text in ["=1+1", "+1 at noon", "-2", "@SUM(A1)", "\tx", "\rx", "\0x"]:
        assert neutralise(text) == "'" + text
    for text in ["Maria", "", "'=already text", "1+1", " =spaced"]:
        assert neutralise(text) == text


def test_the_database_neutralises_as_python_does(database: Database) -> None:
    values = ["=1+1", "+1", "-2", "@x", "\tx", "\rx", "?x", "A", "Maria", "~", "été", "1", "", "'="]
    if database.is_sqlite:
        values.append("\0x")  # PostgreSQL text cannot hold NUL
    with database.read() as connection:
        found = [
            connection.execute(select(text_cell(connection, literal(value), True))).scalar_one()
            for value in values
        ]
    assert found == [neutralise(value) for value in values]


def test_a_contact_row_has_its_calls_times_in_utc_and_local_time(called: URL) -> None:
    rows = {row["phone"]: row for row in read_csv(cli(called, "report", NAME).output).rows}
    row = rows["+12125550150"]
    assert row["first_call_utc"] == "2026-11-20T15:00:00Z"
    assert row["first_call_local"] == "2026-11-20T10:00:00-05:00"
    assert row["answered_utc"] == "2026-11-20T15:00:05Z"
    assert row["ended_utc"] == "2026-11-20T15:00:35Z"
    assert row["duration_s"] == "30"
    assert (row["dtmf"], row["response"]) == ("1", "confirmed")
    assert row["responded_utc"] == "2026-11-20T15:00:30Z"
    assert row["first_provider_call_id"] == row["last_provider_call_id"]
    assert row["last_provider_call_id"].startswith("call-")
    assert rows["+12125550151"]["provider_reason"] == HOSTILE_REASON  # no formula start
    pending = rows["+12125550152"]
    assert (pending["state"], pending["attempts"], pending["first_call_utc"]) == (
        "pending",
        "0",
        "",
    )


def test_filters_choose_the_rows(called: URL) -> None:
    def states(*options: str) -> list[str]:
        return [row["state"] for row in read_csv(cli(called, "report", NAME, *options).output).rows]

    assert states("--outcome", "delivered") == ["delivered"]
    assert sorted(states("--outcome", "failed,delivered")) == ["delivered", "failed"]
    assert set(states("--outcome", "rejected")) == {"rejected"}
    assert sorted(states("--since", "2026-11-20T09:00-05:00")) == ["delivered", "failed"]
    assert states("--since", "2026-11-20T10:00:01-05:00") == []
    assert sorted(states("--until", "2026-11-21")) == ["delivered", "failed"]
    assert states("--since", "2026-11-21") == []
    calls = read_csv(cli(called, "report", NAME, "--attempts", "--outcome", "failed").output)
    assert [row["phone"] for row in calls.rows] == ["+12125550151"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--outcome", "deliverd"], "--outcome deliverd: not a state (one of delivered"),
        (["--attempts", "--outcome", "suppressed"], "--outcome suppressed: not a call outcome"),
        (["--since", "yesterday"], "--since 'yesterday': not a time"),
        (["--until", "2026-11-20T10:00"], "--until '2026-11-20T10:00' has no offset"),
        (["--format", "json", "--excel"], "--excel applies to --format csv only"),
        (["--format", "html", "--attempts"], "--format html reports the whole campaign"),
        (["--format", "xml"], "'xml' is not one of"),
    ],
)
def test_bad_options_are_one_line_errors(
    database_url: URL, options: list[str], message: str
) -> None:
    result = cli(database_url, "report", NAME, *options)
    assert result.exit_code == 2
    assert message in result.output


def test_an_unknown_campaign_is_an_error(database_url: URL) -> None:
    for command in (["report", "nope"], ["status", "nope"]):
        result = cli(database_url, *command)
        assert result.exit_code == 1
        assert "no campaign named 'nope'" in result.output


def test_out_writes_the_file_whole_and_excel_adds_a_bom(called: URL, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    result = cli(called, "report", NAME, "--out", str(out), "--excel")
    assert result.exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfphone,phone_raw,state,")
    assert "wrote 30 rows to" in result.output  # 12 contacts, 15 rejected and 3 duplicate rows
    plain = cli(called, "report", NAME).output
    assert not plain.startswith("\ufeff")
    assert out.read_bytes().decode("utf-8-sig").replace("\r\n", "\n") == plain  # as CliRunner
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".report")) == []


def test_out_to_a_named_pipe_writes_into_the_pipe_and_keeps_it(called: URL, tmp_path: Path) -> None:
    """A pipe or a device (/dev/stdout) is written straight to: renaming a temporary file over it,
    as for a file, would replace the pipe with an ordinary file. (The report fits the pipe's
    buffer, so the reading end is opened first and read after.)"""
    pipe = tmp_path / "report.pipe"
    os.mkfifo(pipe)
    reading = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = cli(called, "report", NAME, "--out", str(pipe))
        assert result.exit_code == 0, result.output
        received = os.read(reading, 1 << 16)
    finally:
        os.close(reading)
    assert received.decode().replace("\r\n", "\n") == cli(called, "report", NAME).output
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_a_failed_report_leaves_the_previous_file_alone(database_url: URL, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    out.write_text("previous")
    result = cli(database_url, "report", "nope", "--out", str(out))
    assert result.exit_code == 1
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_the_html_report_escapes_what_strangers_wrote(called: URL) -> None:
    html = cli(called, "report", NAME, "--format", "html").output
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; =cmd" in html
    page = read_page(html)
    reasons = {(reason, outcome) for reason, outcome, _ in page.tables["reasons"]}
    assert (HOSTILE_REASON, "failed") in reasons  # escaped in the page, text again when read
    assert 'id="chart-responses"' in html  # the campaign has response keys
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "<link" not in html
    assert "<img" not in html


def test_status_json_of_every_campaign(called: URL) -> None:
    documents = json.loads(cli(called, "status", "--json").output)
    assert [d["campaign"] for d in documents] == [NAME]
    assert documents[0]["responses"] == {"confirmed": 1}
    assert documents[0]["contacts"] == 12
    assert documents[0]["delivery_rate"] == 0.5


def test_status_watch_prints_again_when_not_on_a_terminal(called: URL) -> None:
    command = [sys.executable, "-c", "from campaigner.cli import main; main()", "status", NAME]
    child = subprocess.Popen(
        [*command, "--watch", "--interval", "0.5", "--db", db_option(called)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        seen = 0
        for line in child.stdout:
            if line.startswith("campaign "):
                seen += 1
            if seen == 2:
                break
        assert seen == 2
    finally:
        child.terminate()
        child.wait(timeout=30)
        child.stdout.close()


@pytest.mark.parametrize("per_attempt", [False, True])
def test_postgresql_copy_writes_what_the_python_path_writes(
    database: Database, called: URL, per_attempt: bool
) -> None:
    if database.is_sqlite:
        pytest.skip("COPY is PostgreSQL's: SQLite writes its own lines (tested below)")
    with database.read() as connection:
        campaign = get_campaign(connection, NAME)
        assert copy.usable(connection)
        copied, python = io.StringIO(), io.StringIO()
        counted = export(connection, campaign, Format.CSV, copied, per_attempt=per_attempt)
        build = attempt_rows if per_attempt else contact_rows
        written = write_csv(build(connection, campaign, Filters(), neutralise=True), python)
    assert counted == written == (2 if per_attempt else 30)
    assert read_csv(copied.getvalue()) == read_csv(python.getvalue())


def test_the_campaign_s_own_do_not_call_reason_comes_before_the_global_one(
    database: Database, called: URL
) -> None:
    with database.write() as connection:
        campaign = get_campaign(connection, NAME)
        add_suppressions(connection, {SUPPRESSED: "asked this clinic"}, campaign.id, "manual")
    for fmt in ("csv", "jsonl"):
        text = cli(called, "report", NAME, "--format", fmt).output
        rows = read_csv(text).rows if fmt == "csv" else read_jsonl(text)
        (row,) = [row for row in rows if row["phone"] == SUPPRESSED]
        assert row["reason"] == "asked this clinic"


def test_durations_round_halves_away_from_zero(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite's durations are julianday floats: no exact halves")
    spans = [0.0, 2.5, 2.499999, -2.5, -2.499999, 3599.5, 0.000001, 86400.5, -86400.5]
    with database.read() as connection:
        found = [
            connection.execute(
                select(
                    seconds_text(
                        connection, literal(CALLED), literal(CALLED + timedelta(seconds=s))
                    )
                )
            ).scalar_one()
            for s in spans
        ]
    assert found == [0, 3, 2, -3, -2, 3600, 0, 86401, -86401]


def test_postgresql_writes_a_time_to_the_second_as_python_does(database: Database) -> None:
    """The COPY's time cells cut the fraction off (never round up), whatever it is, for any
    time after 2000's first second (`cells._second_text`)."""
    if database.is_sqlite:
        pytest.skip("SQLite's time cells are its stored text, cut")
    moments = [
        CALLED + timedelta(microseconds=fraction)
        for fraction in (0, 1, 499_999, 500_000, 500_001, 999_999)
    ] + [
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]
    with database.read() as connection:
        found = [
            connection.execute(
                select(utc_text(connection, literal(moment, DateTime(timezone=True))))
            ).scalar_one()
            for moment in moments
        ]
    assert found == [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in moments]


def test_calls_are_counted_in_the_quarter_hour_and_local_hour_they_began(
    database: Database, called: URL
) -> None:
    """14:59:59.6 UTC is 09:59 in New York: hour 9, never rounded into hour 10."""
    moment = CALLED - timedelta(milliseconds=400)
    with database.write() as connection:
        connection.execute(
            update(attempts)
            .where(attempts.c.provider_reason == "playfinished")
            .values(requested_at=moment, requested_local=local_time("America/New_York", moment))
        )
    page = read_page(cli(called, "report", NAME, "--format", "html").output)
    hours = {row[0]: row[1:] for row in page.tables["local-hours"]}
    assert hours == {"09:00": ["1", "1", "100.0%"], "10:00": ["1", "0", "0.0%"]}
    with database.read() as connection:
        found = timeline(connection, get_campaign(connection, NAME).id)
    assert found.start is not None
    assert sorted(
        (found.start + found.step * index, dict(outcomes))
        for index, outcomes in found.buckets.items()
    ) == [
        (datetime(2026, 11, 20, 14, 59, 50, tzinfo=UTC), {"delivered": 1}),
        (datetime(2026, 11, 20, 15, 0, tzinfo=UTC), {"failed": 1}),
    ]


def test_csv_columns_with_quotes_and_backslashes_in_their_names(
    database: Database, database_url: URL, tmp_path: Path
) -> None:
    make_campaign(database)
    path = tmp_path / "odd.csv"
    path.write_text(
        'first_name,phone,appointment,"say ""hi""",back\\slash\n'
        "Ann,+12125550160,Monday,=HYPERLINK(1),plain\n",
        encoding="utf-8",
    )
    import_contacts(database, NAME, path, ImportOptions(region="US", workers=1))
    for fmt in ("csv", "jsonl"):
        text = cli(database_url, "report", NAME, "--format", fmt).output
        if fmt == "csv":
            (row,) = read_csv(text).rows
        else:
            (line,) = read_jsonl(text)
            row = line["fields"]
        quoted = "'=HYPERLINK(1)" if fmt == "csv" else "=HYPERLINK(1)"
        assert (row['say "hi"'], row["back\\slash"], row["first_name"]) == (quoted, "plain", "Ann")


def _python_csv(connection: Connection, filters: Filters) -> str:
    written = io.StringIO()
    campaign = get_campaign(connection, NAME)
    write_csv(contact_rows(connection, campaign, filters, neutralise=True), written)
    return written.getvalue()


@pytest.mark.parametrize("split_from", [1, 1_000_000], ids=["in two halves", "whole"])
def test_the_database_writes_the_csv_the_python_path_writes(
    database: Database, called: URL, tmp_path: Path, split_from: int
) -> None:
    """The CSV written by the database (SQLite's own lines, PostgreSQL's COPY; whole, or in two
    halves written at once) reads back as the rows built in Python, across a daylight
    saving change, in a zone at UTC's offset, on a local day before the UTC one and with each
    filter."""
    with database.write() as connection:
        connection.execute(
            update(contacts)
            .where(contacts.c.phone == "+12125550152")
            .values(timezone="Europe/London")
        )
    _called(database, "+12125550152", "delivered", "playfinished", None)
    _called(database, "+14155550102", "no_answer", "noanswer", None)
    with database.write() as connection:
        # 05:30 UTC on 1 November 2026 is 01:30 EDT; 06:30 UTC is 01:30 EST.
        for phone, moment in [
            ("+12125550150", datetime(2026, 11, 1, 5, 30, 9, 999_999, tzinfo=UTC)),
            ("+12125550151", datetime(2026, 11, 1, 6, 30, 1, tzinfo=UTC)),
            ("+14155550102", datetime(2026, 11, 20, 3, 0, 5, tzinfo=UTC)),  # in Los Angeles
        ]:
            contact_id, zone = connection.execute(
                select(contacts.c.id, contacts.c.timezone).where(contacts.c.phone == phone)
            ).one()
            connection.execute(
                update(attempts)
                .where(attempts.c.contact_id == contact_id)
                .values(requested_at=moment, requested_local=local_time(zone, moment))
            )
    local_times: set[str] = set()
    for filters in [
        Filters(),
        Filters(states=frozenset({"failed", "suppressed", "rejected"})),
        Filters(since=datetime(2026, 11, 1, 6, tzinfo=UTC)),
        Filters(until=datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ]:
        path = tmp_path / "fast.csv"
        with database.read() as connection, path.open("w", encoding="utf-8", newline="") as out:
            campaign = get_campaign(connection, NAME)
            names = field_names(connection, campaign.id)
            if database.is_sqlite:
                counted = sqlite_export(connection, campaign, names, out, filters, split_from)
            else:
                counted = copy_export(connection, campaign, out, False, filters, split_from)
            python = _python_csv(connection, filters)
        fast = read_csv(path.read_text(encoding="utf-8"))
        assert fast == read_csv(python)
        assert counted == len(fast.rows) > 0
        local_times.update(row["last_call_local"] for row in fast.rows)
    assert local_times >= {
        "2026-11-01T01:30:09-04:00",
        "2026-11-01T01:30:01-05:00",
        "2026-11-20T15:00:00+00:00",
        "2026-11-19T19:00:05-08:00",
    }


@pytest.mark.parametrize("target", ["file", "pipe", "buffer", "memory"])
def test_sqlite_s_second_half_follows_the_first_in_any_output(
    database: Database, called: URL, tmp_path: Path, target: str
) -> None:
    """The second process's lines are appended by sendfile to a file or a pipe, and through
    Python's buffers to a stream with no file descriptor."""
    if not database.is_sqlite:
        pytest.skip("SQLite's own lines")
    with database.read() as connection:
        campaign = get_campaign(connection, NAME)
        names = field_names(connection, campaign.id)
        expected = read_csv(_python_csv(connection, Filters()))
        if target == "file":
            path = tmp_path / "halves.csv"
            with path.open("w", encoding="utf-8", newline="") as out:
                counted = sqlite_export(connection, campaign, names, out, Filters(), 1)
            text = path.read_text(encoding="utf-8")
        elif target == "pipe":
            reading, writing = os.pipe()
            received: list[bytes] = []

            def read() -> None:
                with os.fdopen(reading, "rb") as pipe:
                    received.append(pipe.read())

            reader = threading.Thread(target=read)
            reader.start()
            with os.fdopen(writing, "w", encoding="utf-8", newline="") as out:
                counted = sqlite_export(connection, campaign, names, out, Filters(), 1)
            reader.join()
            text = received[0].decode()
        else:
            raw = io.BytesIO()
            stream = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out = stream if target == "buffer" else io.StringIO()
            counted = sqlite_export(connection, campaign, names, out, Filters(), 1)
            stream.flush()
            text = raw.getvalue().decode() if target == "buffer" else out.getvalue()
    assert read_csv(text) == expected
    assert counted == len(expected.rows) > 1
    assert "Zoë" in text  # SQLite's UTF-8 bytes, written as they are or decoded


def test_field_names_include_those_of_contacts_no_import_brought(
    database: Database, tmp_path: Path
) -> None:
    """Contacts with no import are looked for only when the imports' counts leave some out; one
    made directly in the database adds its own columns to the imports' ones."""
    make_campaign(database)
    import_samples(database, tmp_path)
    with database.read() as connection:
        campaign_id = get_campaign(connection, NAME).id
        imported = field_names(connection, campaign_id)
    assert "made_by_hand" not in imported
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with database.write() as connection:
        connection.execute(
            insert(contacts).values(
                campaign_id=campaign_id,
                phone="+12125550199",
                phone_raw="212 555 0199",
                fields={"made_by_hand": "yes"},
                timezone="America/New_York",
                timezone_source="default",
                state="pending",
                created_at=at,
                updated_at=at,
            )
        )
    with database.read() as connection:
        names = field_names(connection, campaign_id)
    assert "made_by_hand" in names
    assert [name for name in names if name != "made_by_hand"] == imported
