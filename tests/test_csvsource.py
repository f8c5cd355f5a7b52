"""csvsource: dialect sniffing, encodings, row and line numbers, and the errors that name a line."""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import stat
from pathlib import Path

import pytest

from campaigner.csvsource import (
    MAX_LINE_CHARS,
    SNIFF_BYTES,
    Record,
    RejectsFile,
    check_encoding,
    header_key,
    open_csv,
    sniff_delimiter,
)
from campaigner.errors import ImportFailed, ValidationError


def write(tmp_path: Path, data: bytes | str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read_all(path: Path, encoding: str | None = None) -> tuple[tuple[str, ...], list[Record]]:
    with open_csv(path, encoding=encoding) as source:
        return source.header, list(source.records())


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("phone,name\n1,a\n", ","),
        ("phone;name\n1;a\n", ";"),
        ("phone\tname\n1\ta\n", "\t"),
        ("phone\n+1 212 555 0101\n", ","),  # one column: nothing to find
        ('phone;name\n1;"Smith, John"\n2;"Doe, Jane"\n', ";"),  # commas inside quotes
        ('"a,b";c\n"x,y";z\n', ";"),  # a quoted header name holding a comma
        ("phone,note\n1,a;b;c\n2,d\n", ","),  # stray semicolons in one value
        ("phone;name\n1;a\n2;b\n3;c\n4;d", ";"),  # last line cut short by the sample
    ],
)
def test_sniff_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


@pytest.mark.parametrize(
    ("name", "key"),
    [("Phone Number", "phonenumber"), ("phone_number", "phonenumber"), ("MSISDN", "msisdn")],
)
def test_header_key_ignores_case_spaces_underscores_and_dashes(name: str, key: str) -> None:
    assert header_key(name) == key
    assert header_key("PHONE-number") == "phonenumber"


def test_rows_and_lines_are_numbered_through_quoted_newlines_and_blank_rows(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        'phone,clinic\r\n1,"Main Street\nSecond floor"\r\n\r\n2,Lakeshore\r\n,\r\n3,End\r\n',
    )
    header, records = read_all(path)
    assert header == ("phone", "clinic")
    assert records == [
        Record(1, 2, ["1", "Main Street\nSecond floor"]),
        Record(2, 5, ["2", "Lakeshore"]),
        Record(3, 7, ["3", "End"]),
    ]


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        ("phone,name\n1,José\n".encode(), None, "José"),
        (codecs.BOM_UTF8 + "phone,name\n1,Zoë\n".encode(), None, "Zoë"),
        ("phone,name\n1,Jürgen\n".encode("cp1252"), "cp1252", "Jürgen"),
        ("phone,name\n1,Siobhán\n".encode("utf-16"), "utf-16", "Siobhán"),
    ],
)
def test_encodings(tmp_path: Path, data: bytes, encoding: str | None, expected: str) -> None:
    header, records = read_all(write(tmp_path, data), encoding)
    assert header == ("phone", "name")
    assert records == [Record(1, 2, ["1", expected])]


def test_the_header_is_stripped_and_the_bom_is_not_part_of_it(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8 + b" phone ; first name \n1;a\n")
    with open_csv(path) as source:
        assert source.header == ("phone", "first name")
        assert source.has_bom
        assert source.delimiter == ";"


def test_hash_and_bytes_read_cover_the_whole_file(tmp_path: Path) -> None:
    data = ("phone,name\n" + "".join(f"{n},x\n" for n in range(20_000)) + "\n\n").encode()
    path = write(tmp_path, data)
    with open_csv(path) as source:
        assert sum(1 for _ in source.records()) == 20_000
        assert source.sha256 == hashlib.sha256(data).hexdigest()
        assert source.bytes_read == source.size == len(data)


def failure(tmp_path: Path, data: bytes | str, encoding: str | None = None) -> str:
    path = write(tmp_path, data)
    with pytest.raises(ImportFailed) as raised:
        read_all(path, encoding)
    message = str(raised.value)
    assert message.startswith(f"{path} line ")
    return message.removeprefix(f"{path} ")


