"""Row exports: one row per contact (or per call with `per_attempt`) as CSV, JSON Lines or JSON.

Rows are built from one streaming query (see `queries`) and written as they come, so memory stays
flat whatever the campaign's size. The contacts' CSV is written by the database itself: by
PostgreSQL's COPY (see `copy`), or as whole lines by SQLite (see `sqlite_csv`).

CSV cells are made safe for spreadsheets (OWASP's CSV injection advice): a free-text cell that
starts with `=`, `+`, `-`, `@`, a tab, CR or NUL gets a leading `'`, so that it is shown as text
and never run as a formula. The `phone` column is E.164 by construction (campaigner wrote it) and
is left alone, so `+14155550100` stays readable; the number as written in the CSV (`phone_raw`)
is free text and is neutralised like the rest.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import Connection

from ..campaigns import Campaign
from ..collection import fewer_collections
from ..rowcheck import FORMULA_STARTS
from . import sqlite_csv
from .definitions import DUPLICATE, REJECTED
from .queries import (
    SPLIT_FROM,
    Filters,
    attempt_query,
    campaign_summary,
    contact_query,
    field_names,
    import_files,
    iso,
    reject_rows,
    stream,
    whole_fields,
)


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    JSON = "json"
    HTML = "html"


CONTACT_COLUMNS = (
    "phone",
    "phone_raw",
    "state",
    "last_call_outcome",
    "reason",
    "attempts",
    "first_call_utc",
    "first_call_local",
    "last_call_utc",
    "last_call_local",
    "answered_utc",
    "ended_utc",
    "duration_s",
    "dtmf",
    "response",
    "responded_utc",
    "provider_reason",
    "first_provider_call_id",
    "last_provider_call_id",
    "timezone",
    "timezone_source",
    "import_file",
    "source_row",
)
ATTEMPT_COLUMNS = (
    "phone",
    "attempt",
    "provider",
    "provider_call_id",
    "correlation_key",
    "requested_utc",
    "requested_local",
    "answered_utc",
    "ended_utc",
    "duration_s",
    "outcome",
    "progress",
    "provider_reason",
    "dtmf",
    "error",
    "contact_state",
    "timezone",
)


COPY_YOUNG_THRESHOLD = 100_000  # objects between young collections while COPY is read

_STARTS = "".join(FORMULA_STARTS)  # one character each: `value[0] in _STARTS` is the fast test


def neutralise(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class Rows:
    """An export's header (fixed columns, then the CSV's own) and its rows, as they come."""

    columns: tuple[str, ...]
    fields: tuple[str, ...]  # the original CSV columns, after `columns`
    rows: Iterator[Sequence[Any]]


def contact_rows(
    connection: Connection, campaign: Campaign, filters: Filters, *, neutralise: bool = False
) -> Rows:
    """One row per contact, then one per rejected or duplicate CSV row (with its reason).

    `neutralise`: make free-text cells safe for spreadsheets (CSV)."""
    names = field_names(connection, campaign.id)
    clean = neutralise_cell if neutralise else _same
    files = {key: clean(name) for key, name in import_files(connection, campaign.id).items()}
    query = contact_query(connection, campaign.id, names, filters, neutralise=neutralise)
    whole = whole_fields(connection, names)

    def generate() -> Iterator[Sequence[Any]]:
        files_get = files.get
        # Columns 0-22 of the query; the file name is looked up here.
        for row in stream(connection, query):
            values = [row[23].get(name) for name in names] if whole else row[23:]
            yield (
                *row[:21],
                files_get(row[21]),
                row[22],
                *(
                    [f"'{v}" if v and v[0] in _STARTS else v for v in values]
                    if neutralise
                    else values
                ),
            )
        yield from _rejects(connection, campaign, names, files, filters, clean)

    return Rows(CONTACT_COLUMNS, tuple(names), generate())


def _rejects(
    connection: Connection,
    campaign: Campaign,
    names: Sequence[str],
    files: dict[int, str],
    filters: Filters,
    clean: Callable[[Any], Any],
) -> Iterator[Sequence[Any]]:
    """The CSV rows an import left out, as report rows: state `rejected` or `duplicate`."""
    blank = (None,) * (len(CONTACT_COLUMNS) - 8)
    for import_id, number, raw, reason, duplicate, fields in reject_rows(
        connection, campaign.id, filters
    ):
        values = (_text(fields.get(name)) for name in names)
        yield (
            None,
            clean(raw),
            DUPLICATE if duplicate else REJECTED,
            None,
            clean(reason),
            0,
            *blank,
            files.get(import_id),
            number,
            *(clean(value) for value in values),
        )


def _same(value: Any) -> Any:
    return value


def neutralise_cell(value: Any) -> Any:
    """`neutralise` for any cell: only text can start a formula."""
    return neutralise(value) if isinstance(value, str) else value


def _text(value: Any) -> str | None:
    """Rejected rows keep whatever the CSV held: a list of extra values is written as JSON."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def attempt_rows(
    connection: Connection, campaign: Campaign, filters: Filters, *, neutralise: bool = False
) -> Rows:
    """One row per call placed, in the order they were placed."""
    query = attempt_query(connection, campaign.id, filters, neutralise=neutralise)
    return Rows(ATTEMPT_COLUMNS, (), stream(connection, query))


