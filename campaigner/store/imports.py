"""Imports: a row per run of `campaigner import`, and the rows of each that were left out.

A run that completes is written in the same transaction as its contacts; a run that fails is
recorded afterwards, on its own, so that the operator can see it was tried and why it failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from ..db.schema import import_rejects, imports
from ..errors import NotFound
from .contacts import bulk_insert

_REJECT_COLUMNS = (
    "import_id",
    "campaign_id",
    "row_number",
    "line_number",
    "phone_raw",
    "reason",
    "is_duplicate",
    "fields",
)


class ImportStatus(StrEnum):
    RUNNING = "running"  # only ever seen inside the importing transaction
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class ImportCounts:
    """What became of the rows of a file; the four outcomes add up to `rows_read`."""

    rows_read: int = 0
    imported: int = 0
    duplicates: int = 0
    suppressed: int = 0
    rejected: int = 0

    def __post_init__(self) -> None:
        total = self.imported + self.duplicates + self.suppressed + self.rejected
        if total != self.rows_read:
            raise AssertionError(f"{self} does not add up: the outcomes total {total}")


@dataclass(frozen=True)
class ImportRun:
    """An `imports` row."""

    id: int
    campaign_id: int
    file_name: str
    file_sha256: str
    started_at: datetime
    finished_at: datetime | None
    counts: ImportCounts
    status: ImportStatus
    error: str | None


@dataclass(frozen=True)
class Reject:
    """A row that did not become a contact: rejected, or a duplicate of a number already in."""

    row_number: int  # data row, 1 = the first row after the header
    line_number: int  # physical line of the file where the row starts
    phone_raw: str | None
    reason: str
    is_duplicate: bool
    fields: Mapping[str, Any]  # the row as read, column -> value


def start_import(
    connection: Connection,
    campaign_id: int,
    file_name: str,
    fields: Sequence[str],
    started_at: datetime,
) -> int:
    """Record a run as `running`, with its file's columns less the phone column (`fields`, in
    file order); its hash and counts are filled in by `finish_import`."""
    return int(
        connection.execute(
            insert(imports)
            .values(
                campaign_id=campaign_id,
                file_name=file_name,
                file_sha256="",
                fields=list(fields),
                started_at=started_at,
                status=ImportStatus.RUNNING.value,
            )
            .returning(imports.c.id)
        ).scalar_one()
    )


def finish_import(
    connection: Connection,
    import_id: int,
    counts: ImportCounts,
    file_sha256: str,
    finished_at: datetime,
) -> None:
    connection.execute(
        update(imports)
        .where(imports.c.id == import_id)
        .values(
            file_sha256=file_sha256,
            finished_at=finished_at,
            status=ImportStatus.COMPLETED.value,
            **_counts_row(counts),
        )
    )


def record_failed_import(
    connection: Connection,
    campaign_id: int,
    file_name: str,
    file_sha256: str,
    error: str,
    started_at: datetime,
    finished_at: datetime,
) -> int:
    """Record a run that imported nothing, and why."""
    return int(
        connection.execute(
            insert(imports)
            .values(
                campaign_id=campaign_id,
                file_name=file_name,
                file_sha256=file_sha256,
                started_at=started_at,
                finished_at=finished_at,
                status=ImportStatus.FAILED.value,
                error=error,
            )
            .returning(imports.c.id)
        ).scalar_one()
    )


def reject_rows(
    import_id: int, campaign_id: int, rejects: Sequence[Reject]
) -> list[tuple[Any, ...]]:
    """`rejects` as `import_rejects` rows, ready for `add_reject_rows`."""
    return [
        (
            import_id,
            campaign_id,
            reject.row_number,
            reject.line_number,
            reject.phone_raw,
            reject.reason,
            reject.is_duplicate,
            json.dumps(reject.fields, ensure_ascii=False),
        )
        for reject in rejects
    ]


def add_reject_rows(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    bulk_insert(connection, import_rejects, _REJECT_COLUMNS, rows)


def get_import(connection: Connection, import_id: int) -> ImportRun:
    row = connection.execute(select(imports).where(imports.c.id == import_id)).mappings().first()
    if row is None:
        raise NotFound(f"no import #{import_id}")
    return _run_from_row(row)


def list_imports(connection: Connection, campaign_id: int) -> list[ImportRun]:
    """The campaign's runs, oldest first."""
    rows = connection.execute(
        select(imports).where(imports.c.campaign_id == campaign_id).order_by(imports.c.id)
    )
    return [_run_from_row(row) for row in rows.mappings()]


def completed_imports_of_file(
    connection: Connection, campaign_id: int, file_sha256: str
) -> list[int]:
    """The ids of the campaign's completed runs that read exactly these bytes, oldest first."""
    return list(
        connection.execute(
            select(imports.c.id)
            .where(
                imports.c.campaign_id == campaign_id,
                imports.c.file_sha256 == file_sha256,
                imports.c.status == ImportStatus.COMPLETED.value,
            )
            .order_by(imports.c.id)
        ).scalars()
    )


def list_rejects(connection: Connection, import_id: int) -> list[Reject]:
    """A run's rejected and duplicate rows, in file order."""
    rows = connection.execute(
        select(
            import_rejects.c.row_number,
            import_rejects.c.line_number,
            import_rejects.c.phone_raw,
            import_rejects.c.reason,
            import_rejects.c.is_duplicate,
            import_rejects.c.fields,
        )
        .where(import_rejects.c.import_id == import_id)
        .order_by(import_rejects.c.row_number)
    )
    return [Reject(*row) for row in rows]


def _counts_row(counts: ImportCounts) -> dict[str, int]:
    return {
        "rows_read": counts.rows_read,
        "imported": counts.imported,
        "duplicates": counts.duplicates,
        "suppressed": counts.suppressed,
        "rejected": counts.rejected,
    }


def _run_from_row(row: RowMapping) -> ImportRun:
    return ImportRun(
        id=row["id"],
        campaign_id=row["campaign_id"],
        file_name=row["file_name"],
        file_sha256=row["file_sha256"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counts=ImportCounts(
            rows_read=row["rows_read"],
            imported=row["imported"],
            duplicates=row["duplicates"],
            suppressed=row["suppressed"],
            rejected=row["rejected"],
        ),
        status=ImportStatus(row["status"]),
        error=row["error"],
    )
