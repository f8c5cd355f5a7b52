"""`campaigner campaign ...` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import add_contact, run, states
from click.testing import CliRunner
from sqlalchemy import insert, select
from sqlalchemy.engine import URL

from campaigner.cli import main
from campaigner.db import Database
from campaigner.db.schema import campaigns, imports
from campaigner.model import CampaignStatus, ContactState, TimezoneSource
from campaigner.store.campaigns import get_campaign, set_status

CALLER = "+14155552671"
FRIDAY_1330_UTC = datetime(2026, 3, 13, 13, 30, tzinfo=UTC)
FRIDAY_ISO = "2026-03-13T13:30Z"


def create(url: URL, name: str = "spring", *extra: str) -> None:
    result = run(
        url,
        "campaign",
        "create",
        name,
        "--provider",
        "enablex",
        "--caller-id",
        CALLER,
        *(extra or ("--tts", "Hello {name}, see you on {day}.")),
    )
    assert result.exit_code == 0, result.output


def set_running(database: Database, name: str) -> None:
    with database.write() as connection:
        set_status(connection, get_campaign(connection, name), CampaignStatus.RUNNING)


def status_of(database: Database, name: str) -> CampaignStatus:
    with database.read() as connection:
        return get_campaign(connection, name).status


def test_create_stores_every_setting(database_url: URL) -> None:
    result = run(
        database_url,
        "campaign",
        "create",
        "spring",
        "--provider",
        "webex",
        "--caller-id",
        "020 7946 0018",
        "--region",
        "gb",
        "--ssml",
        "<speak>Hello {name}</speak>",
        "--voice",
        "female",
        "--language",
        "en-GB",
        "--cps",
        "2.5",
        "--max-in-flight",
        "4",
        "--max-attempts",
        "5",
        "--retry-delay",
        "busy=90s",
        "--retry-delay",
        "no_answer=1h30m",
        "--window",
        "22:00-02:00",
        "--days",
        "fri,sat",
    )
    assert result.exit_code == 0, result.output
    assert "created campaign 'spring' (draft)" in result.output
    assert "Europe/London (the only zone of region GB)" in result.output
    shown = json.loads(run(database_url, "campaign", "show", "spring", "--json").output)
    assert shown | {"created_at": None} == {
        "name": "spring",
        "provider": "webex",
        "status": "draft",
        "status_reason": None,
        "contacts": 0,
        "contacts_by_state": {state.value: 0 for state in ContactState},
        "created_at": None,
        "started_at": None,
        "finished_at": None,
        "caller_id": "+442079460018",
        "message": {
            "kind": "ssml",
            "body": "<speak>Hello {name}</speak>",
            "voice": "female",
            "language": "en-GB",
        },
        "calls_per_second": 2.5,
        "max_in_flight": 4,
        "max_attempts": 5,
        "retry_delays": {"busy": 90, "no_answer": 5400, "failed": 1800},
        "window": {"start": "22:00", "end": "02:00", "days": "fri,sat"},
        "default_region": "GB",
        "default_timezone": "Europe/London",
        "keys": {},
        "opt_out_key": None,
        "key_timeout": None,
        "replay_on_no_input": False,
        "notify_url": None,
        "imports": [],
    }


@pytest.mark.parametrize(
    ("options", "zone", "note"),
    [
        ([], "UTC", "no --region or --timezone given"),
        (["--region", "US"], "UTC", "region US has"),
        (["--region", "FR"], "Europe/Paris", "the only zone of region FR"),
        (["--region", "US", "--timezone", "America/Denver"], "America/Denver", "--timezone"),
    ],
)
def test_create_says_which_default_zone_it_chose(
    tmp_path: Path, options: list[str], zone: str, note: str
) -> None:
    arguments = ["--provider", "enablex", "--caller-id", CALLER, "--tts", "Hi", *options]
    result = CliRunner().invoke(
        main, ["campaign", "create", "c", *arguments, "--db", str(tmp_path / "c.db")]
    )
    assert result.exit_code == 0, result.output
    assert f"time zone for numbers without one of their own: {zone} (" in result.output
    assert note in result.output


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--provider", "sipgate"], "Invalid value for '--provider'"),
        (["--caller-id", "12"], "caller ID '12' is not"),
        (["--tts", None], "give exactly one message option"),
        (["--ssml", "<speak>x</speak>"], "give exactly one message option"),
        (["--tts", "Hello {name"], "message template is not valid"),
        (["--tts", "Hello {0}"], "is not a column name"),
        (["--tts", None, "--ssml", "Hello"], "an SSML message must start with <speak>"),
        (["--tts", None, "--audio-url", "ftp://host/a.wav"], "is not an http(s) URL"),
        (["--tts", None, "--audio-url", "http://host/a.wav"], "enablex fetches audio over HTTPS"),
        (["--provider", "fractel", "--tts", None, "--prompt", "p"], "fractel cannot play a prompt"),
        (["--provider", "fractel", "--caller-id", "+442079460018"], "presents only +1 caller IDs"),
        (["--voice", "robot"], "enablex has no voice 'robot'"),
        (["--cps", "0"], "calls per second must be above 0"),
        (["--cps", "-1"], "calls per second must be above 0"),
        (["--max-in-flight", "0"], "max calls in flight must be at least 1"),
        (["--max-attempts", "0"], "max attempts must be at least 1"),
        (["--retry-delay", "delivered=1m"], "OUTCOME one of busy, no_answer, failed"),
        (["--retry-delay", "busy"], "must look like OUTCOME=DURATION"),
        (["--retry-delay", "busy=soon"], "--retry-delay 'busy=soon': duration"),
        (["--retry-delay", "busy=1m", "--retry-delay", "busy=2m"], "gives busy twice"),
        (["--window", "09:00-09:00"], "is empty"),
        (["--window", "9am-5pm"], "is not a time like 09:00"),
        (["--days", "fri-mon"], "runs backwards"),
        (["--region", "XX"], "default region 'XX' is not a known region"),
        (["--timezone", "Mars/Olympus"], "'Mars/Olympus' is not a known IANA zone"),
        (["--tts-file", "missing.txt"], "does not exist"),
    ],
)
def test_create_refuses_bad_settings_up_front(
    tmp_path: Path, options: list[str | None], error: str
) -> None:
    base = ["--provider", "enablex", "--caller-id", CALLER, "--tts", "Hello {name}"]
    arguments = list(base)
    for option, value in zip(options[::2], options[1::2], strict=True):
        if option in base:
            where = arguments.index(option)
            del arguments[where : where + 2]
        if value is not None:
            arguments += [option, value]
    database = tmp_path / "c.db"
    result = CliRunner().invoke(
        main, ["campaign", "create", "c", *arguments, "--db", str(database)]
    )
    assert result.exit_code == 2
    assert error in result.stderr
    assert result.stdout == ""
    assert not database.exists()  # refused before the database was even opened


def test_create_reads_the_message_from_a_file(database_url: URL, tmp_path: Path) -> None:
    message = tmp_path / "message.txt"
    message.write_text("\ufeffHello {name},\nyour parcel arrives today.\n", encoding="utf-8")
    create(database_url, "parcel", "--tts-file", str(message))
    shown = json.loads(run(database_url, "campaign", "show", "parcel", "--json").output)
    assert shown["message"]["body"] == "Hello {name},\nyour parcel arrives today."


def test_create_refuses_a_name_taken(database_url: URL) -> None:
    create(database_url)
    result = run(database_url, "campaign", "create", "spring", "--provider", "enablex")
    assert result.exit_code == 2  # click: --caller-id is required
    result = run(
        database_url,
        *("campaign", "create", "spring", "--provider", "enablex", "--caller-id", CALLER),
        *("--tts", "Hi"),
    )
    assert result.exit_code == 1
    assert result.stderr == "error: a campaign named 'spring' already exists\n"


def test_list_counts_contacts_by_state(database_url: URL, database: Database) -> None:
    assert "no campaigns yet" in run(database_url, "campaign", "list").output
    create(database_url, "spring")
    create(database_url, "autumn")
    for number, state in [
        ("+12125550101", ContactState.PENDING),
        ("+12125550102", ContactState.PENDING),
        ("+12125550103", ContactState.IN_PROGRESS),
        ("+12125550104", ContactState.DELIVERED),
        ("+12125550105", ContactState.BUSY),
        ("+12125550106", ContactState.INVALID_NUMBER),
        ("+12125550107", ContactState.SUPPRESSED),
    ]:
        add_contact(database, "spring", number, state=state)
    result = run(database_url, "campaign", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == [
        *("NAME", "PROVIDER", "STATUS", "CONTACTS", "PENDING", "DELIVERED", "UNDELIVERED"),
        *("SUPPRESSED", "CANCELLED", "CREATED"),
    ]
    assert lines[1].split()[:9] == ["spring", "enablex", "draft", "7", "3", "1", "2", "1", "0"]
    assert lines[2].split()[:9] == ["autumn", "enablex", "draft", "0", "0", "0", "0", "0", "0"]
    listed = json.loads(run(database_url, "campaign", "list", "--json").output)
    assert [item["name"] for item in listed] == ["spring", "autumn"]
    assert listed[0]["contacts"] == 7
    assert listed[0]["contacts_by_state"]["in_progress"] == 1


def test_show_describes_settings_contacts_and_imports(
    database_url: URL, database: Database
) -> None:
    create(database_url, "spring", "--tts", "Hi {name}", "--days", "mon-wed,fri")
    add_contact(database, "spring", "+12125550101")
    add_contact(database, "spring", "+12125550102", state=ContactState.DELIVERED)
    with database.write() as connection:
        campaign_id = connection.execute(select(campaigns.c.id)).scalar_one()
        connection.execute(
            insert(imports).values(
                campaign_id=campaign_id,
                file_name="march.csv",
                file_sha256="0" * 64,
                started_at=datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
                finished_at=datetime(2026, 3, 2, 9, 16, tzinfo=UTC),
                rows_read=1200,
                imported=1150,
                duplicates=20,
                suppressed=10,
                rejected=20,
                status="completed",
            )
        )
    result = run(database_url, "campaign", "show", "spring")
    assert result.exit_code == 0
    output = result.output
    assert "window      09:00 to 20:00, Monday to Wednesday and Friday, in each contact's" in output
    assert "retry busy after 10m, no answer after 1h, failed after 30m" in output
    assert "contacts    2: pending 1, delivered 1" in output
    imported_line = next(line for line in output.splitlines() if "march.csv" in line)
    assert imported_line.split() == [
        *("march.csv", "completed", "1,200", "1,150", "20", "10", "20"),
        *("2026-03-02", "09:15", "UTC"),
    ]
    shown = json.loads(run(database_url, "campaign", "show", "spring", "--json").output)
    assert shown["imports"][0]["imported"] == 1150
    assert shown["imports"][0]["started_at"] == "2026-03-02T09:15:00+00:00"


def test_show_unknown_campaign_is_one_line(database_url: URL) -> None:
    result = run(database_url, "campaign", "show", "nope")
    assert result.exit_code == 1
    assert result.stderr == ("error: no campaign named 'nope' (see `campaigner campaign list`)\n")


def test_pause_and_resume(database_url: URL, database: Database) -> None:
    create(database_url)
    add_contact(database, "spring", "+12125550101", state=ContactState.IN_PROGRESS)
    set_running(database, "spring")
    result = run(database_url, "campaign", "pause", "spring", "--reason", "client asked")
    assert result.exit_code == 0
    assert "no new calls will be placed" in result.output
    assert "1 calls already placed will finish" in result.output
    assert status_of(database, "spring") is CampaignStatus.PAUSED
    assert (
        "status      paused (client asked)"
        in run(database_url, "campaign", "show", "spring").output
    )
    assert "already paused" in run(database_url, "campaign", "pause", "spring").output
    result = run(database_url, "campaign", "resume", "spring")
    assert result.exit_code == 0
    assert "resumed campaign 'spring'" in result.output
    assert status_of(database, "spring") is CampaignStatus.RUNNING
    assert "already running" in run(database_url, "campaign", "resume", "spring").output


@pytest.mark.parametrize("paused_first", [False, True])
def test_resume_refuses_a_campaign_that_never_ran(
    database_url: URL, database: Database, paused_first: bool
) -> None:
    create(database_url)
    if paused_first:
        assert run(database_url, "campaign", "pause", "spring").exit_code == 0
    result = run(database_url, "campaign", "resume", "spring")
    assert result.exit_code == 1
    flag = " --resume" if paused_first else ""
    assert result.stderr == (
        f"error: campaign 'spring' has never run: start it with `campaigner run spring{flag}`\n"
    )
    assert status_of(database, "spring") is not CampaignStatus.RUNNING


def test_cancel_marks_pending_contacts_cancelled(database_url: URL, database: Database) -> None:
    create(database_url)
    add_contact(database, "spring", "+12125550101")
    add_contact(database, "spring", "+12125550102", next_attempt_at=FRIDAY_1330_UTC)
    add_contact(database, "spring", "+12125550103", state=ContactState.DELIVERED)
    add_contact(database, "spring", "+12125550104", state=ContactState.IN_PROGRESS)
    set_running(database, "spring")
    result = run(database_url, "campaign", "cancel", "spring", "--reason", "wrong list")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "campaign 'spring' cancelled: 2 pending contacts marked cancelled, never to be dialled",
        "1 calls already placed will finish",
    ]
    assert states(database, "spring") == {
        "+12125550101": "cancelled",
        "+12125550102": "cancelled",
        "+12125550103": "delivered",
        "+12125550104": "in_progress",
    }
    assert status_of(database, "spring") is CampaignStatus.CANCELLED
    result = run(database_url, "campaign", "resume", "spring")
    assert result.exit_code == 1
    assert "is cancelled: it cannot be resumed" in result.stderr
    result = run(database_url, "campaign", "pause", "spring")
    assert result.exit_code == 1
    assert "is cancelled: it cannot be paused" in result.stderr
    again = run(database_url, "campaign", "cancel", "spring")
    assert again.exit_code == 0
    assert "was already cancelled: 0 pending contacts" in again.output


def preview_campaign(database_url: URL, database: Database) -> None:
    """Contacts in zones whose 09:00-20:00 mon-fri window, on Friday 13:30 UTC, is open now
    (New York, 09:30), opens within the hour (Chicago, 08:30), later today (Los Angeles, 06:30)
    or on Monday (Tokyo, 22:30), plus one waiting for a retry."""
    create(database_url, "spring", "--days", "mon-fri", "--tts", "Hello {name}, see you {day}.")
    fields = {"name": "Ann", "day": "Monday"}
    add_contact(database, "spring", "+12125550101", fields=fields)
    add_contact(database, "spring", "+12125550102", fields={"name": "Bob & Co"})
    add_contact(database, "spring", "+13125550103", timezone="America/Chicago", fields=fields)
    add_contact(database, "spring", "+14155550104", timezone="America/Los_Angeles", fields=fields)
    add_contact(
        database,
        "spring",
        "+81312345678",
        timezone="Asia/Tokyo",
        source=TimezoneSource.COLUMN,
        fields=fields,
    )
    add_contact(
        database,
        "spring",
        "+447700900123",
        timezone="UTC",
        source=TimezoneSource.DEFAULT,
        fields=fields,
    )
    add_contact(
        database,
        "spring",
        "+12125550107",
        fields=fields,
        next_attempt_at=FRIDAY_1330_UTC + timedelta(hours=1),
    )
    add_contact(database, "spring", "+12125550108", state=ContactState.DELIVERED, fields=fields)


def test_preview_renders_messages_and_counts_by_zone_and_opening(
    database_url: URL, database: Database
) -> None:
    preview_campaign(database_url, database)
    result = run(database_url, "campaign", "preview", "spring", "--limit", "2", "--now", FRIDAY_ISO)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "campaign 'spring' (draft, enablex): 7 pending contacts, as of 2026-03-13 13:30 UTC"
    )
    assert "  +12125550101  Hello Ann, see you Monday." in lines
    assert "  +12125550102  cannot be played: no value in column day" in lines
    assert "+13125550103" not in result.output  # beyond --limit
    zone_rows = {line.split()[0]: line.split(None, 3)[1:] for line in lines if "local)" in line}
    assert zone_rows == {
        "America/Chicago": ["number", "1", "opens in 30m (Fri 09:00 local)"],
        "America/Los_Angeles": ["number", "1", "opens in 2h30m (Fri 09:00 local)"],
        "America/New_York": ["number", "3", "open now, closes in 10h30m (20:00 local)"],
        "Asia/Tokyo": ["column", "1", "opens in 2d10h30m (Mon 09:00 local)"],
        "UTC": ["default", "1", "open now, closes in 6h30m (20:00 local)"],
    }
    by_opening = lines.index("pending contacts by when their window next opens:")
    assert lines[by_opening + 2 : by_opening + 7] == [
        "  open now                      3",
        "  opens within 1 hour           1",
        "  opens within 24 hours         1",
        "  opens later                   1",
        "  waiting for a retry           1",
    ]
    assert lines[-1].startswith("warning: 1 pending contacts have no time zone of their own")
    assert "default zone (UTC)" in lines[-1]
    assert "\x1b[" not in result.output  # no colour codes when stdout is not a terminal


def test_preview_json(database_url: URL, database: Database) -> None:
    preview_campaign(database_url, database)
    result = run(database_url, "campaign", "preview", "spring", "--json", "--now", FRIDAY_ISO)
    document = json.loads(result.output)
    assert document["pending"] == 7
    assert document["messages"][1] == {
        "phone": "+12125550102",
        "timezone": "America/New_York",
        "timezone_source": "number",
        "message": None,
        "missing_columns": ["day"],
    }
    assert len(document["messages"]) == 5
    assert document["by_next_opening"] == {
        "open now": 3,
        "opens within 1 hour": 1,
        "opens within 24 hours": 1,
        "opens later": 1,
        "unknown time zone": 0,
        "waiting for a retry": 1,
    }
    tokyo = next(zone for zone in document["timezones"] if zone["timezone"] == "Asia/Tokyo")
    assert tokyo["window_opens_at"] == "2026-03-16T00:00:00+00:00"
    assert tokyo["window_closes_at"] is None


def test_preview_escapes_ssml_values(database_url: URL, database: Database) -> None:
    create(database_url, "ssml", "--ssml", "<speak>Dear {name}</speak>")
    add_contact(database, "ssml", "+12125550101", fields={"name": "Bob & <Co>"})
    result = run(database_url, "campaign", "preview", "ssml", "--now", FRIDAY_ISO)
    assert "  +12125550101  <speak>Dear Bob &amp; &lt;Co&gt;</speak>" in result.output.splitlines()


def test_preview_of_an_empty_campaign(database_url: URL) -> None:
    create(database_url)
    result = run(database_url, "campaign", "preview", "spring", "--now", FRIDAY_ISO)
    assert result.exit_code == 0
    assert "0 pending contacts" in result.output
    assert "no pending contacts: import some with `campaigner import`" in result.output


@pytest.mark.parametrize(
    ("now", "error"),
    [
        ("yesterday", "error: --now 'yesterday' is not an ISO 8601 time\n"),
        (
            "2026-03-13T13:30",
            "error: --now '2026-03-13T13:30' needs an offset, e.g. 2026-03-13T13:30Z or "
            "2026-03-13T13:30+01:00\n",
        ),
    ],
)
def test_preview_refuses_a_bad_now(tmp_path: Path, now: str, error: str) -> None:
    result = CliRunner().invoke(
        main, ["campaign", "preview", "x", "--now", now, "--db", str(tmp_path / "c.db")]
    )
    assert result.exit_code == 2
    assert result.stderr == error


@pytest.mark.parametrize(
    ("now", "bucket"),
    [
        (FRIDAY_1330_UTC, "open now"),
        (FRIDAY_1330_UTC + timedelta(hours=7), "opens later"),  # 20:30 Friday in London
        (FRIDAY_1330_UTC - timedelta(hours=5), "opens within 1 hour"),  # 08:30
        (FRIDAY_1330_UTC - timedelta(hours=6), "opens within 24 hours"),  # 07:30
    ],
)
def test_preview_buckets_follow_the_clock(
    database_url: URL, database: Database, now: datetime, bucket: str
) -> None:
    create(database_url, "spring", "--tts", "Hi", "--days", "mon-fri")
    add_contact(database, "spring", "+447700900123", timezone="Europe/London")
    result = run(database_url, "campaign", "preview", "spring", "--json", "--now", now.isoformat())
    counts = json.loads(result.output)["by_next_opening"]
    assert {name for name, count in counts.items() if count} == {bucket}
