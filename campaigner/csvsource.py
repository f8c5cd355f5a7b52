"""Reading CSV contact lists: streamed in constant memory, with errors that name the line.

`open_csv(path)` sniffs the delimiter (comma, semicolon or tab) from the first 64 KiB, decodes
UTF-8 with or without a BOM unless told another encoding, reads the header, and then streams the
data rows as `Record`s (data row number, physical line number, values). It holds one line at a time,
however large the file, and hashes the bytes as it reads them. `RejectsFile` writes the rows an
import leaves out, in the input's own dialect.

Anything that makes the file unreadable as a whole raises `ImportFailed` naming the file and the
line: bytes the encoding cannot decode, a quote that is never closed, a field or line too long,
a NUL byte (no database takes it in text), a missing, blank or repeated header name. Rows with
more or fewer fields than the header are the caller's business (they are usually one bad row, not
a bad file), so they are passed on as read.

Decisions:
- The first row is always the header; a first row that looks like a phone number is refused
  rather than silently taken as column names.
- Blank lines, and rows whose fields are all blank (spreadsheets leave them at the end), are
  skipped and not numbered.
- Quoting is strict: `"abc"def` is an error naming its line, not a guess.
- Header names are stripped of surrounding spaces.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TextIO

from .errors import ImportFailed, ValidationError
from .outfiles import written_in_place

if TYPE_CHECKING:
    from _csv import Reader

DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without a byte order mark
DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
_READ_BUFFER = 256 * 1024
_LOOKS_LIKE_NUMBER = re.compile(r"^\+?[\d\s().\-/]{6,}$")
_FOREIGN_BOMS = {
    codecs.BOM_UTF32_LE: "utf-32",
    codecs.BOM_UTF32_BE: "utf-32",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}


class Record(NamedTuple):
    """One data row of the file."""

    row: int  # data row number: 1 is the first row after the header
    line: int  # physical line of the file where the row starts (the header is line 1)
    values: list[str]


@dataclass
class CsvSource:
    """An open CSV file whose header has been read; `records()` streams the rest."""

    path: Path
    encoding: str
    has_bom: bool
    delimiter: str
    header: tuple[str, ...]
    size: int  # bytes
    _reader: _HashingReader
    _csv: Reader

    @property
    def bytes_read(self) -> int:
        return self._reader.count

    @property
    def sha256(self) -> str:
        """The hash of the bytes read so far: the whole file's once `records()` is exhausted."""
        return self._reader.hash.hexdigest()

    def where(self, line: int) -> str:
        """`contacts.csv line 12`, the prefix of every message about a place in the file."""
        return f"{self.path} line {line}"

    def column(self, name: str) -> int:
        """The index of the header column `name`, or an `ImportFailed` listing the columns."""
        try:
            return self.header.index(name)
        except ValueError:
            raise ImportFailed(
                f"{self.where(1)}: there is no column {name!r}; the header has "
                f"{describe_columns(self.header)}"
            ) from None

    def records(self) -> Iterator[Record]:
        """The data rows, in file order; blank rows are skipped (see the module docstring)."""
        parsed = self._csv
        new_record = tuple.__new__  # Record(...) without its Python-level __new__: a hot loop
        line = parsed.line_num + 1
        row = 0
        try:
            for values in parsed:
                if values and (values[0] or any(values)):
                    row += 1
                    yield new_record(Record, (row, line, values))
                line = parsed.line_num + 1
        except csv.Error as exc:
            raise self._csv_error(exc, line) from None
        except UnicodeDecodeError:
            raise self._decode_error() from None
        self._reader.drain()

    def _csv_error(self, exc: csv.Error, line: int) -> ImportFailed:
        message = str(exc)
        if "field larger than field limit" in message:
            what = (
                f"a field of the row starting here is longer than {csv.field_size_limit():,} "
                "characters; is a quote left open?"
            )
        elif "unexpected end of data" in message:
            what = 'a quoted field starting in this row is never closed (its closing " is missing)'
        else:
            what = f"the row's quoting is malformed ({message}); quote a field that holds quotes"
        return ImportFailed(f"{self.where(line)}: {what}")

    def _decode_error(self) -> ImportFailed:
        offset, byte = _first_undecodable(self.path, self.encoding)
        line = _count_newlines(self.path, offset) + 1
        hint = "try --encoding cp1252 or --encoding latin-1" if "utf" in self.encoding else ""
        return ImportFailed(
            f"{self.where(line)}: bytes are not valid {_encoding_name(self.encoding)} "
            f"(byte 0x{byte:02x} at offset {offset:,})" + (f"; {hint}" if hint else "")
        )


