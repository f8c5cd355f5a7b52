"""Importing contacts from a CSV file into a campaign: `campaigner import CAMPAIGN FILE`.

The file is streamed in batches, so memory stays flat however long it is. Three stages overlap:
the calling thread reads the file, worker processes normalise and validate each batch's numbers
and check its rows (`rowcheck.RowChecker`, through `phones.ParallelNormaliser`), and a writer
thread loads the checked batches in one transaction (`store.contacts.ContactLoader`). Every row
ends up counted exactly once: imported, duplicate, suppressed or rejected. Rows that are not
imported go to a rejects file beside the input (row number, reason, the row as read) and to the
`import_rejects` table.

Decisions:
- All or nothing: the whole import is one transaction. A problem with the file as a whole
  (see `csvsource`, plus a missing phone, time zone or template column) raises `ImportFailed`,
  leaves no contact and no rejects file behind, and is recorded as a failed run. On SQLite, that
  transaction holds the write lock for the length of the import.
- A row is checked in this order and rejected for the first problem found: its number of fields,
  its number, the values the message needs, its time zone. Values are stored stripped of
  surrounding spaces; the rejects file and `import_rejects` keep the row exactly as read.
- The rejects file starts with the `row` and `reason` columns, then the input's columns: a row with
  more fields than the header keeps all of them. It is only written when a row was left out; an
  older rejects file at the same path is replaced then, and left alone otherwise.
- A number's time zone comes from the time zone column when that has a value, else from the number
  when it maps to one zone, else it is the campaign's default zone.
- For speed (benchmarks/RESULTS.md): the writer thread overlaps the database's work with reading,
  since SQLite and psycopg let go of the GIL while they work; on PostgreSQL the loader's own thread
  runs each batch's COPY and rejects while the writer sorts out the next (`ContactLoader.then`);
  the garbage collector runs less often for the length of an import
  (`collection.fewer_collections`).
"""

from __future__ import annotations

import hashlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from .campaigns import Campaign
from .collection import fewer_collections
from .csvsource import CsvSource, Record, RejectsFile, describe_columns, header_key, open_csv
from .db import Database
from .errors import ImportFailed, InvalidTransition, ValidationError
from .model import CampaignStatus, MessageKind
from .phones import ParallelNormaliser, check_region
from .rowcheck import RowChecker, Rows
from .store.campaigns import get_campaign, now_utc
from .store.contacts import Duplicate, NewContact, contact_loader
from .store.imports import (
    ImportCounts,
    Reject,
    add_reject_rows,
    completed_imports_of_file,
    finish_import,
    record_failed_import,
    reject_rows,
    start_import,
)

# The phone column when none is named: the first of these the header has (compared loosely).
PHONE_COLUMN_NAMES = (
    "phone",
    "phone_number",
    "mobile",
    "msisdn",
    "number",
    "to",
    "telephone",
    "tel",
    "cell",
    "mobile_number",
)
BATCH_ROWS = 10_000
GC_THRESHOLD = 50_000  # allocations between collections of the youngest generation (default 700)
SWITCH_INTERVAL = 0.0005  # seconds a thread may keep the GIL when another wants it (default 0.005)

Progress = Callable[[int, int], None]
"""Called after each batch with the rows and the bytes read so far."""


@dataclass(frozen=True)
class ImportOptions:
    phone_column: str | None = None  # default: the first of PHONE_COLUMN_NAMES in the header
    tz_column: str | None = None  # a column of IANA zones; blank values fall back to the number
    region: str | None = None  # for numbers without a country code; default: the campaign's
    encoding: str | None = None  # default: UTF-8 with or without a BOM
    rejects_path: Path | None = None  # default: <file stem>.rejects.csv beside the file
    workers: int | None = None  # processes validating numbers; default: one per core
    batch_rows: int = BATCH_ROWS  # rows validated, checked and loaded together


@dataclass(frozen=True)
class ImportSummary:
    import_id: int
    campaign: str
    file: Path
    counts: ImportCounts
    rejects_file: Path | None  # None when every row was imported
    same_file_as: int | None  # an earlier completed import of exactly the same bytes
    seconds: float

    @property
    def nothing_new(self) -> bool:
        return self.counts.imported + self.counts.suppressed == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "campaign": self.campaign,
            "file": str(self.file),
            **asdict(self.counts),
            "nothing_new": self.nothing_new,
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
            "same_file_as": self.same_file_as,
            "seconds": round(self.seconds, 3),
        }