# A file whose line 3 has a byte that is not UTF-8, far into the file: the error must still name
# the right line, not the start of the chunk the decoder was reading.
_LATE_BAD_BYTE = b"phone,name\n" + b"".join(b"%d,x\n" % n for n in range(100_000)) + b"7,Jos\xe9\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"phone,name\n1,Ann\n2,Jos\xe9\n",
            "line 3: bytes are not valid UTF-8 (byte 0xe9 at offset 22); "
            "try --encoding cp1252 or --encoding latin-1",
        ),
        (
            codecs.BOM_UTF8 + b"phone,name\n2,Jos\xe9\n",
            "line 2: bytes are not valid UTF-8 (byte 0xe9 at offset 19); "
            "try --encoding cp1252 or --encoding latin-1",
        ),
        (
            _LATE_BAD_BYTE,
            f"line 100002: bytes are not valid UTF-8 (byte 0xe9 at offset "
            f"{len(_LATE_BAD_BYTE) - 2:,}); try --encoding cp1252 or --encoding latin-1",
        ),
        (
            b"phone,name\n1,Ann\n2,\xc3",  # the file ends inside a character
            "line 3: bytes are not valid UTF-8 (byte 0xc3 at offset 19); "
            "try --encoding cp1252 or --encoding latin-1",
        ),
        (
            'phone,name\n1,Ann\n2,"Bob\n3,Cy\n',
            'line 3: a quoted field starting in this row is never closed (its closing " is '
            "missing)",
        ),
        (
            'phone,name\n1,"Ann"x\n',
            "line 2: the row's quoting is malformed (',' expected after '\"'); quote a field "
            "that holds quotes",
        ),
        (
            b"phone,name\n1,A\x00nn\n",
            "line 2: the line contains a NUL byte: is this a spreadsheet rather than CSV, or "
            "UTF-16 text (try --encoding utf-16)?",
        ),
        (
            "phone,name\n1,Ann\n2," + "x" * (MAX_LINE_CHARS + 10) + "\n",
            f"line 3: the line is longer than {MAX_LINE_CHARS:,} characters; is this a CSV file?",
        ),
        (
            'phone,name\n1,Ann\n2,"' + "x\n" * (csv.field_size_limit() // 2 + 1),
            f"line 3: a field of the row starting here is longer than "
            f"{csv.field_size_limit():,} characters; is a quote left open?",
        ),
        (
            "codecs".encode("utf-16"),
            "line 1: the file is utf-16, not UTF-8: use --encoding utf-16",
        ),
        (
            "phone,,name\n1,2,3\n",
            "line 1: column 2 of the header has no name; every column needs one",
        ),
        (
            "phone,name,Name,name\n1,2,3,4\n",
            "line 1: header column 4 is named 'name' like column 2; each column needs its own name",
        ),
        (
            "+1 212 555 0101,Ann\n+1 212 555 0102,Bob\n",
            "line 1: '+1 212 555 0101' looks like data, not a column name; the file needs a "
            "header row naming its columns (e.g. phone,name)",
        ),
    ],
)
def test_errors_name_the_line(tmp_path: Path, data: bytes | str, expected: str) -> None:
    assert failure(tmp_path, data) == expected


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "\n\n")
    with pytest.raises(ImportFailed, match="the file is empty; it needs a header row"):
        read_all(path)


def test_a_file_that_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match=r"missing\.csv: cannot open: No such file"):
        read_all(tmp_path / "missing.csv")


def test_an_unknown_encoding_is_a_validation_error() -> None:
    assert check_encoding("CP1252") == "cp1252"
    with pytest.raises(ValidationError, match="encoding 'klingon' is not known"):
        check_encoding("klingon")