@contextmanager
def open_csv(path: Path, *, encoding: str | None = None) -> Iterator[CsvSource]:
    """Open `path`, sniff its dialect and read its header (see the module docstring)."""
    encoding = check_encoding(encoding) if encoding else DEFAULT_ENCODING
    try:
        file = path.open("rb", buffering=0)
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot open: {exc.strerror or exc}") from None
    with file:
        sample = file.read(SNIFF_BYTES)
        size = os.fstat(file.fileno()).st_size
        file.seek(0)
        _check_bom(path, sample, encoding)
        has_bom = sample.startswith(codecs.BOM_UTF8)
        text_sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
            sample, final=len(sample) < SNIFF_BYTES
        )
        delimiter = sniff_delimiter(text_sample)
        reader = _HashingReader(file)
        text = io.TextIOWrapper(
            io.BufferedReader(reader, _READ_BUFFER), encoding=encoding, newline=""
        )
        parsed = csv.reader(_bounded_lines(text, path), delimiter=delimiter, strict=True)
        source = CsvSource(
            path=path,
            encoding=encoding,
            has_bom=has_bom,
            delimiter=delimiter,
            header=(),
            size=size,
            _reader=reader,
            _csv=parsed,
        )
        source.header = _read_header(source)
        yield source


class RejectsFile:
    """A CSV of the rows left out of an import: `row`, `reason`, then the row exactly as read.

    Same delimiter, columns and encoding as the input. The rows go to a hidden temporary file beside
    `path`, which `commit` renames into place and `discard` deletes: a failed import leaves no
    half-written file. Nothing is written unless a row is. A device or a pipe (`--rejects
    /dev/null`) is written straight to (`outfiles`).
    """

    def __init__(self, path: Path, source: CsvSource) -> None:
        self.path = path
        self._source = source
        self._temporary: Path | None = None
        if not written_in_place(path):
            self._temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        self._file: TextIO | None = None
        self._writer: Any = None

    def write(self, rows: Iterable[tuple[int, str, Sequence[str]]]) -> None:
        """Append (row number, reason, values as read) rows."""
        for row, reason, values in rows:
            if self._writer is None:
                self._writer = csv.writer(self._open(), delimiter=self._source.delimiter)
                header = self._source.header
                self._writer.writerow([_unused("row", header), _unused("reason", header), *header])
            self._writer.writerow([row, reason, *values])

    def commit(self) -> Path | None:
        """Put the file in place; None if no row was written."""
        if self._file is None:
            return None
        self._file.close()
        self._file = None
        if self._temporary is not None:
            os.replace(self._temporary, self.path)
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            if self._temporary is not None:
                self._temporary.unlink(missing_ok=True)

    def _open(self) -> TextIO:
        encoding = self._source.encoding
        if encoding == DEFAULT_ENCODING and not self._source.has_bom:
            encoding = "utf-8"
        try:
            self._file = (
                self._temporary.open("x", encoding=encoding, errors="replace", newline="")
                if self._temporary is not None
                else self.path.open("w", encoding=encoding, errors="replace", newline="")
            )
        except OSError as exc:
            raise ImportFailed(
                f"cannot write the rejects file {self.path}: {exc.strerror or exc} "
                "(choose another place with --rejects)"
            ) from None
        return self._file


