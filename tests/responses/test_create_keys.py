"""`campaign create` with keys, an opt-out key and a notify URL: stored, shown, previewed, and
refused up front when the provider cannot collect keys or the notification secret is missing."""

from __future__ import annotations

import json

import pytest
from cli_helpers import add_contact, run
from sqlalchemy.engine import URL

from campaigner.db import Database

ENABLEX = ["--provider", "enablex", "--caller-id", "+13215550100"]
KEYS = ["--key", "1=confirmed", "--key", "2=Cancelled", "--opt-out-key", "9"]


def test_create_stores_the_keys_and_shows_them(
    database_url: URL, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGNER_NOTIFY_SECRET", "s3cret-value")
    result = run(
        database_url,
        "campaign",
        "create",
        "dentist",
        *ENABLEX,
        "--tts",
        "Hello {name}, your appointment is on Monday. Press 1 to confirm, 2 to cancel.",
        *KEYS,
        "--key-timeout",
        "8",
        "--replay-on-no-input",
        "--notify-url",
        "https://crm.example.com/hooks/calls",
    )
    assert result.exit_code == 0, result.output
    assert "keys: 1=confirmed, 2=cancelled" in result.output
    assert "opt-out key: 9" in result.output
    assert "s3cret" not in result.output
    shown = json.loads(run(database_url, "campaign", "show", "dentist", "--json").output)
    assert {key: shown[key] for key in ("keys", "opt_out_key", "key_timeout")} == {
        "keys": {"1": "confirmed", "2": "cancelled"},
        "opt_out_key": "9",
        "key_timeout": 8,
    }
    assert shown["replay_on_no_input"] is True
    assert shown["notify_url"] == "https://crm.example.com/hooks/calls"
    text = run(database_url, "campaign", "show", "dentist").output
    assert "1=confirmed, 2=cancelled, 9=opt out; wait 8s; replay once on no input" in text

    add_contact(database, "dentist", "+12125550100", fields={"name": "Ann"})
    preview = run(database_url, "campaign", "preview", "dentist", "--json")
    (message,) = json.loads(preview.output)["messages"]
    assert message["message"] == (
        "Hello Ann, your appointment is on Monday. Press 1 to confirm, 2 to cancel. "
        "To stop receiving these calls, press 9."
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--provider", "webex", "--caller-id", "+13215550100", *KEYS], "webex cannot collect"),
        (["--provider", "fractel", "--caller-id", "+13215550100", "--opt-out-key", "9"], "fractel"),
        ([*ENABLEX, "--opt-out-key", "9", "--key-timeout", "30"], "at most 10 seconds"),
        ([*ENABLEX, "--key", "1=yes", "--key", "2=yes"], "label 'yes' is already given"),
        ([*ENABLEX, "--key", "9=stop", "--opt-out-key", "9"], "also a menu key"),
        ([*ENABLEX, "--key", "1=yes", "--key", "1=no"], "key 1 is given twice"),
        ([*ENABLEX, "--key", "x=yes"], "a key is one of 0-9, * or #"),
        ([*ENABLEX, "--key-timeout", "5"], "need a menu"),
        ([*ENABLEX, "--notify-url", "ftp://example.com"], "not an http(s) URL"),
        ([*ENABLEX, "--notify-url", "https://example.com/h"], "CAMPAIGNER_NOTIFY_SECRET"),
    ],
)
def test_create_refuses_keys_and_notifications_it_cannot_honour(
    database_url: URL, options: list[str], error: str
) -> None:
    result = run(database_url, "campaign", "create", "bad", "--tts", "Hello.", *options)
    assert result.exit_code != 0
    assert error in result.output
    assert run(database_url, "campaign", "list").output.startswith("no campaigns yet")


def test_create_warns_that_a_recording_must_say_the_opt_out(database_url: URL) -> None:
    result = run(
        database_url,
        "campaign",
        "create",
        "recorded",
        *ENABLEX,
        "--audio-url",
        "https://example.com/message.wav",
        "--opt-out-key",
        "9",
    )
    assert result.exit_code == 0, result.output
    assert "make sure the recording tells callees to press 9" in result.output
