"""Benchmark: export the report of a 1,000,000-contact campaign, as CSV and HTML, on SQLite and
PostgreSQL.

    .venv/bin/python benchmarks/report_bench.py [--contacts N] [--backend sqlite|postgresql|both]
                                                [--keep]

The campaign is built directly in the database, by SQL (a recursive CTE on SQLite,
generate_series on PostgreSQL), in seconds, as one import of a file would leave it: an imports
row with the file's four CSV columns, and contacts of that import in five time zones, with their
fields as JSON and, on SQLite, as CSV cells (`contacts.fields_csv`, which its CSV export writes
as they are); and attempts in the proportions of a real run: 5% suppressed (never called), 55%
delivered at the first call, 20% delivered at the second, 10% no answer three times, 5% busy
three times, 5% failed three times (1.5 calls a contact), from 21 November 2026 12:00 UTC to a
day and three hours later. Each call's local time is written as the dialer writes it
(`windows.local_text`): the zones keep one offset over that span (checked with zoneinfo,
`_offsets`), so it is the UTC time shifted by its zone's offset. Each contact's first and last
call are copied onto it by the database's triggers on attempts (migrations 0010 and 0013) as the
attempts are inserted, as during a real run; that makes the build slower (minutes on
PostgreSQL), not the reports.

Each export is `campaigner report` run as a child process, exactly as a user runs it, writing to
a file in a temporary directory; then `campaigner status --json` is timed the same way. Printed
per command: wall time of the whole command (start-up included), rows per second over that, the
child's CPU time (user + system) per row, its peak memory (max RSS, from wait4), and the load
average of the machine before the run, which is shared. The child's CPU includes the second
process of a SQLite CSV export (it is waited for). On PostgreSQL, the CPU of the server backends
serving the command is added as `server CPU`: read from /proc/<pid>/stat of every backend
connected to the benchmark's database (pg_stat_activity), sampled every 0.1 s while the command
runs (the last tenth of a second before a backend ends can be missed). The server must run on
this machine for that.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from sqlalchemy import text  # noqa: E402

from campaigner.campaigns import CampaignSettings, Message, RetryPolicy  # noqa: E402
from campaigner.config import parse_database_url  # noqa: E402
from campaigner.db import Database, open_database, upgrade  # noqa: E402
from campaigner.model import CampaignStatus, MessageKind, Outcome, Provider  # noqa: E402
from campaigner.store.campaigns import create_campaign, set_status  # noqa: E402
from campaigner.store.imports import ImportCounts, finish_import, start_import  # noqa: E402
from campaigner.windows import CallingWindow, local_text, zone_named  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "bench"
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
)

FIRST_CALL = 1795262400  # 2026-11-21 12:00 UTC; calls up to a day and 3 h 30 s later
LAST_CALL = FIRST_CALL + 86400 + 3 * 3600 + 30

# Each contact's state and number of calls by its row number i % 20: 0 suppressed (no call),
# 1-11 delivered (1 call), 12-15 delivered (2 calls, the first busy), 16-17 no_answer (3 calls),
# 18 busy (3), 19 failed (3). Calls before the last have the last one's outcome, or busy.
_STATE = """CASE
  WHEN {i} % 20 = 0 THEN 'suppressed' WHEN {i} % 20 <= 15 THEN 'delivered'
  WHEN {i} % 20 <= 17 THEN 'no_answer' WHEN {i} % 20 = 18 THEN 'busy' ELSE 'failed' END"""
COLUMNS = ["first_name", "last_name", "appointment", "clinic"]  # the file's, less the phone
_CALLS = """CASE WHEN {i} % 20 = 0 THEN 0 WHEN {i} % 20 <= 11 THEN 1
  WHEN {i} % 20 <= 15 THEN 2 ELSE 3 END"""
_OUTCOME = """CASE WHEN a.n < c.attempts THEN
  (CASE WHEN c.state = 'delivered' THEN 'busy' ELSE c.state END) ELSE c.state END"""


def _settings() -> CampaignSettings:
    return CampaignSettings(
        name=NAME,
        provider=Provider.ENABLEX,
        caller_id="+13215550100",
        message=Message(MessageKind.TTS, "Hello {first_name}, see you {appointment}."),
        retry=RetryPolicy(
            max_attempts=3,
            delays=dict.fromkeys((Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED), 0),
        ),
        window=CallingWindow.parse("00:00-24:00", "daily"),
        default_region="US",
        default_timezone="America/New_York",
    ).validate()


def _offsets() -> dict[str, tuple[int, str]]:
    """Each zone's UTC offset over the calls' span, in seconds and as `local_text` writes it;
    an error if one changes within the span (checked every minute)."""
    found: dict[str, tuple[int, str]] = {}
    for name in ZONES:
        zone = zone_named(name)
        seen = {
            local_text(datetime.fromtimestamp(moment, UTC), zone)[19:]
            for moment in range(FIRST_CALL, LAST_CALL + 60, 60)
        }
        if len(seen) != 1:
            raise SystemExit(f"{name} changes its offset during the calls: {sorted(seen)}")
        (offset,) = seen
        sign = -1 if offset.startswith("-") else 1
        found[name] = (sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60), offset)
    return found


def build(database: Database, count: int) -> None:
    """The campaign, its contacts and their attempts, generated by the database itself."""
    with database.write() as connection:
        campaign = create_campaign(connection, _settings())
        set_status(connection, campaign, CampaignStatus.RUNNING)
        campaign_id = campaign.id
        imported_at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        import_id = start_import(connection, campaign_id, "bench.csv", COLUMNS, imported_at)
        suppressed = count // 20  # row numbers i % 20 == 0, below
        counts = ImportCounts(count, count - suppressed, 0, suppressed, 0)
        finish_import(connection, import_id, counts, "0" * 64, imported_at)
    sqlite = database.is_sqlite
    # The fields as `rowcheck.csv_cells` writes them (no quote or formula start in them), which
    # an import stores on SQLite only.
    cells = "NULL"
    if sqlite:
        cells = (
            "'\"Name ' || i || '\",\"Surname ' || (i % 997)"
            ' || \'","Monday November 23 at 9:30 AM","Clinic \' || (i % 50) || \'"\''
        )
    zone = "CASE {i} % 5 " + " ".join(f"WHEN {n} THEN '{z}'" for n, z in enumerate(ZONES)) + " END"
    if sqlite:
        series = (
            f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) "
        )
        fields = (
            "json_object('first_name', 'Name ' || i, 'last_name', 'Surname ' || (i % 997),"
            " 'appointment', 'Monday November 23 at 9:30 AM', 'clinic', 'Clinic ' || "
            "(i % 50))"
        )
        now = "'2026-11-20 12:00:00.000000'"
        source = "FROM s"
        phone = "'+1' || (2000000000 + i)"
    else:
        series = ""
        fields = (
            "jsonb_build_object('first_name', 'Name ' || i, 'last_name', 'Surname ' || "
            "(i % 997), 'appointment', 'Monday November 23 at 9:30 AM', 'clinic', "
            "'Clinic ' || (i % 50))"
        )
        now = "TIMESTAMPTZ '2026-11-20 12:00:00+00'"
        source = f"FROM generate_series(1, {count}) AS s(i)"
        phone = "'+1' || (2000000000 + i)::text"
    with database.write() as connection:
        connection.execute(
            text(
                "INSERT INTO contacts (campaign_id, phone, phone_raw, fields, fields_csv, "
                "timezone, timezone_source, state, attempts, last_outcome, import_id, source_row, "
                f"created_at, updated_at) {series}SELECT {campaign_id}, {phone}, {phone}, "
                f"{fields}, {cells}, "
                f"{zone.format(i='i')}, 'number', {_STATE.format(i='i')}, "
                f"{_CALLS.format(i='i')}, "
                f"CASE WHEN i % 20 = 0 THEN NULL ELSE {_STATE.format(i='i')} END, {import_id}, i, "
                f"{now}, "
                f"{now} {source}"
            )
        )
    offsets = _offsets()
    shift = " ".join(f"WHEN '{z}' THEN {s}" for z, (s, _) in offsets.items())
    shift = f"CASE c.timezone {shift} END"
    offset = " ".join(f"WHEN '{z}' THEN '{o}'" for z, (_, o) in offsets.items())
    offset = f"CASE c.timezone {offset} END"
    placed = f"{FIRST_CALL} + (c.id % 86400) + a.n * 3600"
    if sqlite:
        requested = f"strftime('%Y-%m-%d %H:%M:%S', {placed}, 'unixepoch') || '.000000'"
        local = f"strftime('%Y-%m-%dT%H:%M:%S', {placed} + {shift}, 'unixepoch') || {offset}"
        answered = (
            "CASE WHEN {o} = 'delivered' THEN "
            f"strftime('%Y-%m-%d %H:%M:%S', {placed} + 8, 'unixepoch') || '.000000' END"
        )
        ended = f"strftime('%Y-%m-%d %H:%M:%S', {placed} + 30, 'unixepoch') || '.000000'"
        numbers = "(SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS a"
    else:
        base = f"to_timestamp({placed}"
        requested = f"{base})"
        # (`\\:`: a colon, not a bound parameter of `text`.)
        local = (
            f"to_char({base} + {shift}) AT TIME ZONE 'UTC', "
            f"'YYYY-MM-DD\"T\"HH24\\:MI\\:SS') || {offset}"
        )
        answered = "CASE WHEN {o} = 'delivered' THEN " + base + " + 8) END"
        ended = f"{base} + 30)"
        numbers = "generate_series(1, 3) AS a(n)"
    with database.write() as connection:
        connection.execute(
            text(
                "INSERT INTO attempts (contact_id, campaign_id, attempt_number, provider, "
                "correlation_key, provider_call_id, progress, requested_at, requested_local, "
                "answered_at, ended_at, outcome, provider_reason) "
                f"SELECT c.id, c.campaign_id, a.n, 'enablex', 'k' || c.id || '-' || a.n, "
                f"'call-' || c.id || '-' || a.n, 'ended', {requested}, {local}, "
                f"{answered.format(o=_OUTCOME)}, {ended}, {_OUTCOME}, "
                f"CASE WHEN ({_OUTCOME}) = 'delivered' THEN 'playfinished' ELSE "
                f"'disconnected: ' || ({_OUTCOME}) END "
                f"FROM contacts AS c JOIN {numbers} ON a.n <= c.attempts "
                f"WHERE c.campaign_id = {campaign_id}"
            )
        )
    with database.engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE contacts, attempts"
            )


class ServerCpu:
    """The CPU time of the PostgreSQL backends connected to database `name`, while it runs."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.seen: dict[int, float] = {}
        self.before: dict[int, float] = {}  # backends already connected: their CPU until now
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ServerCpu:
        if self.name is not None:
            import psycopg

            with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
                self.before = self._sample(connection)
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        if self.name is not None:
            self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())

    def _watch(self) -> None:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            while not self.done.wait(0.1):
                self.seen.update(self._sample(connection))

    def _sample(self, connection: Any) -> dict[int, float]:
        """CPU seconds so far of each backend connected to the database (this one's too)."""
        found: dict[int, float] = {}
        for (pid,) in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
        ).fetchall():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return found