def check_encoding(name: str) -> str:
    """The codec's canonical name, or a `ValidationError` for a name Python does not know."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValidationError(
            f"encoding {name!r} is not known (e.g. utf-8, cp1252, latin-1, utf-16)"
        ) from None


def sniff_delimiter(sample: str) -> str:
    """The delimiter among `DELIMITERS` that splits the sample's rows most consistently.

    Each candidate parses the first rows; the winner gives the header more than one column and the
    most rows as wide as the header. A file with one column has no delimiter to find: comma.
    """
    lines = sample.splitlines(keepends=True)[:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines.pop()  # the sample cut the last line short
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(row) == width for row in rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def describe_columns(header: Sequence[str]) -> str:
    """`phone, name, city` for messages; long headers are cut short."""
    shown = ", ".join(header[:20])
    return shown + (f" and {len(header) - 20} more" if len(header) > 20 else "")


def header_key(name: str) -> str:
    """A header name compared loosely: `Phone Number`, `phone_number` and `PHONE-NUMBER` match."""
    return re.sub(r"[\s_\-]", "", name).casefold()


class _HashingReader(io.RawIOBase):
    """Counts and hashes the bytes as the text layer reads them."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.count = 0
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        self.hash.update(data)
        return len(data)

    def drain(self) -> None:
        """Hash whatever the text layer has not asked for (nothing but trailing blank lines)."""
        while data := self._file.read(_READ_BUFFER):
            self.count += len(data)
            self.hash.update(data)


def _bounded_lines(text: io.TextIOWrapper, path: Path) -> Iterator[str]:
    """The file's lines, refusing one longer than MAX_LINE_CHARS (instead of holding it whole)
    and one holding a NUL."""
    readline = text.readline
    number = 0
    while line := readline(MAX_LINE_CHARS):
        number += 1
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise ImportFailed(
                f"{path} line {number}: the line is longer than {MAX_LINE_CHARS:,} characters; "
                "is this a CSV file?"
            )
        if "\0" in line:  # no database stores it in text; csv would pass it on
            raise ImportFailed(
                f"{path} line {number}: the line contains a NUL byte: is this a spreadsheet "
                "rather than CSV, or UTF-16 text (try --encoding utf-16)?"
            )
        yield line


def _read_header(source: CsvSource) -> tuple[str, ...]:
    first = next(source.records(), None)
    if first is None:
        raise ImportFailed(f"{source.path}: the file is empty; it needs a header row and data rows")
    header = tuple(value.strip() for value in first.values)
    where = source.where(first.line)
    for index, name in enumerate(header, start=1):
        if not name:
            raise ImportFailed(
                f"{where}: column {index} of the header has no name; every column needs one"
            )
        if _LOOKS_LIKE_NUMBER.match(name):
            raise ImportFailed(
                f"{where}: {name!r} looks like data, not a column name; the file needs a header "
                "row naming its columns (e.g. phone,name)"
            )
    seen: dict[str, int] = {}
    for index, name in enumerate(header, start=1):
        if name in seen:
            raise ImportFailed(
                f"{where}: header column {index} is named {name!r} like column {seen[name]}; "
                "each column needs its own name"
            )
        seen[name] = index
    return header


def _check_bom(path: Path, sample: bytes, encoding: str) -> None:
    if encoding != DEFAULT_ENCODING:
        return
    for bom, name in _FOREIGN_BOMS.items():
        if sample.startswith(bom):
            raise ImportFailed(
                f"{path} line 1: the file is {name}, not UTF-8: use --encoding {name}"
            )


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int]:
    """The offset and value of the first byte `encoding` cannot decode in the file."""
    with path.open("rb") as file:
        offset = 0
        if encoding == "utf-8-sig":  # its decoder reports positions after the BOM it strips
            encoding = "utf-8"
            offset = len(codecs.BOM_UTF8) if file.read(3) == codecs.BOM_UTF8 else 0
            file.seek(offset)
        decoder = codecs.getincrementaldecoder(encoding)()
        while chunk := file.read(_READ_BUFFER):
            pending = len(decoder.getstate()[0])  # bytes kept from the previous chunk
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start, exc.object[exc.start]
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset - len(exc.object) + exc.start, exc.object[exc.start]
    return offset, 0


def _count_newlines(path: Path, end: int) -> int:
    count = 0
    with path.open("rb") as file:
        while end > 0 and (chunk := file.read(min(_READ_BUFFER, end))):
            count += chunk.count(b"\n")
            end -= len(chunk)
    return count


def _unused(name: str, header: Sequence[str]) -> str:
    """`name`, or `reject_name` if the input already has a column called that."""
    while name in header:
        name = f"reject_{name}"
    return name


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