def import_contacts(
    database: Database,
    campaign_name: str,
    path: Path,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import `path` into the campaign; see the module docstring for what that means."""
    options = options or ImportOptions()
    started = now_utc()
    with database.read() as connection:
        campaign = get_campaign(connection, campaign_name)
    if campaign.status is CampaignStatus.CANCELLED:
        raise InvalidTransition(
            f"campaign {campaign.name!r} is cancelled: no contacts can be imported into it"
        )
    region = (options.region or campaign.settings.default_region or "").upper() or None
    region = check_region(region)
    rejects_path = options.rejects_path or path.with_name(f"{path.stem}.rejects.csv")
    if rejects_path.resolve() == path.resolve():
        raise ValidationError(f"the rejects file {rejects_path} would overwrite the input file")
    try:
        return _import(database, campaign, path, options, region, rejects_path, progress)
    except ImportFailed as exc:
        with database.write() as connection:
            record_failed_import(
                connection, campaign.id, str(path), _sha256(path), str(exc), started, now_utc()
            )
        raise


def _import(
    database: Database,
    campaign: Campaign,
    path: Path,
    options: ImportOptions,
    region: str | None,
    rejects_path: Path,
    progress: Progress | None,
) -> ImportSummary:
    clock = time.perf_counter()
    with (
        fewer_collections(GC_THRESHOLD),
        _prompt_switches(),
        open_csv(path, encoding=options.encoding) as source,
    ):
        rows = _row_checker(source, campaign, options, region, database.is_sqlite)
        rejects = RejectsFile(rejects_path, source)
        writer = _Writer(database, campaign.id, str(path), rows, rejects)
        try:
            with ParallelNormaliser(region, workers=options.workers) as normaliser:
                batches = _batches(source.records(), options.batch_rows)
                for records, (new, rejected) in normaliser.map_with(rows, batches):
                    writer.put(records, new, [(records[i], why, False) for i, why in rejected])
                    if progress:
                        progress(records[-1].row, source.bytes_read)
            written = writer.finish(source.sha256)
            rejects_file = rejects.commit()
        except BaseException:
            writer.abort()
            raise
        finally:
            rejects.discard()
    return ImportSummary(
        import_id=written.import_id,
        campaign=campaign.name,
        file=path,
        counts=written.counts,
        rejects_file=rejects_file,
        same_file_as=written.same_file_as,
        seconds=time.perf_counter() - clock,
    )


LeftOut = tuple[Record, str, bool]
"""A row that is not imported: the record, the reason, and whether it is a duplicate."""


def _row_checker(
    source: CsvSource,
    campaign: Campaign,
    options: ImportOptions,
    region: str | None,
    sqlite: bool,
) -> RowChecker:
    """The checker of the file's rows for the campaign; `ImportFailed` for a missing column.
    On SQLite it builds the contacts' CSV cells too (`RowChecker.cells`)."""
    message = campaign.settings.message
    required = [(name, _required_column(source, name)) for name in message.required_columns()]
    return RowChecker(
        header=source.header,
        phone=_phone_column(source, options.phone_column),
        tz=source.column(options.tz_column) if options.tz_column else None,
        required=required,
        url=required[0] if message.kind is MessageKind.AUDIO_URL_COLUMN else None,
        default_zone=campaign.settings.default_timezone,
        region=region,
        cells=sqlite,
    )


def _rejects(rows: RowChecker, left_out: Sequence[LeftOut]) -> list[Reject]:
    """The rows left out, as `import_rejects` rows."""
    header, phone = rows.header, rows.phone
    rejects = []
    for record, reason, duplicate in left_out:
        values = record.values
        fields: dict[str, Any] = dict(zip(header, values, strict=False))
        if len(values) > len(header):
            fields["_extra"] = values[len(header) :]
        raw = values[phone] if len(values) > phone else None
        rejects.append(Reject(record.row, record.line, raw, reason, duplicate, fields))
    return rejects


def _phone_column(source: CsvSource, wanted: str | None) -> int:
    header = source.header
    if wanted:
        if wanted in header:
            return header.index(wanted)
        loose = [header_key(name) for name in header]
        if header_key(wanted) in loose:
            return loose.index(header_key(wanted))
        return source.column(wanted)
    keys = [header_key(name) for name in header]
    for candidate in PHONE_COLUMN_NAMES:
        if header_key(candidate) in keys:
            return keys.index(header_key(candidate))
    raise ImportFailed(
        f"{source.where(1)}: no phone column: the header has {describe_columns(header)}; "
        f"name the column with --phone-column (or call it {', '.join(PHONE_COLUMN_NAMES[:4])})"
    )


def _required_column(source: CsvSource, name: str) -> int:
    if name in source.header:
        return source.header.index(name)
    raise ImportFailed(
        f"{source.where(1)}: the campaign's message needs the column {name!r}, and the header "
        f"has {describe_columns(source.header)}"
    )


@contextmanager
def _prompt_switches() -> Iterator[None]:
    """Have the reading thread hand the GIL over sooner for the length of an import.

    The writer thread lets go of the GIL for each statement the database runs, and needs it back
    to go on; the reading thread, always busy, would keep it for the default 5 ms each time, and
    the writer, the pipeline's bottleneck, would sit idle for it (once per statement of a batch).
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _batches(records: Iterator[Record], size: int) -> Iterator[tuple[list[Record], Rows]]:
    """Batches of records, each with what its checker needs: the rows' number and values."""
    while batch := list(islice(records, size)):
        yield batch, Rows(batch[0].row, [record.values for record in batch])


def _duplicate_rejects(
    records: Sequence[Record], duplicates: Sequence[Duplicate], import_id: int
) -> list[LeftOut]:
    first_row = records[0].row
    left_out: list[LeftOut] = []
    for duplicate in duplicates:
        record = records[duplicate.source_row - first_row]
        if duplicate.first_import_id == import_id:
            reason = f"duplicate: same number as row {duplicate.first_row} of this file"
        elif duplicate.first_import_id is not None:
            reason = (
                f"duplicate: already in the campaign (row {duplicate.first_row} of import "
                f"#{duplicate.first_import_id})"
            )
        else:
            reason = "duplicate: already in the campaign"
        left_out.append((record, reason, True))
    return left_out


@dataclass(frozen=True)
class _Batch:
    records: list[Record]
    new: list[NewContact]
    left_out: list[LeftOut]


@dataclass(frozen=True)
class _End:
    sha256: str  # of the whole file, known once it has been read


class _Abort(Exception):
    """Sent by the reading thread when it fails: the writer rolls back."""


@dataclass(frozen=True)
class _Written:
    import_id: int
    counts: ImportCounts
    same_file_as: int | None


class _Writer:
    """The import's one database transaction, run in a thread of its own.

    SQLite and psycopg let go of the GIL while the database works, so loading a batch overlaps with
    reading and checking the next one in the calling thread. Batches pass through a short queue, so
    memory stays bounded; this thread also writes the rejects and keeps the counts. When it fails,
    it drains the queue until the caller sends its last item, so the caller never blocks on it.
    """

    def __init__(
        self,
        database: Database,
        campaign_id: int,
        file_name: str,
        rows: RowChecker,
        rejects: RejectsFile,
    ) -> None:
        self._database = database
        self._campaign_id = campaign_id
        self._file_name = file_name
        self._rows = rows
        self._rejects = rejects
        self._queue: queue.Queue[_Batch | _End | _Abort] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._done = False  # the last item (end or abort) was taken
        self._written: _Written | None = None
        self._thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
        self._thread.start()

    def put(self, records: list[Record], new: list[NewContact], left_out: list[LeftOut]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(_Batch(records, new, left_out))

    def finish(self, sha256: str) -> _Written:
        """Commit, once every batch is in; raises what made the writer fail."""
        self._queue.put(_End(sha256))
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._written is not None
        return self._written

    def abort(self) -> None:
        """Roll back (the caller failed); returns once the transaction is over."""
        if self._thread.is_alive():
            self._queue.put(_Abort())
            self._thread.join()

    def _run(self) -> None:
        try:
            self._written = self._write()
        except BaseException as exc:
            self._error = exc
            while not self._done:
                self._done = not isinstance(self._queue.get(), _Batch)

    def _next(self) -> _Batch | _End:
        item = self._queue.get()
        self._done = not isinstance(item, _Batch)
        if isinstance(item, _Abort):
            raise item
        return item

    def _write(self) -> _Written:
        started = now_utc()
        campaign_id, rows = self._campaign_id, self._rows
        read = duplicates = rejected = 0
        with self._database.write() as connection:
            import_id = start_import(connection, campaign_id, self._file_name, rows.fields, started)
            with contact_loader(connection, campaign_id, import_id, started) as loader:
                while isinstance(item := self._next(), _Batch):
                    found = loader.load(item.new)
                    left_out = item.left_out + _duplicate_rejects(item.records, found, import_id)
                    left_out.sort(key=lambda reject: reject[0].row)
                    self._rejects.write((r.row, reason, r.values) for r, reason, _ in left_out)
                    rejected_rows = reject_rows(import_id, campaign_id, _rejects(rows, left_out))
                    loader.then(add_reject_rows, connection, rejected_rows)
                    read += len(item.records)
                    duplicates += len(found)
                    rejected += len(item.left_out)
            counts = ImportCounts(read, loader.imported, duplicates, loader.suppressed, rejected)
            earlier = completed_imports_of_file(connection, campaign_id, item.sha256)
            finish_import(connection, import_id, counts, item.sha256, now_utc())
        return _Written(import_id, counts, earlier[-1] if earlier else None)


def _sha256(path: Path) -> str:
    """The file's hash for the record of a failed run; empty if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(1024 * 1024):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()
