"""`campaigner serve` as an operator runs it: a process that receives until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
from attempts_helpers import fractel_notification
from click.testing import CliRunner
from receiver_helpers import TOKEN
from sqlalchemy.engine import URL

from campaigner.cli import main
from campaigner.db import open_database
from campaigner.db.schema import events


def test_serve_receives_until_sigterm_then_stops_cleanly(database_url: URL) -> None:
    command = [
        sys.executable,
        "-c",
        "from campaigner.cli import main; main()",
        "serve",
        "--port",
        "0",
        "--public-url",
        "https://hooks.example.com",
        "--db",
        database_url.render_as_string(hide_password=False),
    ]
    env = os.environ | {"CAMPAIGNER_WEBHOOK_TOKEN": TOKEN}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Listening on http://127.0.0.1:"), process.stderr
        url = first.split()[2]
        response = httpx.post(
            f"{url}/hooks/fractel/{TOKEN}", content=fractel_notification("uid-1", "END", "BUSY")
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        # Through the file objects: `communicate` would miss what readline() has buffered.
        output = first + process.stdout.read()
        errors = process.stderr.read() if process.stderr else ""
    assert response.status_code == 200
    assert process.returncode == 0, errors
    assert "https://hooks.example.com/hooks/fractel/rece…" in output
    assert TOKEN not in output + errors
    assert output.rstrip().endswith("Stopped.")
    database = open_database(database_url)
    try:
        with database.read() as connection:
            assert connection.execute(events.select()).mappings().one()["status"] == "orphan"
    finally:
        database.dispose()


def test_serve_refuses_to_start_without_credentials() -> None:
    result = CliRunner().invoke(main, ["serve", "--db", "unused.db"])
    assert result.exit_code == 78
    assert "the webhook receiver needs credentials" in result.output


def test_serve_refuses_a_public_url_that_is_not_one() -> None:
    result = CliRunner().invoke(main, ["serve", "--public-url", "hooks.example.com"])
    assert result.exit_code == 2
    assert "is not an http(s) URL with a host" in result.output