def test_a_wrong_encoding_names_the_encoding(tmp_path: Path) -> None:
    message = failure(tmp_path, "phone,name\n1,Jürgen\n".encode("cp1252"), "ascii")
    assert message == "line 2: bytes are not valid ascii (byte 0xfc at offset 14)"


def test_the_sniffer_sees_only_the_start_of_a_large_file(tmp_path: Path) -> None:
    row = "1;" + "x" * 100 + "\n"
    path = write(tmp_path, "phone;name\n" + row * (SNIFF_BYTES // len(row) + 10))
    with open_csv(path) as source:
        assert source.delimiter == ";"
        assert len(list(source.records())) == SNIFF_BYTES // len(row) + 10


def test_column_lookup_lists_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "phone,name\n1,a\n")
    with open_csv(path) as source:
        assert source.column("name") == 1
        with pytest.raises(
            ImportFailed, match="there is no column 'tz'; the header has phone, name"
        ):
            source.column("tz")


class TestRejectsFile:
    def rejects(self, tmp_path: Path, data: bytes | str) -> tuple[Path, list[list[str]]]:
        tmp_path = tmp_path / str(len(list(tmp_path.iterdir())))
        tmp_path.mkdir()
        source_path = write(tmp_path, data)
        target = tmp_path / "out.rejects.csv"
        with open_csv(source_path) as source:
            rejects = RejectsFile(target, source)
            rejects.write([(2, "bad number", ["x", "Ann"]), (5, "too many", ["1", "a", "extra"])])
            assert not target.exists()
            assert rejects.commit() == target
        with target.open(encoding="utf-8-sig", newline="") as file:
            return target, list(csv.reader(file, delimiter=source.delimiter))

    def test_row_and_reason_come_first_and_every_field_is_kept(self, tmp_path: Path) -> None:
        _, rows = self.rejects(tmp_path, "phone;name\n1;a\n")
        assert rows == [
            ["row", "reason", "phone", "name"],
            ["2", "bad number", "x", "Ann"],
            ["5", "too many", "1", "a", "extra"],
        ]

    def test_header_names_already_taken_are_not_reused(self, tmp_path: Path) -> None:
        _, rows = self.rejects(tmp_path, "phone,reason,row\n1,a,b\n")
        assert rows[0] == ["reject_row", "reject_reason", "phone", "reason", "row"]

    def test_a_bom_in_the_input_is_kept(self, tmp_path: Path) -> None:
        target, _ = self.rejects(tmp_path, codecs.BOM_UTF8 + b"phone,name\n1,a\n")
        assert target.read_bytes().startswith(codecs.BOM_UTF8)
        target, _ = self.rejects(tmp_path, b"phone,name\n1,a\n")
        assert not target.read_bytes().startswith(codecs.BOM_UTF8)

    def test_nothing_is_written_without_a_row_and_a_discard_leaves_nothing(
        self, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "phone,name\n1,a\n")
        with open_csv(path) as source:
            empty = RejectsFile(tmp_path / "empty.csv", source)
            empty.write([])
            assert empty.commit() is None
            discarded = RejectsFile(tmp_path / "discarded.csv", source)
            discarded.write([(1, "why", ["1", "a"])])
            discarded.discard()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]

    def test_a_named_pipe_is_written_into_and_kept(self, tmp_path: Path) -> None:
        """`--rejects /dev/null` or a pipe: written straight to, never replaced by a file."""
        path = write(tmp_path, "phone,name\n1,a\n")
        pipe = tmp_path / "rejects.pipe"
        os.mkfifo(pipe)
        reading = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # read once the rows fit its buffer
        try:
            with open_csv(path) as source:
                rejects = RejectsFile(pipe, source)
                rejects.write([(2, "bad number", ["x", "Ann"])])
                assert rejects.commit() == pipe
            received = os.read(reading, 1 << 16)
        finally:
            os.close(reading)
        assert received == b"row,reason,phone,name\r\n2,bad number,x,Ann\r\n"
        assert stat.S_ISFIFO(pipe.stat().st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv", "rejects.pipe"]
