"""`campaigner import` from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run
from sqlalchemy.engine import URL

from campaigner.campaigns import CampaignSettings, Message
from campaigner.cli.importing import _progress
from campaigner.db import Database
from campaigner.model import MessageKind, Provider
from campaigner.store.campaigns import create_campaign

SAMPLE_LISTS = Path(__file__).resolve().parent.parent / "sample_lists"


@pytest.fixture
def spring(database: Database) -> str:
    """A campaign whose message needs first_name and appointment, for numbers in the US."""
    settings = CampaignSettings(
        name="spring",
        provider=Provider.ENABLEX,
        caller_id="+14155552671",
        message=Message(MessageKind.TTS, "Hello {first_name}, see you {appointment}."),
        default_region="US",
        default_timezone="America/New_York",
    ).validate()
    with database.write() as connection:
        create_campaign(connection, settings)
    return "spring"


@pytest.fixture
def bad_rows(tmp_path: Path) -> Path:
    path = tmp_path / "lists" / "bad_rows.csv"
    path.parent.mkdir()
    shutil.copyfile(SAMPLE_LISTS / "bad_rows.csv", path)
    return path


def test_the_bad_rows_sample_twice(database_url: URL, spring: str, bad_rows: Path) -> None:
    first = run(database_url, "import", spring, str(bad_rows), "--tz-column", "timezone")
    assert first.exit_code == 0, first.output
    rejects = bad_rows.with_name("bad_rows.rejects.csv")
    assert first.stdout.splitlines() == [
        "Added 9 contacts from bad_rows.csv to campaign 'spring' (import #1):",
        "  rows read   27",
        "  imported     9",
        "  duplicates   3",
        "  suppressed   0",
        "  rejected    15",
        f"Rows not imported, each with its reason: {rejects}",
    ]
    assert rejects.exists()

    second = run(database_url, "import", spring, str(bad_rows), "--tz-column", "timezone")
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[:3] == [
        "Nothing new: none of the 27 rows of bad_rows.csv added a contact to campaign 'spring' "
        "(import #2).",
        "This exact file was imported before, as import #1.",
        "  rows read   27",
    ]


def test_json_summary(database_url: URL, spring: str, bad_rows: Path) -> None:
    result = run(database_url, "import", spring, str(bad_rows), "--tz-column", "timezone", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary.pop("seconds") >= 0
    assert summary == {
        "import_id": 1,
        "campaign": "spring",
        "file": str(bad_rows),
        "rows_read": 27,
        "imported": 9,
        "duplicates": 3,
        "suppressed": 0,
        "rejected": 15,
        "nothing_new": False,
        "rejects_file": str(bad_rows.with_name("bad_rows.rejects.csv")),
        "same_file_as": None,
    }


def test_a_file_that_cannot_be_read_exits_65_naming_the_line(
    database_url: URL, spring: str, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b"phone,first_name,appointment\n(212) 555-0101,Jos\xe9,Monday\n")
    result = run(database_url, "import", spring, str(path))
    assert result.exit_code == 65
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {path} line 2: bytes are not valid UTF-8 (byte 0xe9 at offset 47); "
        "try --encoding cp1252 or --encoding latin-1\n"
    )
    fixed = run(database_url, "import", spring, str(path), "--encoding", "cp1252", "--json")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["imported"] == 1


def test_an_unknown_campaign(database_url: URL, bad_rows: Path) -> None:
    result = run(database_url, "import", "winter", str(bad_rows))
    assert result.exit_code == 1
    assert "no campaign named 'winter'" in result.stderr


def test_progress_is_a_line_every_100000_rows_when_not_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _progress(10_000_000) as progress:
        for rows in (40_000, 99_999, 100_000, 150_000, 350_000):
            progress(rows, rows * 50)
    assert capsys.readouterr().err == "100,000 rows read\n350,000 rows read\n"
