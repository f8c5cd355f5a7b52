"""`campaigner suppress`: the do-not-call list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import click
from sqlalchemy import Connection

from ..csvsource import CsvSource, Record, header_key, open_csv
from ..errors import ValidationError
from ..importer import _phone_column
from ..phones import Normalised, Rejected, normalise_many
from ..store.campaigns import get_campaign
from ..store.suppressions import Added, add_suppressions, list_suppressions, remove_suppressions
from .app import database_option, main, opened_database
from .output import Cell, echo_json, json_option, table, when

BATCH_ROWS = 10_000
_KEPT = (
    "Removing a number does not bring back its contacts already marked suppressed: they stay "
    "uncalled."
)


@main.group("suppress")
def suppress_group() -> None:
    """The do-not-call list: numbers that are never dialled.

    An entry is global (every campaign) or, with --campaign, for one campaign. Adding a number
    also marks its pending contacts suppressed at once, and a suppressed number imported later is
    stored as suppressed: it is never dialled.
    """


_CAMPAIGN = click.option(
    "--campaign", metavar="NAME", help="One campaign's list. [default: the global list]"
)
_REGION = click.option(
    "--region",
    metavar="CC",
    help="Country (ISO 3166 code, e.g. US) of numbers written without a country code. "
    "[default: the campaign's region, if --campaign]",
)


@suppress_group.command("add")
@click.argument("numbers", nargs=-1, required=True)
@_CAMPAIGN
@click.option("--reason", help="Why the number must not be called, e.g. 'asked by phone'.")
@_REGION
@database_option
def add(
    numbers: tuple[str, ...],
    campaign: str | None,
    reason: str | None,
    region: str | None,
    db: str | None,
) -> None:
    """Put NUMBERS on the do-not-call list, and mark their pending contacts suppressed.

    Every number must be valid, or nothing is added. A number already on the list is left as it
    is (with its first source and reason).
    """
    with opened_database(db) as database, database.write() as connection:
        campaign_id, region = _scope(connection, campaign, region)
        phones = _normalised(numbers, region)
        added = add_suppressions(connection, dict.fromkeys(phones, reason), campaign_id, "manual")
    _report_added(added, campaign)


@suppress_group.command("remove")
@click.argument("numbers", nargs=-1, required=True)
@_CAMPAIGN
@_REGION
@database_option
def remove(
    numbers: tuple[str, ...], campaign: str | None, region: str | None, db: str | None
) -> None:
    """Take NUMBERS off the do-not-call list (the global one, or --campaign's).

    Removing a number does not bring its suppressed contacts back to pending: calling someone who
    asked not to be called is the worse mistake. A global entry and a campaign's entry are
    separate: removing one leaves the other.
    """
    with opened_database(db) as database, database.write() as connection:
        campaign_id, region = _scope(connection, campaign, region)
        removed = remove_suppressions(connection, _normalised(numbers, region), campaign_id)
    where = _where(campaign)
    if removed.removed:
        click.echo(f"removed from {where}: {', '.join(removed.removed)}")
    if removed.not_listed:
        click.echo(f"not on {where}: {', '.join(removed.not_listed)}")
    if removed.removed:
        click.echo(_KEPT)


@suppress_group.command("list")
@_CAMPAIGN
@json_option
@database_option
def list_command(campaign: str | None, as_json: bool, db: str | None) -> None:
    """List the do-not-call numbers: all of them, or those that apply to --campaign (its own and
    the global ones)."""
    with opened_database(db) as database, database.read() as connection:
        campaign_id = get_campaign(connection, campaign).id if campaign else None
        entries = list_suppressions(connection, campaign_id)
    if as_json:
        echo_json([vars(entry) for entry in entries])
        return
    if not entries:
        click.echo(f"{_where(campaign) if campaign else 'the do-not-call list'} is empty")
        return
    rows: list[list[Cell]] = [
        [
            entry.phone,
            entry.campaign or "(global)",
            entry.source,
            entry.reason,
            when(entry.created_at),
        ]
        for entry in entries
    ]
    click.echo(table(["PHONE", "CAMPAIGN", "SOURCE", "REASON", "ADDED"], rows))


@suppress_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_CAMPAIGN
@click.option(
    "--phone-column",
    metavar="NAME",
    help="The column holding the numbers. [default: the first of phone, phone_number, mobile, "
    "msisdn, number, to, ...]",
)
@click.option(
    "--reason-column",
    metavar="NAME",
    help="A column saying why each number must not be called. [default: reason, if present]",
)
@_REGION
@database_option
def import_command(
    file: Path,
    campaign: str | None,
    phone_column: str | None,
    reason_column: str | None,
    region: str | None,
    db: str | None,
) -> None:
    """Add every number in the CSV FILE to the do-not-call list (source: file:NAME).

    The file needs a header row. Rows whose number is not valid are listed with their row and line
    numbers and left out; the others are added, all together or (if the file cannot be read) not
    at all. Pending contacts with an added number are marked suppressed.
    """
    with (
        opened_database(db) as database,
        database.write() as connection,
        open_csv(file) as source,
    ):
        campaign_id, region = _scope(connection, campaign, region)
        phone = _phone_column(source, phone_column)
        reason = _reason_column(source, reason_column)
        totals = _Totals()
        records = source.records()
        while batch := list(islice(records, BATCH_ROWS)):
            reasons: dict[str, str | None] = {}
            raws = [_field(record, phone) for record in batch]
            for record, raw, result in zip(batch, raws, normalise_many(raws, region), strict=True):
                if isinstance(result, Rejected):
                    totals.rejects.append(
                        f"row {record.row} (line {record.line}) {raw!r}: {result.reason}"
                    )
                else:
                    reasons.setdefault(result.e164, _field(record, reason) or None)
            totals.add(add_suppressions(connection, reasons, campaign_id, f"file:{file.name}"))
            totals.rows += len(batch)
    click.echo(
        f"{file.name}: {totals.rows:,} rows: {totals.added:,} numbers added to {_where(campaign)}, "
        f"{totals.already:,} already on it, {len(totals.rejects):,} rejected"
    )
    _echo_contacts_suppressed(totals.contacts)
    for reject in totals.rejects:
        click.echo(f"rejected {reject}")


@dataclass
class _Totals:
    rows: int = 0
    added: int = 0
    already: int = 0
    contacts: int = 0
    rejects: list[str] = field(default_factory=list)

    def add(self, added: Added) -> None:
        self.added += len(added.added)
        self.already += len(added.already)
        self.contacts += added.contacts_suppressed


def _reason_column(source: CsvSource, wanted: str | None) -> int | None:
    if wanted:
        return source.column(wanted)
    keys = [header_key(name) for name in source.header]
    return keys.index("reason") if "reason" in keys else None


def _field(record: Record, index: int | None) -> str:
    """The value at `index`; a short row (fewer fields than the header) has blanks."""
    if index is None or index >= len(record.values):
        return ""
    return record.values[index].strip()


def _scope(
    connection: Connection, campaign: str | None, region: str | None
) -> tuple[int | None, str | None]:
    """The campaign's id (None: global) and the region numbers are read in."""
    if campaign is None:
        return None, region.upper() if region else None
    found = get_campaign(connection, campaign)
    return found.id, region.upper() if region else found.settings.default_region


def _normalised(numbers: Sequence[str], region: str | None) -> list[str]:
    """Each number in E.164, or a `ValidationError` naming every bad one."""
    results = normalise_many(numbers, region)
    bad = [
        f"{raw!r}: {result.reason}"
        for raw, result in zip(numbers, results, strict=True)
        if isinstance(result, Rejected)
    ]
    if bad:
        raise ValidationError(
            f"not a number that can be suppressed: {'; '.join(bad)} (nothing was changed)"
        )
    return [result.e164 for result in results if isinstance(result, Normalised)]


def _report_added(added: Added, campaign: str | None) -> None:
    where = _where(campaign)
    if added.added:
        click.echo(f"added to {where}: {', '.join(added.added)}")
    if added.already:
        click.echo(f"already on {where}: {', '.join(added.already)}")
    _echo_contacts_suppressed(added.contacts_suppressed)


def _echo_contacts_suppressed(count: int) -> None:
    if count:
        click.echo(f"{count:,} pending contacts marked suppressed: they will not be called")


def _where(campaign: str | None) -> str:
    return (
        f"the do-not-call list of campaign {campaign!r}"
        if campaign
        else "the global do-not-call list"
    )