def measure(
    db: str, arguments: list[str], out: Path, server: str | None = None
) -> dict[str, float]:
    """`campaigner ARGUMENTS --db DB` in a child, its output in OUT; its time, CPU and memory,
    and the CPU of the PostgreSQL backends of database `server` meanwhile."""
    load = os.getloadavg()[0]
    command = [sys.executable, "-c", "from campaigner.cli import main; main()", *arguments]
    command += ["--db", db]
    started = time.perf_counter()
    with ServerCpu(server) as backends:
        with out.open("wb") as stdout:
            child = subprocess.Popen(command, cwd=REPOSITORY, stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    assert child.stderr is not None
    errors = child.stderr.read().decode()
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(arguments)} failed: {errors}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "load": load,
        "server_cpu": backends.seconds,
    }


def run(backend: str, count: int, keep: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="report-bench-") as directory:
        here = Path(directory)
        admin = None
        name = None
        if backend == "sqlite":
            db = str(here / "bench.db")
            database = open_database(parse_database_url(db))
        else:
            import psycopg

            name = f"campaigner_report_bench_{uuid.uuid4().hex[:8]}"
            admin = psycopg.connect(ADMIN_URL, autocommit=True)
            admin.execute(f'CREATE DATABASE "{name}"')
            db = f"postgresql://postgres@127.0.0.1:5432/{name}"
            database = open_database(parse_database_url(db), check=False)
            upgrade(database)
        try:
            started = time.perf_counter()
            build(database, count)
            with database.read() as connection:
                calls = connection.execute(text("SELECT count(*) FROM attempts")).scalar_one()
            print(
                f"{backend}: built {count:,} contacts and {calls:,} attempts in "
                f"{time.perf_counter() - started:.1f} s"
            )
            for fmt in ("csv", "html"):
                out = here / f"report.{fmt}"
                arguments = ["report", NAME, "--format", fmt, "--out", str(out)]
                figures = measure(db, arguments, out, name)
                rows = count if fmt == "csv" else 0
                rate = f", {rows / figures['wall']:,.0f} rows/s" if rows else ""
                per_row = f", CPU {figures['cpu'] / rows * 1e6:.2f} µs/row" if rows else ""
                print(
                    f"{backend} {fmt}: {figures['wall']:.2f} s{rate}, CPU {figures['cpu']:.2f} s"
                    f"{per_row}{_server(figures, rows)}, peak RSS {figures['rss_mb']:.0f} MB, "
                    f"{out.stat().st_size / 1e6:.1f} MB written, load average {figures['load']:.2f}"
                )
            figures = measure(db, ["status", NAME, "--json"], here / "status.json", name)
            print(
                f"{backend} status: {figures['wall']:.2f} s, CPU {figures['cpu']:.2f} s"
                f"{_server(figures, 0)}, peak RSS {figures['rss_mb']:.0f} MB, "
                f"load average {figures['load']:.2f}"
            )
            if keep:
                print(f"kept: {db}")
                input("press Enter to drop it")
        finally:
            database.dispose()
            if admin is not None:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()


def _server(figures: dict[str, float], rows: int) -> str:
    """The PostgreSQL backends' CPU, when measured."""
    seconds = figures["server_cpu"]
    if not seconds:
        return ""
    per_row = f" ({seconds / rows * 1e6:.2f} µs/row)" if rows else ""
    return f", server CPU {seconds:.2f} s{per_row}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="Wait before dropping the database.")
    options = parser.parse_args()
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    for backend in backends:
        run(backend, options.contacts, options.keep)


if __name__ == "__main__":
    main()
