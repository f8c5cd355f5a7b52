"""Checking an import's rows, in the worker processes that validate their numbers.

A `RowChecker` takes a batch of rows as read (the first row's number and each row's values),
normalises the batch's numbers and checks each row (see `importer` for the rules), and returns the
new contacts and the rows rejected, with their reason. The importer hands it to
`phones.ParallelNormaliser.map_with`: the checking runs beside the numbers' validation, in the
workers, and the importing process, whose threads share one GIL with the database writer, only
reads the file. For that reason this module imports nothing a database needs: a worker imports
it to unpickle the checker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from json.encoder import encode_basestring
from operator import add
from typing import TYPE_CHECKING

from .errors import ValidationError
from .model import TimezoneSource
from .phones._normalise import Compact, normalise_batch
from .windows import zone_named

if TYPE_CHECKING:
    from .store.contacts import NewContact


@dataclass(frozen=True, slots=True)
class Rows:
    """A batch as sent to be checked."""

    first_row: int  # the data row number of the first; rows are numbered consecutively
    values: list[list[str]]  # each row's, as read

    def __len__(self) -> int:
        return len(self.values)


Checked = tuple[list["NewContact"], list[tuple[int, str]]]
"""A batch's new contacts, and its rejected rows as (index in the batch, reason)."""

_FROM_COLUMN = TimezoneSource.COLUMN.value
_FROM_NUMBER = TimezoneSource.NUMBER.value
_BY_DEFAULT = TimezoneSource.DEFAULT.value

# Where a spreadsheet cell starts a formula (OWASP CSV injection); the reports neutralise the
# same (`reports.queries`). PostgreSQL text has no NUL.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_cells(values: Sequence[str]) -> str:
    """`values` as the CSV export writes them, `"v1","v2"`: each quoted, its `"` doubled, and
    prefixed with `'` when it would start a formula (as the reports' `text_cell`).

    Most rows hold no quote and start no value with a formula character (all of which sort
    before `A`; empty values, often, start nothing): those are joined once and checked with C
    loops, ~0.6 µs a row of the import benchmark's five values (process time), about what its
    JSON costs."""
    joined = '","'.join(values)
    if joined.count('"') == 2 * len(values) - 2 and (
        min(filter(None, values), default="A") >= "A"
        or not any(map(str.startswith, values, repeat(FORMULA_STARTS)))
    ):
        return '"' + joined + '"'
    if not values:
        return ""
    cells = ["'" + v if v.startswith(FORMULA_STARTS) else v for v in values]
    return '"' + '","'.join([v.replace('"', '""') for v in cells]) + '"'


class RowChecker:
    """Checks rows against the header and the campaign, and turns the good ones into contacts.

    Picklable: it is sent with every batch to the worker that checks it.
    """

    def __init__(
        self,
        header: Sequence[str],
        phone: int,
        tz: int | None,
        required: Sequence[tuple[str, int]],
        url: tuple[str, int] | None,
        default_zone: str,
        region: str | None,
        cells: bool = True,
    ) -> None:
        self.header = tuple(header)
        self.phone = phone
        self.tz = tz
        self.required = list(required)  # (column name, index) of the values the message needs
        self.url = url  # the column of audio URLs, if the message takes one
        self.default_zone = default_zone
        self.region = region  # for numbers without a country code, already checked
        # Whether to build each contact's CSV cells (`csv_cells`): SQLite's CSV export writes
        # them; PostgreSQL's COPY quotes each field itself, and storing them cost its import ~6%
        # more CPU for nothing.
        self.cells = cells
        # The contact's fields: every column but the phone (`fields`, the import records them),
        # as `"name":` ready to be joined.
        self.fields = [name for index, name in enumerate(header) if index != phone]
        self.keys = [encode_basestring(name) + ":" for name in self.fields]
        self.zones: dict[str, str | None] = {}  # zone name -> None if known, else the reason

    def __call__(self, batch: Rows) -> Checked:
        """The batch's numbers normalised, then its rows checked."""
        phone = self.phone
        raws = [values[phone] if len(values) > phone else "" for values in batch.values]
        return self.check(batch.first_row, batch.values, normalise_batch(raws, self.region))

    def check(
        self, first_row: int, rows: Sequence[list[str]], results: Sequence[Compact]
    ) -> Checked:
        """`results` are the numbers' (E.164, zone) or the reason they were rejected.

        The loop runs once per row of the file: it sticks to C-level helpers (map, join) where it
        can, and takes the numbers' results in the compact form `normalise_batch` gives.
        """
        new: list[NewContact] = []
        rejected: list[tuple[int, str]] = []
        width, phone, tz, url = len(self.header), self.phone, self.tz, self.url
        required, keys, strip, cells = self.required, self.keys, str.strip, self.cells
        phone_name = self.header[phone]
        for index, (values, result) in enumerate(zip(rows, results, strict=True)):
            if len(values) != width:
                rejected.append((index, self._width_reason(len(values))))
                continue
            if isinstance(result, str):
                rejected.append((index, f"{phone_name}: {result}"))
                continue
            e164, number_zone = result
            stripped = list(map(strip, values))
            reason = None
            for name, column in required:
                if not stripped[column]:
                    reason = f"{name}: missing, and the message needs it"
                    break
            if reason is None and url is not None:
                reason = self._url_reason(stripped[url[1]])
            if tz is not None and (zone := stripped[tz]):
                reason = reason or self._zone_reason(zone)
                source = _FROM_COLUMN
            elif number_zone:
                zone, source = number_zone, _FROM_NUMBER
            else:
                zone, source = self.default_zone, _BY_DEFAULT
            if reason is not None:
                rejected.append((index, reason))
                continue
            number = stripped.pop(phone)
            fields = "{" + ",".join(map(add, keys, map(encode_basestring, stripped))) + "}"
            written = csv_cells(stripped) if cells else None
            new.append((first_row + index, e164, number, fields, written, zone, source))
        return new, rejected

    def _width_reason(self, count: int) -> str:
        width = len(self.header)
        if count < width:
            return f"too few fields: {count} where the header has {width}"
        return (
            f"too many fields: {count} where the header has {width} "
            "(a value holding the delimiter needs quotes)"
        )

    def _url_reason(self, url: str) -> str | None:
        # Imported here: `campaigns` brings in what only campaigns with an audio URL column need.
        from .campaigns import check_audio_url

        assert self.url is not None
        try:
            check_audio_url(url, "the audio URL")
        except ValidationError as exc:
            return f"{self.url[0]}: {exc}"
        return None

    def _zone_reason(self, zone: str) -> str | None:
        if zone not in self.zones:
            try:
                zone_named(zone)
                self.zones[zone] = None
            except ValidationError:
                tz_name = self.header[self.tz] if self.tz is not None else ""
                self.zones[zone] = f"{tz_name}: {zone!r} is not a known IANA time zone"
        return self.zones[zone]