def write_csv(rows: Rows, out: TextIO) -> int:
    """Write `rows` as CSV (their cells already neutralised); returns how many were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*rows.columns, *(_field_header(name, rows.columns) for name in rows.fields)])
    count = 0
    write = writer.writerow
    for row in rows.rows:
        write(row)
        count += 1
    return count


def _field_header(name: str, columns: Sequence[str]) -> str:
    """A CSV column's header; one named like a column of ours is prefixed `csv:`."""
    return neutralise(f"csv:{name}" if name in columns else name)


def _documents(rows: Rows) -> Iterator[dict[str, Any]]:
    width = len(rows.columns)
    columns, fields = rows.columns, rows.fields
    for row in rows.rows:
        document = dict(zip(columns, row[:width], strict=True))
        if fields:
            document["fields"] = dict(zip(fields, row[width:], strict=True))
        yield document


def write_jsonl(rows: Rows, out: TextIO) -> int:
    """One JSON object a line; returns how many."""
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    count = 0
    for document in _documents(rows):
        out.write(dumps(document))
        out.write("\n")
        count += 1
    return count


def write_json(rows: Rows, out: TextIO, head: dict[str, Any], key: str = "rows") -> int:
    """One JSON document: `head`'s keys, then `key`: the rows, streamed; returns how many."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    out.write("{")
    for name, value in head.items():
        out.write(f"{encode(name)}: {encode(value)}, ")
    out.write(f"{encode(key)}: [")
    count = 0
    for document in _documents(rows):
        out.write(",\n  " if count else "\n  ")
        out.write(encode(document))
        count += 1
    out.write("\n]}\n" if count else "]}\n")
    return count


def export(
    connection: Connection,
    campaign: Campaign,
    fmt: Format,
    out: TextIO,
    *,
    per_attempt: bool = False,
    filters: Filters | None = None,
) -> int:
    """Write the campaign's rows to `out` in `fmt` (csv, jsonl or json); returns the row count."""
    filters = filters or Filters()
    if fmt is Format.CSV and connection.dialect.name == "postgresql":
        return copy_export(connection, campaign, out, per_attempt, filters)
    if fmt is Format.CSV and not per_attempt and connection.dialect.name == "sqlite":
        names = field_names(connection, campaign.id)
        if sqlite_csv.usable(connection, names):
            return sqlite_export(connection, campaign, names, out, filters)
    build = attempt_rows if per_attempt else contact_rows
    rows = build(connection, campaign, filters, neutralise=fmt is Format.CSV)
    if fmt is Format.CSV:
        return write_csv(rows, out)
    if fmt is Format.JSONL:
        return write_jsonl(rows, out)
    head = {
        "campaign": campaign.name,
        "summary": campaign_summary(connection, campaign.id).document(),
        "filters": {
            "states": sorted(filters.states),
            "since": iso(filters.since),
            "until": iso(filters.until),
        },
    }
    return write_json(rows, out, head, "attempts" if per_attempt else "contacts")


def sqlite_export(
    connection: Connection,
    campaign: Campaign,
    names: list[str],
    out: TextIO,
    filters: Filters,
    split_from: int = SPLIT_FROM,
) -> int:
    """The contacts' CSV on SQLite: lines written by SQLite (`sqlite_csv`), then the rejected
    rows from here; the same rows as `write_csv` writes."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CONTACT_COLUMNS, *(_field_header(name, CONTACT_COLUMNS) for name in names)])
    out.flush()
    files = import_files(connection, campaign.id)
    count = sqlite_csv.write_csv(
        connection, campaign.id, names, filters, files, out, split_from=split_from
    )
    clean = {key: neutralise(name) for key, name in files.items()}
    for row in _rejects(connection, campaign, names, clean, filters, neutralise_cell):
        writer.writerow(row)
        count += 1
    return count


def copy_export(
    connection: Connection,
    campaign: Campaign,
    out: TextIO,
    per_attempt: bool,
    filters: Filters,
    split_from: int = SPLIT_FROM,
) -> int:
    """The CSV export on PostgreSQL: the header and the rejected rows from here, the rest
    formatted by the server (`copy`); the same rows as `write_csv` writes.

    Reading COPY makes a few objects a row, all freed at once: with the youngest generation
    collected every 700 of them, collections cost a quarter of the client's CPU."""
    from . import copy  # and psycopg (~0.1 CPU-s to import), which SQLite's exports never need

    writer = csv.writer(out, lineterminator="\n")
    if per_attempt:
        writer.writerow(ATTEMPT_COLUMNS)
        query = copy.attempt_select(connection, campaign.id, filters)
        with fewer_collections(COPY_YOUNG_THRESHOLD):
            return copy.copy_csv(connection, query, out)
    names = field_names(connection, campaign.id)
    writer.writerow([*CONTACT_COLUMNS, *(_field_header(name, CONTACT_COLUMNS) for name in names)])
    query = copy.contact_csv(connection, campaign.id, names, filters)
    with fewer_collections(COPY_YOUNG_THRESHOLD):
        count = copy.copy_halves(connection, campaign.id, query, out, split_from)
    files = {key: neutralise(name) for key, name in import_files(connection, campaign.id).items()}
    for row in _rejects(connection, campaign, names, files, filters, neutralise_cell):
        writer.writerow(row)
        count += 1
    return count
