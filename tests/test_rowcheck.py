"""The row checker: what it sends back for a batch, and that workers can load it cheaply."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from campaigner.rowcheck import RowChecker, Rows, csv_cells

HEADER = ("phone", "first_name", "timezone")


def checker() -> RowChecker:
    return RowChecker(
        header=HEADER,
        phone=0,
        tz=2,
        required=[("first_name", 1)],
        url=None,
        default_zone="America/New_York",
        region="US",
    )


def test_a_batch_gives_its_contacts_and_its_rejects_by_index() -> None:
    rows = [
        ["(212) 555-0101", " Ann ", ""],
        ["n/a", "Bob", ""],
        ["+44 20 7946 0018", "", ""],
        ["212-555-0102", "Cy", "Mars/Olympus"],
        ["212-555-0103", "Di"],
        ["+44 20 7946 0019", "Ed", "America/Chicago"],
    ]
    new, rejected = pickle.loads(pickle.dumps(checker()))(Rows(41, rows))
    ed = '{"first_name":"Ed","timezone":"America/Chicago"}'
    assert new == [
        (41, "+12125550101", "(212) 555-0101", '{"first_name":"Ann","timezone":""}',
         '"Ann",""', "America/New_York", "number"),
        (46, "+442079460019", "+44 20 7946 0019", ed, '"Ed","America/Chicago"',
         "America/Chicago", "column"),
    ]  # fmt: skip
    assert [index for index, _ in rejected] == [1, 2, 3, 4]
    assert [reason.split(":")[0] for _, reason in rejected] == [
        "phone",
        "first_name",
        "timezone",
        "too few fields",
    ]


@pytest.mark.parametrize(
    ("values", "cells"),
    [
        ([], ""),
        ([""], '""'),
        (["Ann", ""], '"Ann",""'),
        (['say "hi"', "a,b", "two\nlines"], '"say ""hi""","a,b","two\nlines"'),
        (["=1+2", "Ann", "+1", "-x", "@sum", "\tx", "\rx"],
         '"\'=1+2","Ann","\'+1","\'-x","\'@sum","\'\tx","\'\rx"'),
        (['="quoted"'], '"\'=""quoted"""'),
        (["a=1", " =x", "1-2"], '"a=1"," =x","1-2"'),
    ],
)  # fmt: skip
def test_a_contacts_csv_cells_are_quoted_and_neutralised(values: list[str], cells: str) -> None:
    assert csv_cells(values) == cells


def test_a_worker_loads_the_checker_without_what_a_database_needs() -> None:
    """Each worker process imports `campaigner.rowcheck` to unpickle the checker; SQLAlchemy and
    psycopg would cost it seconds of start-up on a busy machine."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, campaigner.rowcheck; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'psycopg'}))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert loaded.strip() == "[]"
