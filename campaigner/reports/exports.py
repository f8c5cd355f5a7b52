"""Row exports: one row per contact (or per call with `attempts=True`) as CSV, JSON Lines or JSON.

Rows are built from one streaming query (see `queries`) and written as they come, so memory stays
flat whatever the campaign's size. CSV cells are made safe for spreadsheets (OWASP's CSV
injection advice): a free-text cell that starts with `=`, `+`, `-`, `@`, a tab, CR or NUL gets a
leading `'`, so that it is shown as text and never run as a formula. The `phone` column is E.164
by construction (campaigner wrote it) and is left alone, so `+14155550100` stays readable; the
number as written in the CSV (`phone_raw`) is free text and is neutralised like the rest.
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
from .definitions import DUPLICATE, REJECTED
from .queries import (
    Clock,
    Filters,
    attempt_query,
    campaign_summary,
    contact_query,
    field_names,
    import_files,
    iso,
    local_iso,
    reject_rows,
    seconds_between,
    stream,
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
    "provider_call_ids",
    "timezone",
    "timezone_source",
    "import_file",
    "source_row",
)
# Columns whose text came from outside (a CSV, a provider, a callee's keypad).
_FREE_TEXT = frozenset(
    {
        "phone_raw",
        "reason",
        "dtmf",
        "response",
        "provider_reason",
        "provider_call_ids",
        "timezone",
        "import_file",
    }
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
_ATTEMPT_FREE_TEXT = frozenset({"provider_call_id", "provider_reason", "dtmf", "error"})

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


@dataclass(frozen=True)
class Rows:
    """An export's header (fixed columns, then the CSV's own) and its rows, as they come."""

    columns: tuple[str, ...]
    fields: tuple[str, ...]  # the original CSV columns, after `columns`
    free_text: frozenset[int]  # indexes of the cells to neutralise in CSV
    rows: Iterator[list[Any]]


def contact_rows(connection: Connection, campaign: Campaign, filters: Filters) -> Rows:
    """One row per contact, then one per rejected or duplicate CSV row (with its reason)."""
    names = field_names(connection, campaign.id)
    files = import_files(connection, campaign.id)
    clock = Clock(connection.dialect.name == "sqlite")
    query = contact_query(connection, campaign.id, names, filters)
    fixed = len(CONTACT_COLUMNS)

    def generate() -> Iterator[list[Any]]:
        utc, zone_of = clock.utc, clock.zone
        files_get = files.get
        for row in stream(connection, query):
            zone = zone_of(row[15])
            first, last = utc(row[6]), utc(row[7])
            answered, ended = utc(row[8]), utc(row[9])
            yield [
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                iso(first),
                local_iso(first, zone),
                iso(last),
                local_iso(last, zone),
                iso(answered),
                iso(ended),
                seconds_between(answered, ended),
                row[10],
                row[11],
                iso(utc(row[12])),
                row[13],
                row[14],
                row[15],
                row[16],
                files_get(row[17]),
                row[18],
                *row[19:],
            ]
        blank = [None] * (fixed - 6)
        for import_id, number, raw, reason, duplicate, fields in reject_rows(
            connection, campaign.id, filters
        ):
            state = DUPLICATE if duplicate else REJECTED
            values = [fields.get(name) for name in names]
            head = [None, raw, state, None, reason, 0]
            yield [*head, *blank[:-2], files_get(import_id), number, *_texts(values)]

    free = {i for i, name in enumerate(CONTACT_COLUMNS) if name in _FREE_TEXT}
    free.update(range(fixed, fixed + len(names)))
    return Rows(CONTACT_COLUMNS, tuple(names), frozenset(free), generate())


def _texts(values: Sequence[Any]) -> list[str | None]:
    """Rejected rows keep whatever the CSV held: a list of extra values is written as JSON."""
    return [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]


def attempt_rows(connection: Connection, campaign: Campaign, filters: Filters) -> Rows:
    """One row per call placed, in the order they were placed."""
    clock = Clock(connection.dialect.name == "sqlite")
    query = attempt_query(campaign.id, filters)

    def generate() -> Iterator[list[Any]]:
        utc, zone_of = clock.utc, clock.zone
        for row in stream(connection, query):
            requested, answered, ended = utc(row[5]), utc(row[6]), utc(row[7])
            yield [
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                iso(requested),
                local_iso(requested, zone_of(row[14])),
                iso(answered),
                iso(ended),
                seconds_between(answered, ended),
                row[8],
                row[9],
                row[10],
                row[11],
                row[12],
                row[13],
                row[14],
            ]

    free = {i for i, name in enumerate(ATTEMPT_COLUMNS) if name in _ATTEMPT_FREE_TEXT}
    return Rows(ATTEMPT_COLUMNS, (), frozenset(free), generate())


def write_csv(rows: Rows, out: TextIO) -> int:
    """Write `rows` as CSV; returns how many rows were written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*rows.columns, *(_field_header(name, rows.columns) for name in rows.fields)])
    free = sorted(rows.free_text)
    starts = _FORMULA_STARTS
    count = 0
    write = writer.writerow
    for row in rows.rows:
        for i in free:
            value = row[i]
            if value and value.startswith(starts):
                row[i] = "'" + value
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
    build: Callable[[Connection, Campaign, Filters], Rows] = (
        attempt_rows if per_attempt else contact_rows
    )
    rows = build(connection, campaign, filters)
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
