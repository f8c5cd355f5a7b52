"""`campaigner import`: load contacts from a CSV file into a campaign."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..importer import ImportOptions, ImportSummary, Progress, import_contacts
from .app import database_option, main, opened_database

PROGRESS_EVERY_ROWS = 100_000


@main.command("import")
@click.argument("campaign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--phone-column",
    metavar="NAME",
    help="The column holding the phone numbers. [default: the first of phone, phone_number, "
    "mobile, msisdn, number, to, telephone, tel, cell, mobile_number]",
)
@click.option(
    "--tz-column",
    metavar="NAME",
    help="A column of IANA time zones (e.g. America/Denver); a blank value means the zone comes "
    "from the number, or is the campaign's default zone.",
)
@click.option(
    "--region",
    metavar="CC",
    help="Country (ISO 3166 code, e.g. US) of numbers written without a country code. "
    "[default: the campaign's region]",
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="The file's text encoding, e.g. cp1252 or utf-16. [default: UTF-8, with or without BOM]",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the rows that were not imported, each with its reason. "
    "[default: FILE's name with .rejects.csv, beside it]",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Processes validating numbers in parallel. [default: one per CPU core]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@database_option
def import_command(
    campaign: str,
    file: Path,
    phone_column: str | None,
    tz_column: str | None,
    region: str | None,
    encoding: str | None,
    rejects_path: Path | None,
    workers: int | None,
    as_json: bool,
    db: str | None,
) -> None:
    """Import contacts from the CSV FILE into CAMPAIGN.

    The file needs a header row; its delimiter (comma, semicolon or tab) is detected. Numbers are
    checked and stored in E.164; a number the campaign already has is a duplicate, and a number on
    the do-not-call list is imported as suppressed and never called. Rows that are not imported
    are written to a rejects file with the reason for each. Importing the same file again only
    adds the numbers that are new.

    Either the whole file is imported or, when the file cannot be read, nothing is.
    """
    options = ImportOptions(
        phone_column=phone_column,
        tz_column=tz_column,
        region=region,
        encoding=encoding,
        rejects_path=rejects_path,
        workers=workers,
    )
    with opened_database(db) as database, _progress(file.stat().st_size) as progress:
        summary = import_contacts(database, campaign, file, options, progress)
    if as_json:
        click.echo(json.dumps(summary.as_json()))
    else:
        click.echo("\n".join(summary_lines(summary)))


def summary_lines(summary: ImportSummary) -> list[str]:
    """The summary for a person: what happened, the four counts, and where the rejects are."""
    counts = summary.counts
    name = summary.file.name
    if counts.rows_read == 0:
        lines = [f"Nothing new: {name} has a header but no data rows."]
    elif summary.nothing_new:
        lines = [
            f"Nothing new: none of the {counts.rows_read:,} rows of {name} added a contact to "
            f"campaign {summary.campaign!r} (import #{summary.import_id})."
        ]
    else:
        added = counts.imported + counts.suppressed
        lines = [
            f"Added {added:,} contacts from {name} to campaign {summary.campaign!r} "
            f"(import #{summary.import_id}):"
        ]
    if summary.same_file_as is not None:
        lines.append(f"This exact file was imported before, as import #{summary.same_file_as}.")
    if counts.rows_read:
        width = len(f"{counts.rows_read:,}")
        lines += [
            f"  {label:<11} {value:>{width},}"
            for label, value in (
                ("rows read", counts.rows_read),
                ("imported", counts.imported),
                ("duplicates", counts.duplicates),
                ("suppressed", counts.suppressed),
                ("rejected", counts.rejected),
            )
        ]
    if summary.rejects_file is not None:
        lines.append(f"Rows not imported, each with its reason: {summary.rejects_file}")
    return lines


@contextmanager
def _progress(size: int) -> Iterator[Progress]:
    """A progress bar on a terminal (by bytes read), else a line every PROGRESS_EVERY_ROWS rows."""
    if sys.stderr.isatty():
        with click.progressbar(length=size, label="Importing", file=sys.stderr) as bar:
            shown = 0

            def advance(_rows: int, bytes_read: int) -> None:
                nonlocal shown
                bar.update(bytes_read - shown)
                shown = bytes_read

            yield advance
        return
    next_line = PROGRESS_EVERY_ROWS

    def report(rows: int, _bytes_read: int) -> None:
        nonlocal next_line
        if rows >= next_line:
            click.echo(f"{rows:,} rows read", err=True)
            next_line = (rows // PROGRESS_EVERY_ROWS + 1) * PROGRESS_EVERY_ROWS

    yield report
